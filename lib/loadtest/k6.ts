/**
 * The scenario as k6 scripts, for runners in a cluster (a Kubernetes Job, ECS tasks): pure text
 * renderers, like the nginx and Prometheus ones. A run is two scripts:
 *
 * - the setup script runs ONCE per run (one pod, one task, one VU, one iteration): it seeds the
 *   users and API keys the scenario reads and writes with, then publishes them (user id ranges and
 *   keys, the "fixtures") to a store the platform gives the runners at start: a Kubernetes Secret
 *   the runner pods mount, or a Secrets Manager secret ECS injects. Runners never seed.
 * - the runner script is the load itself, run by N runners at once (`parallelism`). Each takes its
 *   share of the connections and of the rate, so the N together give the scenario's totals, and
 *   tags its metrics with its own `runner` label, so their series never collide in Prometheus.
 *
 * The scripts read their deployment (target URL, admin token, where the fixtures are) from the
 * environment at run time (K6_ENV), so the same text runs on every target.
 */
import { UserError } from '../errors.ts';
import { scenarioDurationSeconds, warmupSecondsOf, type RequestKind, type Scenario, type Thresholds } from './scenario.ts';

/** k6's `testid` tag of a scenario's runners: what the load-test dashboard selects by. */
export function k6TestId(s: Scenario): string {
  return s.name;
}

/**
 * The k6 scenario (so the `scenario` label of every metric) of the measured run: the scenario's
 * own name. Its warm-up runs first as another k6 scenario, `<name>-warmup`, so warm-up requests
 * are labelled apart and every total, percentile and verdict selects `scenario="<name>"`.
 */
export const k6MeasuredScenario = (s: Scenario): string => s.name;
export const k6WarmupScenario = (s: Scenario): string => `${s.name}-warmup`;

/** Environment variables the scripts read; the targets set them. */
export const K6_ENV = Object.freeze({
  /** Base URL of the stack (nginx or the load balancer), e.g. http://nginx.apistack.svc.cluster.local. */
  targetUrl: 'TARGET_URL',
  /** Setup only: the API's admin token (POST /api/keys). */
  adminToken: 'ADMIN_TOKEN',
  /** Runner: its index among the N runners, 0..N-1 (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX instead). */
  runnerIndex: 'RUNNER_INDEX',
  /** Runner: a name unique to this runner (the pod name); the `runner` label of its metrics. */
  runnerId: 'RUNNER_ID',
  /** Runner: the fixtures as JSON (ECS injects them from Secrets Manager)... */
  fixtures: 'LOADTEST_FIXTURES',
  /** ...or the file holding them (the mounted Kubernetes Secret). @default FIXTURES_PATH */
  fixturesFile: 'LOADTEST_FIXTURES_FILE',
  /** Setup on Kubernetes: the Secret's URL on the Kubernetes API, which the setup PATCHes. */
  fixturesSecretUrl: 'FIXTURES_SECRET_URL',
  /** Setup on AWS: the Secrets Manager secret (ARN) and its region. */
  fixturesSecretId: 'FIXTURES_SECRET_ID',
  fixturesRegion: 'FIXTURES_REGION',
});

/** The key (file name) of the fixtures in the Secret, and where runner pods mount it. */
export const FIXTURES_KEY = 'fixtures.json';
export const FIXTURES_DIR = '/fixtures';
export const FIXTURES_PATH = `${FIXTURES_DIR}/${FIXTURES_KEY}`;
/** Where a pod finds its service account token (the setup PATCHes the Secret with it). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Users per POST /api/users/bulk: a 5,000-row body is ~350 kB, far below nginx's client_max_body_size and the app's 10,000-row limit. */
export const USER_BATCH = 5000;
/** The longest the one-off setup (seeding users and keys) may run, on every platform that runs it. */
export const SETUP_MAX_MINUTES = 30;
/**
 * The longest a cluster load-test pod waits for the stack to serve (`/readyz` through nginx answers
 * 200: nginx, an API pod and its schema are up) when applied together with it: Postgres' startup
 * probe allows 2 minutes, the API's 1, and a new node pulls the images first.
 */
