/**
 * The nginx the images run, for the tests: the container configs use upstream `resolve`
 * (nginx >= 1.27.3), which the system's Debian stable nginx lacks. .ci/install-nginx.sh unpacks
 * a current one into /var/cache/apistack; this finds it, and runs it on container configs moved
 * onto loopback (ports, the temp directory, a stub DNS resolver).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PINNED_NGINX_VERSION, versionAtLeast } from '../../nginx/index.ts';

const INSTALL = 'bash .ci/install-nginx.sh';

function versionOf(bin: string): string | undefined {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`)?.[1];
}

let located: string | undefined;

/**
 * Path of an nginx at least as new as the image's pin: $APISTACK_NGINX, or the newest under
 * $APISTACK_CACHE_DIR (default /var/cache/apistack). Throws naming the install script otherwise.
 */
export function currentNginx(): string {
  if (located) return located;
  const candidates: string[] = [];
  if (process.env.APISTACK_NGINX) candidates.push(process.env.APISTACK_NGINX);
  const cache = process.env.APISTACK_CACHE_DIR ?? '/var/cache/apistack';
  if (existsSync(cache)) {
    for (const d of readdirSync(cache).filter((n) => n.startsWith('nginx-')).sort().reverse()) candidates.push(join(cache, d, 'nginx'));
  }
  const seen: string[] = [];
  for (const bin of candidates) {
    const version = existsSync(bin) ? versionOf(bin) : undefined;
    seen.push(`${bin}: ${version ?? 'does not run'}`);
    if (version && versionAtLeast(version, PINNED_NGINX_VERSION)) return (located = bin);
  }
  throw new Error(
    `no nginx >= ${PINNED_NGINX_VERSION} (the image's pin) for the tests${seen.length ? ` (found ${seen.join('; ')})` : ''}: run \`${INSTALL}\` (it installs one into /var/cache/apistack), or set APISTACK_NGINX to one`,
  );
}

export interface LoopbackPorts {
  readonly listen: number;
  readonly status: number;
  readonly internal?: number;
}

/** Replace `from` by `to` in `text`; fails when `from` is absent, so a renderer change cannot make a test vacuous. */
function must(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from instanceof RegExp ? new RegExp(from.source, from.flags.includes('g') ? from.flags : `${from.flags}g`) : new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), to);
  if (next === text) throw new Error(`the rendered config no longer contains ${String(from)}`);
  return next;
}

/**
 * A rendered Kubernetes or AWS config, runnable on loopback: listen ports → 127.0.0.1 ports,
 * /tmp → `tempDir`, the logs → files in `logDir`, the resolver → the stub DNS.
 */
export function onLoopback(
  conf: string,
  opts: { tempDir: string; logDir: string; ports: LoopbackPorts; container: { listen: number; status: number; internal?: number }; resolver: string; upstreamPort?: { from: number; to: number } },
): string {
  let text = conf;
  if (opts.upstreamPort) text = must(text, `:${opts.upstreamPort.from} resolve `, `:${opts.upstreamPort.to} resolve `);
  text = must(text, new RegExp(`listen ${opts.container.listen}( proxy_protocol)?;`), `listen 127.0.0.1:${opts.ports.listen}$1;`);
  text = must(text, `listen ${opts.container.status};`, `listen 127.0.0.1:${opts.ports.status};`);
  if (opts.container.internal !== undefined && opts.ports.internal !== undefined && text.includes(`listen ${opts.container.internal};`)) text = must(text, `listen ${opts.container.internal};`, `listen 127.0.0.1:${opts.ports.internal};`);
  text = must(text, /(\s)\/tmp\//, `$1${opts.tempDir}/`);
  text = must(text, '/dev/stderr', join(opts.logDir, 'error.log'));
  if (text.includes('/dev/stdout')) text = must(text, '/dev/stdout', join(opts.logDir, 'access.log'));
  text = must(text, /resolver \S+ valid=/, `resolver ${opts.resolver} valid=`);
  return text;
}

/** `nginx -t` with the current nginx. */
export function currentNginxTest(confFile: string, prefix: string): { ok: boolean; output: string } {
  const r = spawnSync(currentNginx(), ['-t', '-p', `${prefix}/`, '-c', confFile, '-e', join(prefix, 'nginx-t.log')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

export interface RunningNginx {
  readonly proc: ChildProcess;
  /** What nginx wrote to stderr and its error log so far. */
  output(): string;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Start the current nginx on `confFile` in the foreground, as root or (`uid`) as that uid and
 * gid with no supplementary groups, as a container's USER runs it. Resolves once `waitPort`
 * accepts, rejects with nginx's output when it exits first.
 */
export async function startCurrentNginx(opts: { confFile: string; prefix: string; errorLog: string; waitPort: number; uid?: number }): Promise<RunningNginx> {
  const nginxArgs = ['-p', `${opts.prefix}/`, '-c', opts.confFile, '-e', opts.errorLog, '-g', 'daemon off;'];
  const [cmd, args] = opts.uid === undefined ? [currentNginx(), nginxArgs] : ['setpriv', [`--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', currentNginx(), ...nginxArgs]];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stdout!.on('data', (b: Buffer) => (stderr += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const output = () => `${stderr}${existsSync(opts.errorLog) ? readFileSync(opts.errorLog, 'utf8') : ''}`;
  let exited: number | null | undefined;
  const gone = new Promise<void>((resolve) => proc.on('exit', (code) => ((exited = code), resolve())));
  const stop = async () => {
    if (exited === undefined) {
      proc.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (exited === undefined) proc.kill('SIGKILL');
    }
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`nginx exited (${exited}) before listening:\n${output()}`);
    if (await portOpen(opts.waitPort)) return { proc, output, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`nginx did not listen on 127.0.0.1:${opts.waitPort} within 15 s:\n${output()}`);
}

/** Write `text` to `dir/name` and return the path. */
export function writeConf(dir: string, text: string, name = 'nginx.conf'): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}
