/**
 * `apistack secrets init`: the Secrets the Kubernetes manifests name, with strong random values,
 * written once to a file outside dist/ (mode 0600) and never overwritten.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PROFILE, loadProfile } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';

export interface SecretsInitOptions {
  readonly target: string;
  readonly profile: string;
  readonly namespace?: string;
  readonly out?: string;
  readonly apply?: boolean;
}

/** Where the file goes when --out is not given: .apistack/ is git-ignored. */
export function defaultSecretsFile(namespace: string): string {
  return join('.apistack', 'secrets', `k8s-${namespace}.yaml`);
}

async function secretsInit(opts: SecretsInitOptions): Promise<string> {
  // Loaded here, not at the top: cdk8s takes a second that no other command needs.
  const { generateSecretValues, renderSecretsYaml } = await import('../../charts/index.ts');
  if (opts.target === 'aws') {
    throw new UserError('secrets init: the AWS target needs no step of its own: Secrets Manager generates every secret when the stack is deployed, and the template holds only references to them');
  }
  if (opts.target !== 'k8s') throw new UserError(`secrets init: unknown target "${opts.target}"; use --target k8s`);
  const profile = loadProfile(opts.profile);
  const namespace = profile.kubernetes.namespace;
  if (opts.namespace !== undefined && opts.namespace !== namespace) {
    throw new UserError(
      `--namespace ${opts.namespace} differs from kubernetes.namespace "${namespace}" of profile ${profile.name}: the pods read their Secrets from their own namespace; ` +
        `set kubernetes.namespace: ${opts.namespace} in a profile file (extends: ${profile.name}) and pass that profile to both synth and secrets init`,
    );
  }
  const file = opts.out ?? defaultSecretsFile(namespace);
  const dist = resolve('dist');
  if (resolve(file).startsWith(`${dist}${sep}`)) {
    throw new UserError(`--out ${file} is inside dist/, which holds synthesized files meant to be shared and rebuilt; keep Secrets out of it (default: ${defaultSecretsFile(namespace)})`);
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx': created here or not at all, so an existing file (and the values a cluster already uses) is never replaced.
    writeFileSync(file, renderSecretsYaml(profile, generateSecretValues(profile)), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    throw new UserError(
      `${file} exists; secrets init never overwrites Secrets (Postgres keeps the password its data directory was created with). ` +
        `To rotate a value, change it where it is used first (Postgres: ALTER ROLE apistack PASSWORD '...'), then edit ${file}, kubectl apply -f ${file} and restart the pods that read it. ` +
        `For a new cluster, pass another --out, or delete ${file} and run secrets init again.`,
    );
  }
  return file;
}

/** `kubectl create` (not apply): it refuses a Secret that already exists instead of replacing it. */
function kubectlCreate(file: string): void {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new UserError(`--apply needs kubectl on PATH; ${file} is written: create them where kubectl reaches the cluster with kubectl create -f ${file}`);
  }
  const r = spawnSync('kubectl', ['create', '-f', file], { stdio: 'inherit' });
  if (r.status !== 0) {
    throw new UserError(`kubectl create -f ${file} failed (exit ${r.status ?? r.signal}); a Secret that already exists in the namespace is left as it is (see kubectl's message above)`);
  }
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('the Secrets the manifests name but never contain');
  secrets
    .command('init')
    .description('generate strong random values for every Secret the Kubernetes manifests reference and write them once to a file outside dist/ (mode 0600); never overwrites')
    .option('-t, --target <target>', 'k8s', 'k8s')
    .option('-p, --profile <profile>', 'built-in name or profile file', DEFAULT_PROFILE)
    .option('-n, --namespace <namespace>', "the profile's kubernetes.namespace (a check: the Secrets must live where the pods run)")
    .option('-o, --out <file>', 'output file (default .apistack/secrets/k8s-NAMESPACE.yaml)')
    .option('--apply', 'also create them in the current kubectl context with kubectl create, which never replaces an existing Secret')
    .action(async (opts: SecretsInitOptions) => {
      const file = await secretsInit(opts);
      console.log(`wrote ${file} (mode 0600; keep it out of git${opts.out === undefined ? ': .apistack/ is git-ignored' : ''})`);
      if (opts.apply) {
        kubectlCreate(file);
        return;
      }
      console.log('next, once the namespace exists (kubectl apply -f dist/k8s/00-namespace.yaml):');
      console.log(`  kubectl create -f ${file}   # create, not apply: it never replaces a Secret the cluster already has`);
      console.log('then the rest: kubectl apply -f dist/k8s/');
    });
}