export const STACK_READY_MAX_MINUTES = 10;
/** POST /api/keys requests in flight at once during setup. */
export const KEY_BATCH = 20;

/**
 * Built-in tags k6 keeps as labels: `url` is left out (one series per user id would flood
 * Prometheus; requests carry a `name` instead), as are `error` (free text) and connection details.
 */
export const K6_SYSTEM_TAGS = ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code', 'check', 'group'] as const;

/** The request a kind makes, as the `name` tag of its metrics. */
export const REQUEST_NAMES: Readonly<Record<RequestKind, string>> = Object.freeze({
  status: 'GET /api/status',
  read: 'GET /api/users/:id',
  write: 'POST /api/events',
});

export function needsSetup(s: Scenario): boolean {
  return (s.setup?.users ?? 0) > 0 || (s.setup?.apiKeys ?? 0) > 0;
}

export function runnersOf(s: Scenario): number {
  return s.parallelism ?? 1;
}

/** k6 duration text: whole seconds as "20s", anything finer in milliseconds. */
export function k6Duration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

/**
 * k6 thresholds for one runner. Percentile and error-rate limits hold for the whole run when they
 * hold for every runner (if each runner has 95% of its requests under L, so has the run); the
 * throughput floor is split over the runners. With a warm-up, latency and errors are judged on the
 * measured scenario's requests alone (a k6 sub-metric); throughput stays over every request of
 * the run's whole length, which the warm-up leaves about the same.
 */
export function k6Thresholds(t: Thresholds, parallelism = 1, measuredScenario?: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const measured = (metric: string) => (measuredScenario === undefined ? metric : `${metric}{scenario:${measuredScenario}}`);
  const duration = ([['p50Ms', 50], ['p95Ms', 95], ['p99Ms', 99]] as const).filter(([k]) => t[k] !== undefined).map(([k, q]) => `p(${q})<${t[k]}`);
  if (duration.length > 0) out[measured('http_req_duration')] = duration;
  if (t.errorRatePercent !== undefined) out[measured('http_req_failed')] = [`rate<${round(t.errorRatePercent / 100)}`];
  if (t.minRequestsPerSecond !== undefined) out.http_reqs = [`rate>=${round(t.minRequestsPerSecond / parallelism)}`];
  return out;
}

function round(x: number): number {
  return Number(x.toPrecision(12));
}

/**
 * The mix as a repeating schedule of request kinds: weights scaled to whole slots (at most 1,000),
 * spread by smooth weighted round robin (nginx's algorithm), so every window of the schedule holds
 * the kinds in their ratio instead of in runs of one kind.
 */
