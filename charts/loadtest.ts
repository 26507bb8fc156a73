/**
 * A load test in the cluster, written only when asked (`synth --loadtest SCENARIO`, file
 * 90-loadtest.yaml): the scenario's k6 scripts in a ConfigMap; a setup Job that seeds once per run
 * and fills the `loadtest-fixtures` Secret; an Indexed Job of `parallelism` k6 runners that wait
 * for those fixtures, each taking its share of the load and remote-writing its metrics to the
 * stack's Prometheus, where one verdict is computed across all of them; and the NetworkPolicies
 * that let these pods reach nginx and Prometheus (the setup pod: the Kubernetes API) and nothing else.
 */
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { FIXTURES_DIR, FIXTURES_KEY, FIXTURES_PATH, K6_ENV, needsSetup, renderK6Script, renderK6SetupScript, runnersOf, runSeconds, SERVICE_ACCOUNT_DIR, SETUP_MAX_MINUTES, STACK_READY_MAX_MINUTES } from '../lib/loadtest/k6.ts';
import type { Scenario } from '../lib/loadtest/scenario.ts';
import { K6_NATIVE_HISTOGRAM_ENV, K6_TREND_STATS_ENV } from '../lib/monitoring/index.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { LOADTEST_RESOURCES, PORTS } from '../lib/profile/workloads.ts';
import { container, emptyDir, IMAGES, meta, selector, workloadProps } from './common.ts';
import { indexedParallelJob, policyOpenToAnyPeer, seccompRuntimeDefault } from './patches.ts';
import { secretEnv } from './secrets.ts';

export const LOADTEST_RUNNERS = 'loadtest';
export const LOADTEST_SETUP = 'loadtest-setup';
export const LOADTEST_FIXTURES_SECRET = 'loadtest-fixtures';
export const LOADTEST_SCRIPTS = 'loadtest-scripts';
const SCRIPTS_DIR = '/scripts';
/** Re-exported for the chart's tests and readers: the wait is defined with the other load-test deadlines. */
export { STACK_READY_MAX_MINUTES };
/** Setup attempts after the first: each runs only once the stack is ready, so a failure is worth one more try. */
export const SETUP_RETRIES = 2;
/** Runners' time beyond their waits and the scenario itself (pod start, k6's graceful stop, the last remote write). */
const RUNNER_MARGIN_SECONDS = 300;

/**
 * An init container that polls the stack's readiness through nginx, as the load will arrive, and
 * gives up after STACK_READY_MAX_MINUTES with a message (the pod, and so the Job, then fails).
 * busybox `wget` (the k6 image is Alpine) exits non-zero on anything but a 2xx.
 */