export function mixSchedule(mix: Scenario['mix']): RequestKind[] {
  const total = mix.reduce((s, m) => s + m.weight, 0);
  const exact = total <= 1000 && mix.every((m) => Number.isInteger(m.weight));
  const slots = mix.map((m) => (exact ? m.weight : Math.max(1, Math.round((m.weight / total) * 1000))));
  const divisor = slots.reduce(gcd);
  const weights = slots.map((w) => w / divisor);
  const length = weights.reduce((a, b) => a + b, 0);
  const current = weights.map(() => 0);
  const schedule: RequestKind[] = [];
  for (let i = 0; i < length; i++) {
    weights.forEach((w, j) => (current[j]! += w));
    let best = 0;
    current.forEach((c, j) => {
      if (c > current[best]!) best = j;
    });
    current[best]! -= length;
    schedule.push(mix[best]!.kind);
  }
  return schedule;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Refuses what the runners cannot split or express, with the field and the fix. */
function checkSplit(s: Scenario, n: number): void {
  const problems: string[] = [];
  if (s.connections < n) problems.push(`connections (${s.connections}) is less than parallelism (${n}): every runner needs at least one connection; raise connections or lower parallelism`);
  s.stages?.forEach((st, i) => {
    if (st.connections < n) problems.push(`stages[${i}].connections (${st.connections}) is less than parallelism (${n}): every runner needs at least one connection in every stage`);
  });
  if (s.requests !== undefined && s.requests < n) problems.push(`requests (${s.requests}) is less than parallelism (${n}): every runner needs at least one request`);
  const warmup = warmupSecondsOf(s);
  if (warmup > 0 && warmup < 1) problems.push(`warmupSeconds (${warmup}) is below k6's shortest scenario (1 s): use 0 or at least 1`);
  if (s.rate !== undefined && s.stages !== undefined) problems.push('rate and stages together: the k6 runners ramp connections (ramping-vus) or hold a fixed rate (constant-arrival-rate), not both; drop one');
  if (problems.length > 0) throw new UserError(`scenario ${s.name} cannot run on ${n} k6 runner${n === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}

/** `rate` starts per `timeUnit`: r per N seconds is r/N per second, exactly, for each of the N runners. */
function arrivalRateJs(rate: number, n: number): string {
  return Number.isInteger(rate) ? `rate: ${rate}, timeUnit: '${n}s'` : `rate: ${Math.round(rate * 1000)}, timeUnit: '${n * 1000}s'`;
}

/** The k6 scenario (executor) of one runner, as JavaScript: `share(x)` is this runner's part of x. */
function executorJs(s: Scenario, n: number): string {
  if (s.rate !== undefined) {
    const seconds = s.durationSeconds ?? s.requests! / s.rate;
    return `{ executor: 'constant-arrival-rate', ${arrivalRateJs(s.rate, n)}, duration: '${k6Duration(seconds)}', preAllocatedVUs: share(${s.connections}), maxVUs: share(${s.connections}) }`;
  }
  if (s.stages) {
    // Each stage holds its connections: a one-second step to the new level, then the rest of the stage.
    const steps = s.stages.flatMap((st, i) => {
      if (i === 0) return [`{ duration: '${k6Duration(st.durationSeconds)}', target: share(${st.connections}) }`];
      const step = Math.min(1, st.durationSeconds);
      const rest = st.durationSeconds - step;
      return [`{ duration: '${k6Duration(step)}', target: share(${st.connections}) }`, ...(rest > 0 ? [`{ duration: '${k6Duration(rest)}', target: share(${st.connections}) }`] : [])];
    });
    return `{ executor: 'ramping-vus', startVUs: share(${s.stages[0]!.connections}), gracefulRampDown: '0s', stages: [${steps.join(', ')}] }`;
  }
  if (s.requests !== undefined) {
    return `{ executor: 'shared-iterations', vus: Math.min(share(${s.connections}), share(${s.requests})), iterations: share(${s.requests}), maxDuration: '6h' }`;
  }
  return `{ executor: 'constant-vus', vus: share(${s.connections}), duration: '${k6Duration(s.durationSeconds!)}' }`;
}

/**
 * The warm-up as its own k6 scenario, before the measured one starts (`startTime`): the first
 * stage's connections, or the scenario's rate, held for the warm-up's length. It stops at once
 * (`gracefulStop: 0s`): with k6's default 30 s it would overlap the measured scenario, and k6
 * would allocate both scenarios' VUs; a request it cuts short is a warm-up request, in no total.
 */
function warmupExecutorJs(s: Scenario, n: number, seconds: number): string {
  if (s.rate !== undefined) {
    return `{ executor: 'constant-arrival-rate', ${arrivalRateJs(s.rate, n)}, duration: '${k6Duration(seconds)}', preAllocatedVUs: share(${s.connections}), maxVUs: share(${s.connections}), gracefulStop: '0s' }`;
  }
  return `{ executor: 'constant-vus', vus: share(${s.stages?.[0]?.connections ?? s.connections}), duration: '${k6Duration(seconds)}', gracefulStop: '0s' }`;
}

/** The k6 scenarios of one runner: the warm-up (if any), then the measured run. */
function scenariosJs(s: Scenario, n: number): string {
  const warmup = warmupSecondsOf(s);
  const measured = executorJs(s, n);
  if (warmup <= 0) return `{ '${k6MeasuredScenario(s)}': ${measured} }`;
  return `{ '${k6WarmupScenario(s)}': ${warmupExecutorJs(s, n, warmup)}, '${k6MeasuredScenario(s)}': ${measured.replace(/ }$/, `, startTime: '${k6Duration(warmup)}' }`)} }`;
}

const HEADER = (s: Scenario, what: string) =>
  [`// apistack load test "${s.name}" (${what}): rendered by lib/loadtest/k6.ts from the scenario; do not edit.`, `// ${s.description}`];

const TARGET_JS = [
  `const TARGET = (__ENV.${K6_ENV.targetUrl} || '').replace(/\\/+$/, '');`,
  `if (!TARGET) throw new Error('${K6_ENV.targetUrl} is not set: the base URL of the stack, e.g. http://nginx.apistack.svc.cluster.local');`,
];

export interface K6ScriptOptions {
  /** Runners sharing the load. @default the scenario's parallelism, else 1 */
  readonly parallelism?: number;
}

/**
 * The runner script: `k6 run` it on each of the N runners with TARGET_URL, the runner index and,
 * when the scenario has setup, the fixtures (LOADTEST_FIXTURES or LOADTEST_FIXTURES_FILE).
 */
export function renderK6Script(s: Scenario, opts: K6ScriptOptions = {}): string {
  const n = opts.parallelism ?? runnersOf(s);
  checkSplit(s, n);
  const kinds = new Set(s.mix.map((m) => m.kind));
  const schedule = mixSchedule(s.mix);
  const tags = (kind: RequestKind) => `{ name: '${REQUEST_NAMES[kind]}', kind: '${kind}' }`;
  const lines = [
    ...HEADER(s, `runner script, ${n} runner${n === 1 ? '' : 's'}`),
    "import http from 'k6/http';",
    '',
    `const PARALLELISM = ${n};`,
    `const RUNNER_INDEX = Number(__ENV.${K6_ENV.runnerIndex} || __ENV.JOB_COMPLETION_INDEX || 0);`,
    `if (!(Number.isInteger(RUNNER_INDEX) && RUNNER_INDEX >= 0 && RUNNER_INDEX < PARALLELISM)) throw new Error(\`${K6_ENV.runnerIndex} must be 0..\${PARALLELISM - 1}, got \${RUNNER_INDEX}\`);`,
    '// Unique per runner: the pod name on Kubernetes, the task on ECS (its metadata URI ends with the task id).',
    `const RUNNER = __ENV.${K6_ENV.runnerId} || (__ENV.ECS_CONTAINER_METADATA_URI_V4 || '').split('/').pop() || __ENV.HOSTNAME || \`runner-\${RUNNER_INDEX}\`;`,
    ...TARGET_JS,
    '// Idempotency keys are RUN_ID-VU-ITERATION: unique per request, per runner and per run.',
    'const RUN_ID = `${RUNNER}-${Date.now().toString(36)}`;',
    '',
    '/** This runner\'s part of a total: the N runners together give exactly the total. */',
    'function share(total) {',
    '  return Math.floor(total / PARALLELISM) + (RUNNER_INDEX < total % PARALLELISM ? 1 : 0);',
    '}',
    '',
  ];
  if (kinds.has('read') || kinds.has('write')) {
    lines.push(
      '// Seeded once per run by the setup script, never by a runner.',
      `const FIXTURES = JSON.parse(__ENV.${K6_ENV.fixtures} || open(__ENV.${K6_ENV.fixturesFile} || '${FIXTURES_PATH}'));`,
    );
  }
  if (kinds.has('read')) {
    lines.push(
      'const USER_RANGES = FIXTURES.users;',
      'const USER_COUNT = USER_RANGES.reduce((n, [first, last]) => n + last - first + 1, 0);',
      "if (USER_COUNT < 1) throw new Error('the fixtures hold no users to read');",
      '/** The i-th seeded user id, over the id ranges the setup recorded. */',
      'function userAt(i) {',
      '  for (const [first, last] of USER_RANGES) {',
      '    if (i <= last - first) return first + i;',
      '    i -= last - first + 1;',
      '  }',
      "  throw new Error('user index out of range');",
      '}',
    );
  }
  if (kinds.has('write')) {
    lines.push('const API_KEYS = FIXTURES.apiKeys;', "if (API_KEYS.length < 1) throw new Error('the fixtures hold no API keys to write with');");
  }
  lines.push(
    '',
    'export const options = {',
    `  scenarios: ${scenariosJs(s, n)},`,
    `  thresholds: ${JSON.stringify(k6Thresholds(s.thresholds, n, warmupSecondsOf(s) > 0 ? k6MeasuredScenario(s) : undefined))},`,
    `  tags: { testid: '${k6TestId(s)}', runner: RUNNER },`,
    `  systemTags: ${JSON.stringify(K6_SYSTEM_TAGS)},`,
    "  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],",
    '  discardResponseBodies: true,',
    '};',
    '',
  );
  if (kinds.has('status')) {
    lines.push('function status() {', `  return http.get(\`\${TARGET}/api/status\`, { tags: ${tags('status')} });`, '}');
  }
  if (kinds.has('read')) {
    lines.push(
      '/** Spread over the key space, differently per VU and iteration. */',
      'function read() {',
      '  const id = userAt((__VU * 2654435761 + __ITER * 40503) % USER_COUNT);',
      `  return http.get(\`\${TARGET}/api/users/\${id}\`, { tags: ${tags('read')} });`,
      '}',
    );
  }
  if (kinds.has('write')) {
    lines.push(
      '/** Spread over the keys, so the per-key rate limit is not what is measured. */',
      'function write() {',
      '  const key = API_KEYS[(__VU * 31 + __ITER) % API_KEYS.length];',
      `  const body = JSON.stringify({ type: 'loadtest.${s.name}', payload: { runner: RUNNER, vu: __VU, iteration: __ITER } });`,
      '  const headers = { \'Content-Type\': \'application/json\', \'X-API-Key\': key, \'Idempotency-Key\': `${RUN_ID}-${__VU}-${__ITER}` };',
      `  return http.post(\`\${TARGET}/api/events\`, body, { headers, tags: ${tags('write')} });`,
      '}',
    );
  }
  lines.push(
    '',
    `// The mix ${s.mix.map((m) => `${m.kind} ${m.weight}`).join(', ')}, in the order that spreads it evenly; each VU starts elsewhere in it.`,
    `const SCHEDULE = [${schedule.join(', ')}];`,
    'export default function () {',
    '  return SCHEDULE[(__ITER + __VU * 7) % SCHEDULE.length]();',
    '}',
    '',
  );
  return lines.join('\n');
}

/** Where the setup puts the fixtures for the runners. */
export type FixturesStore =
  /** PATCH the Secret at FIXTURES_SECRET_URL with the pod's service account token (the runner pods mount the Secret). */
  | 'kubernetes-secret'
  /** PutSecretValue on FIXTURES_SECRET_ID, signed (SigV4) with the task role's credentials (ECS injects the secret into the runners). */
  | 'aws-secrets-manager'
  /** Print them (a manual run). */
  | 'stdout';

export interface K6SetupScriptOptions {
  readonly store: FixturesStore;
}

/**
 * The setup script, run once per run before the runners: seeds `setup.users` users (bulk insert,
 * recording the id ranges) and `setup.apiKeys` API keys (admin token), then publishes the fixtures.
 * Any failure aborts the run (k6 exits non-zero), so runners never start on half a seed.
 */
export function renderK6SetupScript(s: Scenario, opts: K6SetupScriptOptions): string {
  if (!needsSetup(s)) throw new Error(`scenario ${s.name} has no setup (setup.users and setup.apiKeys are 0): it needs no setup script`);
  const users = s.setup?.users ?? 0;
  const apiKeys = s.setup?.apiKeys ?? 0;
  const lines = [
    ...HEADER(s, 'setup script, run once per run'),
    "import http from 'k6/http';",
    "import exec from 'k6/execution';",
    '',
    'export const options = {',
    `  scenarios: { setup: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: '${SETUP_MAX_MINUTES}m' } },`,
    `  tags: { testid: '${k6TestId(s)}-setup' },`,
    '};',
    '',
    ...TARGET_JS,
    `const USERS = ${users};`,
    `const API_KEYS = ${apiKeys};`,
    `const USER_BATCH = ${USER_BATCH};`,
    `const KEY_BATCH = ${KEY_BATCH};`,
    '// Emails must be unique: a setup run tags its users with its own id.',
    'const SEED_ID = Date.now().toString(36);',
  ];
  if (apiKeys > 0 || users > 0) {
    const needs = [...(users > 0 ? ['POST /api/users/bulk'] : []), ...(apiKeys > 0 ? ['POST /api/keys'] : [])].join(' and ');
    lines.push(`const ADMIN_TOKEN = __ENV.${K6_ENV.adminToken};`, `if (!ADMIN_TOKEN) throw new Error('${K6_ENV.adminToken} is not set: ${needs} needs the API admin token');`);
  }
  if (opts.store === 'kubernetes-secret') {
    lines.push(
      `const SECRET_URL = __ENV.${K6_ENV.fixturesSecretUrl};`,
      `if (!SECRET_URL) throw new Error('${K6_ENV.fixturesSecretUrl} is not set: the fixtures Secret on the Kubernetes API');`,
      '// Read at init (open() works only there); SSL_CERT_FILE points k6 at the cluster CA beside it.',
      `const KUBE_TOKEN = open('${SERVICE_ACCOUNT_DIR}/token').trim();`,
    );
  }
  if (opts.store === 'aws-secrets-manager') {
    lines.push(
      `const SECRET_ID = __ENV.${K6_ENV.fixturesSecretId};`,
      `const REGION = __ENV.${K6_ENV.fixturesRegion};`,
      `if (!SECRET_ID || !REGION) throw new Error('${K6_ENV.fixturesSecretId} and ${K6_ENV.fixturesRegion} must be set: the Secrets Manager secret the runners read');`,
    );
  }
  lines.push(
    '',
    'function fail(message) {',
    '  exec.test.abort(message);',
    '}',
    '',
    '/** [[first, last], ...] with adjacent ranges joined. */',
    'export function mergeRanges(ranges) {',
    '  const out = [];',
    '  for (const [first, last] of [...ranges].sort((a, b) => a[0] - b[0])) {',
    '    const prev = out[out.length - 1];',
    '    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);',
    '    else out.push([first, last]);',
    '  }',
    '  return out;',
    '}',
    '',
    'function seedUsers() {',
    '  const ranges = [];',
    '  for (let first = 0; first < USERS; first += USER_BATCH) {',
    '    const users = [];',
    '    for (let i = first; i < Math.min(first + USER_BATCH, USERS); i++) users.push({ name: `loadtest user ${i}`, email: `lt-${SEED_ID}-${i}@loadtest.invalid` });',
    "    const res = http.post(`${TARGET}/api/users/bulk`, JSON.stringify({ users }), { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN_TOKEN}` }, tags: { name: 'POST /api/users/bulk' } });",
    '    if (res.status !== 201) fail(`POST /api/users/bulk answered ${res.status}: ${res.body}`);',
    '    const { firstId, lastId, inserted } = JSON.parse(res.body);',
    '    if (inserted !== users.length) fail(`POST /api/users/bulk inserted ${inserted} of ${users.length} users`);',
    '    // One multi-row INSERT: ids in [firstId, lastId], the range the runners read.',
    '    ranges.push([Number(firstId), Number(lastId)]);',
    '  }',
    '  return mergeRanges(ranges);',
    '}',
    '',
    'function createKeys() {',
    '  const keys = [];',
    '  while (keys.length < API_KEYS) {',
    '    const batch = [];',
    "    for (let i = keys.length; i < Math.min(keys.length + KEY_BATCH, API_KEYS); i++) batch.push(['POST', `${TARGET}/api/keys`, null, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, tags: { name: 'POST /api/keys' } }]);",
    '    for (const res of http.batch(batch)) {',
    '      if (res.status !== 201) fail(`POST /api/keys answered ${res.status}: ${res.body}`);',
    '      keys.push(JSON.parse(res.body).key);',
    '    }',
    '  }',
    '  return keys;',
    '}',
    '',
  );
  if (opts.store === 'kubernetes-secret') {
    lines.push(
      'function publish(fixtures) {',
      `  const patch = JSON.stringify({ stringData: { '${FIXTURES_KEY}': fixtures } });`,
      "  const res = http.patch(SECRET_URL, patch, { headers: { Authorization: `Bearer ${KUBE_TOKEN}`, 'Content-Type': 'application/merge-patch+json' }, tags: { name: 'PATCH fixtures Secret' } });",
      '  if (res.status !== 200) fail(`PATCH ${SECRET_URL} answered ${res.status}: ${res.body}`);',
      '}',
    );
  } else if (opts.store === 'aws-secrets-manager') {
    lines.push(...SIGV4_JS, '',
      'async function publish(fixtures) {',
      "  // The task role's temporary credentials, from the ECS agent.",
      '  const res = http.get(`http://169.254.170.2${__ENV.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`);',
      '  if (res.status !== 200) fail(`no task role credentials (${res.status}): the setup task needs a task role`);',
      '  const c = JSON.parse(res.body);',
      '  const host = `secretsmanager.${REGION}.amazonaws.com`;',
      '  const body = JSON.stringify({ SecretId: SECRET_ID, SecretString: fixtures });',
      "  const headers = await signV4({ method: 'POST', host, path: '/', region: REGION, service: 'secretsmanager', body, now: new Date(),",
      "    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.PutSecretValue' },",
      '    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token } });',
      "  const put = http.post(`https://${host}/`, body, { headers, tags: { name: 'PutSecretValue' } });",
      '  if (put.status !== 200) fail(`PutSecretValue answered ${put.status}: ${put.body}`);',
      '}',
    );
  } else {
    lines.push('function publish(fixtures) {', '  console.log(fixtures);', '}');
  }
  lines.push(
    '',
    'export default async function () {',
    `  const fixtures = { scenario: '${s.name}', seededAt: new Date().toISOString(), users: USERS > 0 ? seedUsers() : [], apiKeys: API_KEYS > 0 ? createKeys() : [] };`,
    '  await publish(JSON.stringify(fixtures));',
    '}',
    '',
  );
  return lines.join('\n');
}

/**
 * AWS Signature Version 4 over WebCrypto (global in k6 since v1.0, and in Node): the one signed
 * call the setup makes. Header names in `headers` are lower case.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
const SIGV4_JS = [
  'function utf8(s) {',
  '  const b = unescape(encodeURIComponent(s));',
  '  const out = new Uint8Array(b.length);',
  '  for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);',
  '  return out;',
  '}',
  "const toHex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');",
  "const sha256Hex = async (s) => toHex(await crypto.subtle.digest('SHA-256', utf8(s)));",
  'async function hmac(key, s) {',
  "  const k = await crypto.subtle.importKey('raw', typeof key === 'string' ? utf8(key) : key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);",
  "  return crypto.subtle.sign('HMAC', k, utf8(s));",
  '}',
  'export async function signV4(req) {',
  "  const amzDate = req.now.toISOString().replace(/[-:]|\\.\\d{3}/g, '');",
  '  const day = amzDate.slice(0, 8);',
  "  const headers = { ...req.headers, host: req.host, 'x-amz-date': amzDate };",
  "  if (req.credentials.sessionToken) headers['x-amz-security-token'] = req.credentials.sessionToken;",
  '  const names = Object.keys(headers).sort();',
  "  const signedHeaders = names.join(';');",
  "  const canonical = [req.method, req.path, req.query || '', names.map((n) => `${n}:${String(headers[n]).trim()}\\n`).join(''), signedHeaders, await sha256Hex(req.body)].join('\\n');",
  '  const scope = `${day}/${req.region}/${req.service}/aws4_request`;',
  "  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, await sha256Hex(canonical)].join('\\n');",
  '  let key = await hmac(`AWS4${req.credentials.secretAccessKey}`, day);',
  "  for (const part of [req.region, req.service, 'aws4_request']) key = await hmac(key, part);",
  '  const signature = toHex(await hmac(key, toSign));',
  '  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${req.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };',
  '}',
];

/** How long the runners run, warm-up included, if bounded by time (for deadlines and timeouts around them). */
export function runSeconds(s: Scenario): number | undefined {
  const measured = scenarioDurationSeconds(s) ?? (s.rate !== undefined && s.requests !== undefined ? s.requests / s.rate : undefined);
  return measured === undefined ? undefined : measured + warmupSecondsOf(s);
}