function waitForStack(p: ResolvedProfile): kplus.ContainerProps {
  const url = `${loadTestTargetUrl(p)}/readyz`;
  const script = [
    `deadline=$(( $(date +%s) + ${STACK_READY_MAX_MINUTES * 60} ))`,
    `until wget -q -O /dev/null -T 2 ${url}; do`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "the stack did not become ready within ${STACK_READY_MAX_MINUTES} minutes: ${url} never answered 200" >&2; exit 1; fi`,
    '  sleep 2',
    'done',
  ].join('\n');
  return container({ ...LOADTEST_RESOURCES.wait, name: 'wait-for-stack' }, { image: IMAGES.k6, command: ['sh', '-c', script] });
}

/** The base URL the runners load: nginx's Service, by full DNS name (the plain-HTTP one when the public Service sends PROXY protocol). */
export function loadTestTargetUrl(p: ResolvedProfile): string {
  return `http://${p.kubernetes.awsNlbAnnotations ? 'nginx-internal' : 'nginx'}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}`;
}

/** Prometheus's remote-write receiver (self-hosted only: the chart enables it with --web.enable-remote-write-receiver). */
export function remoteWriteUrl(p: ResolvedProfile): string {
  return `http://prometheus.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}:${PORTS.prometheus}/api/v1/write`;
}

/** The longest runners wait before the load starts: for the stack, then for a setup to finish. */
export function runnerWaitSeconds(setup: boolean): number {
  return (STACK_READY_MAX_MINUTES + (setup ? SETUP_MAX_MINUTES : 0)) * 60;
}

export interface LoadTestChartProps {
  readonly profile: ResolvedProfile;
  readonly scenario: Scenario;
}

export class LoadTestChart extends Chart {
  constructor(scope: Construct, id: string, props: LoadTestChartProps) {
    const p = props.profile;
    const s = props.scenario;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const ns = p.kubernetes.namespace;
    const runners = runnersOf(s);
    const setup = needsSetup(s);
    // With the Prometheus Operator apistack runs no Prometheus, so there is no receiver it knows of.
    const remoteWrite = !p.monitoring.prometheusOperator;

    const scripts = new kplus.ConfigMap(this, 'scripts', {
      metadata: meta(LOADTEST_SCRIPTS, LOADTEST_RUNNERS),
      data: { 'run.js': renderK6Script(s), ...(setup ? { 'setup.js': renderK6SetupScript(s, { store: 'kubernetes-secret' }) } : {}) },
    });
    const scriptsMount = (suffix: string): kplus.VolumeMount => ({ path: SCRIPTS_DIR, readOnly: true, volume: kplus.Volume.fromConfigMap(this, `scripts-volume-${suffix}`, scripts, { name: 'scripts' }) });
    const target = kplus.EnvValue.fromValue(loadTestTargetUrl(p));

    let fixtures: kplus.Secret | undefined;
    if (setup) {
      // Empty here; the setup Job fills it. Deleting this file's objects deletes the fixtures too.
      fixtures = new kplus.Secret(this, 'fixtures', { metadata: meta(LOADTEST_FIXTURES_SECRET, LOADTEST_SETUP) });
      const account = new kplus.ServiceAccount(this, 'setup-sa', { metadata: meta(LOADTEST_SETUP), automountToken: false });
      const role = new kplus.Role(this, 'setup-role', { metadata: meta(LOADTEST_SETUP) });
      // That one Secret, read and patched: nothing else in the namespace.
      role.allow(['get', 'patch'], fixtures);
      new kplus.RoleBinding(this, 'setup-binding', { metadata: meta(LOADTEST_SETUP), role }).addSubjects(account);

      const setupJob = new kplus.Job(this, 'setup', {
        ...workloadProps(LOADTEST_SETUP),
        serviceAccount: account,
        // It PATCHes the fixtures Secret with its token: the one load-test pod that mounts it.
        automountServiceAccountToken: true,
        restartPolicy: kplus.RestartPolicy.NEVER,
        // It starts once the stack serves, so what fails it is transient: retry, within one deadline
        // for the wait and a whole setup. A retry seeds afresh; the fixtures are its own.
        backoffLimit: SETUP_RETRIES,
        activeDeadline: Duration.minutes(STACK_READY_MAX_MINUTES + SETUP_MAX_MINUTES),
        initContainers: [waitForStack(p)],
        containers: [
          container(LOADTEST_RESOURCES.setup, {
            image: IMAGES.k6,
            args: ['run', `${SCRIPTS_DIR}/setup.js`],
            envVariables: {
              [K6_ENV.targetUrl]: target,
              [K6_ENV.adminToken]: secretEnv(this, p, 'adminToken'),
              [K6_ENV.fixturesSecretUrl]: kplus.EnvValue.fromValue(`https://kubernetes.default.svc/api/v1/namespaces/${ns}/secrets/${LOADTEST_FIXTURES_SECRET}`),
              // Go's TLS (k6) trusts the roots in this file: the cluster CA, for the Kubernetes API.
              SSL_CERT_FILE: kplus.EnvValue.fromValue(`${SERVICE_ACCOUNT_DIR}/ca.crt`),
            },
            volumeMounts: [scriptsMount('setup'), { path: '/tmp', volume: emptyDir(this, 'setup-tmp') }],
          }),
        ],
      });
      seccompRuntimeDefault(setupJob);
    }

    const fixturesVolume = fixtures ? kplus.Volume.fromSecret(this, 'fixtures-volume', fixtures, { name: 'fixtures' }) : undefined;
    const seconds = runSeconds(s);
    const job = new kplus.Job(this, 'runners', {
      ...workloadProps(LOADTEST_RUNNERS),
      restartPolicy: kplus.RestartPolicy.NEVER,
      // A runner that fails its thresholds exits non-zero: the Job fails instead of running the load again.
      backoffLimit: 0,
      // The scenario, plus the longest waits before it: the stack, then the setup.
      ...(seconds !== undefined ? { activeDeadline: Duration.seconds(Math.ceil(seconds) + runnerWaitSeconds(setup) + RUNNER_MARGIN_SECONDS) } : {}),
      initContainers: [
        waitForStack(p),
        ...(fixturesVolume
          ? [
              container(LOADTEST_RESOURCES.wait, {
                image: IMAGES.k6,
                // The Secret is mounted from the start and updated in place when the setup fills it.
                command: ['sh', '-c', `until [ -s ${FIXTURES_PATH} ]; do sleep 2; done`],
                volumeMounts: [{ path: FIXTURES_DIR, readOnly: true, volume: fixturesVolume }],
              }),
            ]
          : []),
      ],
      containers: [
        container(LOADTEST_RESOURCES.runner, {
          image: IMAGES.k6,
          args: ['run', ...(remoteWrite ? ['-o', 'experimental-prometheus-rw'] : []), `${SCRIPTS_DIR}/run.js`],
          envVariables: {
            [K6_ENV.targetUrl]: target,
            // Each runner's metrics carry its pod name, so the runners' series never collide.
            [K6_ENV.runnerId]: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
            ...(fixturesVolume ? { [K6_ENV.fixturesFile]: kplus.EnvValue.fromValue(`${FIXTURES_DIR}/${FIXTURES_KEY}`) } : {}),
            ...(remoteWrite
              ? {
                  K6_PROMETHEUS_RW_SERVER_URL: kplus.EnvValue.fromValue(remoteWriteUrl(p)),
                  K6_PROMETHEUS_RW_TREND_STATS: kplus.EnvValue.fromValue(K6_TREND_STATS_ENV),
                  // Latencies as native histograms: the run's percentiles over every runner (lib/monitoring/metrics.ts).
                  ...Object.fromEntries(Object.entries(K6_NATIVE_HISTOGRAM_ENV).map(([k, v]) => [k, kplus.EnvValue.fromValue(v)])),
                }
              : {}),
          },
          volumeMounts: [scriptsMount('runners'), ...(fixturesVolume ? [{ path: FIXTURES_DIR, readOnly: true, volume: fixturesVolume }] : []), { path: '/tmp', volume: emptyDir(this, 'runners-tmp') }],
        }),
      ],
    });
    indexedParallelJob(job, runners);
    seccompRuntimeDefault(job);

    // Every pod already reaches DNS (allow-dns) and nginx takes traffic from anywhere; these add the load-test pods' own flows.
    const pods = (name: string) => kplus.Pods.select(this, `pods-${name}`, { labels: selector(name) });
    const nginx = pods('nginx');
    const policyProps = (name: string, podSelector: kplus.IPodSelector) => ({ metadata: { ...meta(name, 'apistack'), namespace: ns }, selector: podSelector });
    const tcp = (port: number) => [kplus.NetworkPolicyPort.tcp(port)];
    const runnerPods = pods(LOADTEST_RUNNERS);
    const runnerPolicy = new kplus.NetworkPolicy(this, 'runners-policy', policyProps(LOADTEST_RUNNERS, runnerPods));
    runnerPolicy.addEgressRule(nginx, tcp(PORTS.nginx));
    if (remoteWrite) {
      const prometheus = pods('prometheus');
      runnerPolicy.addEgressRule(prometheus, tcp(PORTS.prometheus));
      new kplus.NetworkPolicy(this, 'remote-write-policy', policyProps('prometheus-remote-write', prometheus)).addIngressRule(runnerPods, tcp(PORTS.prometheus));
    }
    if (setup) {
      // The Kubernetes API (the fixtures Secret), wherever the cluster runs it, and nginx.
      policyOpenToAnyPeer(this, 'setup-policy', policyProps(LOADTEST_SETUP, pods(LOADTEST_SETUP)), 'egress', [kplus.NetworkPolicyPort.tcp(443), kplus.NetworkPolicyPort.tcp(6443)]).addEgressRule(nginx, tcp(PORTS.nginx));
    }
  }
}
