/**
 * The k6 scripts, without k6: each rendering parses as an ES module (esbuild), and runs in Node
 * against a fake `k6/http` that records requests, so the executors, the split over runners, the
 * mix, the idempotency keys, the thresholds and the once-per-run setup are checked by behaviour.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHmac, createHash } from 'node:crypto';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, parseScenario, type Scenario } from '../../lib/loadtest/scenario.ts';
import { FIXTURES_PATH, k6Thresholds, mixSchedule, renderK6Script, renderK6SetupScript, SERVICE_ACCOUNT_DIR } from '../../lib/loadtest/k6.ts';
import { tempDir } from '../helpers/servers.ts';

interface Req {
  method: string;
  url: string;
  body: string | null;
  params: { headers?: Record<string, string>; tags?: Record<string, string> };
}
type Respond = (req: Req) => { status: number; body: string };

/** A fake k6: `k6/http` and `k6/execution` that record into globals the test sets. */
const fakeK6Dir = (() => {
  const dir = tempDir('apistack-fake-k6-');
  const pkg = join(dir, 'node_modules', 'k6');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'k6', type: 'module', exports: { './http': './http.js', './execution': './execution.js' } }));
  writeFileSync(
    join(pkg, 'http.js'),
    [
      'const request = (method, url, body, params = {}) => { const req = { method, url, body, params }; globalThis.__requests.push(req); return globalThis.__respond(req); };',
      'export default {',
      '  get: (url, params) => request("GET", url, null, params),',
      '  post: (url, body, params) => request("POST", url, body, params),',
      '  patch: (url, body, params) => request("PATCH", url, body, params),',
      '  batch: (reqs) => reqs.map(([m, u, b, p]) => request(m, u, b, p)),',
      '};',
    ].join('\n'),
  );
  writeFileSync(join(pkg, 'execution.js'), 'export default { test: { abort: (message) => { throw new Error(`aborted: ${message}`); } } };');
  return dir;
})();

let loads = 0;
/** Evaluates a rendered script as k6 would at init, with `env` as __ENV; returns its exports. */
async function load(script: string, env: Record<string, string>, opts: { respond?: Respond; files?: Record<string, string> } = {}): Promise<{ module: Record<string, any>; requests: Req[] }> {
  const file = join(fakeK6Dir, `script-${++loads}.mjs`);
  writeFileSync(file, script);
  const requests: Req[] = [];
  Object.assign(globalThis, {
    __ENV: env,
    __VU: 0,
    __ITER: 0,
    __requests: requests,
    __respond: opts.respond ?? (() => ({ status: 200, body: '{}' })),
    open: (path: string) => {
      const text = opts.files?.[path];
      if (text === undefined) throw new Error(`open(${path}): no such file`);
      return text;
    },
  });
  const module = await import(pathToFileURL(file).href);
  return { module, requests };
}

/** Runs the default function as VU `vu` for `iterations` iterations. */
async function iterate(module: Record<string, any>, vu: number, iterations: number): Promise<void> {
  for (let i = 0; i < iterations; i++) {
    Object.assign(globalThis, { __VU: vu, __ITER: i });
    await module.default();
  }
}

const FIXTURES = JSON.stringify({ scenario: 'x', users: [[101, 150], [201, 250]], apiKeys: ['ak_one_0123456789', 'ak_two_0123456789', 'ak_three_012345678'] });
const runnerEnv = (index: number, extra: Record<string, string> = {}) => ({ TARGET_URL: 'http://nginx.test/', RUNNER_INDEX: String(index), RUNNER_ID: `runner-pod-${index}`, LOADTEST_FIXTURES: FIXTURES, ...extra });
const scenario = (over: Partial<Scenario>): Scenario => parseScenario({ ...BUILTIN_SCENARIOS.mixed, ...over }, 'test');

describe('k6 runner script', () => {
  it.each(Object.keys(BUILTIN_SCENARIOS))('%s parses as an ES module, alone and split over 4 runners, setup included', (name) => {
    const s = BUILTIN_SCENARIOS[name]!;
    for (const script of [renderK6Script(s), renderK6Script(s, { parallelism: 4 }), ...(s.setup ? [renderK6SetupScript(s, { store: 'kubernetes-secret' }), renderK6SetupScript(s, { store: 'aws-secrets-manager' })] : [])]) {
      expect(() => transformSync(script, { format: 'esm', loader: 'js' })).not.toThrow();
      expect(script).toContain("import http from 'k6/http';");
    }
  });

  it('is deterministic: the same scenario renders the same bytes', () => {
    expect(renderK6Script(BUILTIN_SCENARIOS.mixed!, { parallelism: 3 })).toBe(renderK6Script(BUILTIN_SCENARIOS.mixed!, { parallelism: 3 }));
  });

  it('constant-vus: N runners together hold exactly the scenario connections for its duration', async () => {
    const s = scenario({ connections: 50, parallelism: 3 });
    const script = renderK6Script(s);
    const vus: number[] = [];
    for (const i of [0, 1, 2]) {
      const { module } = await load(script, runnerEnv(i));
      expect(module.options.scenarios.mixed).toMatchObject({ executor: 'constant-vus', duration: '20s' });
      vus.push(module.options.scenarios.mixed.vus);
    }
    expect(vus).toEqual([17, 17, 16]);
  });

  it('constant-arrival-rate: the rate is divided by parallelism (500 req/s over 4 runners is 125 each)', async () => {
    const soak = { ...BUILTIN_SCENARIOS.soak!, parallelism: 4 };
    const script = renderK6Script(soak);
    let total = 0;
    for (const i of [0, 1, 2, 3]) {
      const { module } = await load(script, runnerEnv(i));
      const sc = module.options.scenarios.soak;
      expect(sc).toMatchObject({ executor: 'constant-arrival-rate', rate: 500, timeUnit: '4s', duration: '1800s', preAllocatedVUs: 5, maxVUs: 5 });
      total += sc.rate / Number.parseInt(sc.timeUnit, 10);
    }
    expect(total).toBe(500);
    // A fractional rate keeps its milli-precision.
    const { module } = await load(renderK6Script(scenario({ rate: 2.5, parallelism: 2 })), runnerEnv(0));
    expect(module.options.scenarios.mixed).toMatchObject({ rate: 2500, timeUnit: '2000s' });
  });

  it('ramping-vus: every stage holds its connections, split over the runners', async () => {
    const spike = { ...BUILTIN_SCENARIOS.spike!, parallelism: 2 };
    const { module } = await load(renderK6Script(spike), runnerEnv(1));
    expect(module.options.scenarios.spike).toEqual({
      executor: 'ramping-vus',
      startVUs: 10,
      gracefulRampDown: '0s',
      stages: [
        { duration: '5s', target: 10 },
        { duration: '1s', target: 50 },
        { duration: '9s', target: 50 },
        { duration: '1s', target: 10 },
        { duration: '4s', target: 10 },
      ],
      startTime: '3s',
    });
  });

  it('a warm-up runs first as its own k6 scenario, so its requests are labelled apart and judged by no threshold', async () => {
    const s = scenario({ connections: 50, parallelism: 2, warmupSeconds: 5, thresholds: { p95Ms: 50, errorRatePercent: 0.1, minRequestsPerSecond: 1000 } });
    const { module } = await load(renderK6Script(s), runnerEnv(0));
    expect(module.options.scenarios).toEqual({
      'mixed-warmup': { executor: 'constant-vus', vus: 25, duration: '5s', gracefulStop: '0s' },
      mixed: { executor: 'constant-vus', vus: 25, duration: '20s', startTime: '5s' },
    });
    // Latency and errors of the measured scenario only; throughput over the whole run.
    expect(module.options.thresholds).toEqual({ 'http_req_duration{scenario:mixed}': ['p(95)<50'], 'http_req_failed{scenario:mixed}': ['rate<0.001'], http_reqs: ['rate>=500'] });
    // A fixed rate warms up at that rate; a run that declares none has one scenario and plain thresholds.
    const rate = await load(renderK6Script(scenario({ rate: 300, parallelism: 3, warmupSeconds: 2 })), runnerEnv(1));
    expect(rate.module.options.scenarios['mixed-warmup']).toEqual({ executor: 'constant-arrival-rate', rate: 300, timeUnit: '3s', duration: '2s', preAllocatedVUs: 17, maxVUs: 17, gracefulStop: '0s' });
    // k6 runs no scenario shorter than a second.
    expect(() => renderK6Script(scenario({ warmupSeconds: 0.5 }))).toThrow(/warmupSeconds \(0\.5\) is below k6's shortest scenario \(1 s\): use 0 or at least 1/);
    const none = await load(renderK6Script(scenario({ warmupSeconds: 0 })), runnerEnv(0));
    expect(Object.keys(none.module.options.scenarios)).toEqual(['mixed']);
    expect(none.module.options.scenarios.mixed.startTime).toBeUndefined();
    expect(none.module.options.thresholds).toEqual({ http_req_duration: ['p(95)<50'], http_req_failed: ['rate<0.001'] });
  });

  it('a request bound becomes shared iterations that add up to the requests', async () => {
    const s = scenario({ durationSeconds: undefined, requests: 1001, connections: 10, parallelism: 4 });
    const script = renderK6Script(s);
    const iterations: number[] = [];
    for (const i of [0, 1, 2, 3]) {
      const { module } = await load(script, runnerEnv(i));
      expect(module.options.scenarios.mixed).toMatchObject({ executor: 'shared-iterations', maxDuration: '6h' });
      iterations.push(module.options.scenarios.mixed.iterations);
    }
    expect(iterations.reduce((a, b) => a + b)).toBe(1001);
  });

  it('maps thresholds to k6 syntax, the throughput floor per runner', async () => {
    expect(k6Thresholds({ p50Ms: 20, p95Ms: 50, p99Ms: 120, errorRatePercent: 0.1, minRequestsPerSecond: 3000 }, 4)).toEqual({
      http_req_duration: ['p(50)<20', 'p(95)<50', 'p(99)<120'],
      http_req_failed: ['rate<0.001'],
      http_reqs: ['rate>=750'],
    });
    const { module } = await load(renderK6Script(BUILTIN_SCENARIOS.mixed!), runnerEnv(0));
    expect(module.options.thresholds).toEqual({ 'http_req_duration{scenario:mixed}': ['p(95)<50'], 'http_req_failed{scenario:mixed}': ['rate<0.001'] });
    expect(module.options.tags).toEqual({ testid: 'mixed', runner: 'runner-pod-0' });
    expect(module.options.systemTags).not.toContain('url');
  });

  it('sends the mix in its ratio, reads only seeded users, writes with seeded keys', async () => {
    const { module, requests } = await load(renderK6Script(BUILTIN_SCENARIOS.mixed!), runnerEnv(0));
    for (let vu = 1; vu <= 5; vu++) await iterate(module, vu, 200);
    const by = (name: string) => requests.filter((r) => r.params.tags?.name === name);
    expect([by('GET /api/users/:id').length, by('GET /api/status').length, by('POST /api/events').length]).toEqual([800, 150, 50]);
    const ids = by('GET /api/users/:id').map((r) => Number(/\/api\/users\/(\d+)$/.exec(r.url)![1]));
    for (const id of ids) expect((id >= 101 && id <= 150) || (id >= 201 && id <= 250), String(id)).toBe(true);
    expect(new Set(ids).size).toBeGreaterThan(50);
    for (const w of by('POST /api/events')) {
      expect(w.url).toBe('http://nginx.test/api/events');
      expect(['ak_one_0123456789', 'ak_two_0123456789', 'ak_three_012345678']).toContain(w.params.headers!['X-API-Key']);
      expect(w.params.headers!['Content-Type']).toBe('application/json');
      expect(JSON.parse(w.body!)).toMatchObject({ type: 'loadtest.mixed', payload: {} });
    }
    expect(new Set(by('POST /api/events').map((w) => w.params.headers!['X-API-Key'])).size).toBe(3);
    expect(by('GET /api/status')[0]!.url).toBe('http://nginx.test/api/status');
  });

  it('the schedule spreads the mix: no window of 20 requests misses a kind at 80/15/5', () => {
    const schedule = mixSchedule(BUILTIN_SCENARIOS.mixed!.mix);
    expect(schedule).toHaveLength(20);
    expect(schedule.filter((k) => k === 'read')).toHaveLength(16);
    expect(mixSchedule([{ kind: 'read', weight: 0.3 }, { kind: 'status', weight: 0.7 }])).toHaveLength(10);
  });

  it('idempotency keys are unique across VUs, iterations and runners', async () => {
    const write = { ...BUILTIN_SCENARIOS.write!, parallelism: 2 };
    const keys: string[] = [];
    for (const i of [0, 1]) {
      const { module, requests } = await load(renderK6Script(write), runnerEnv(i));
      for (let vu = 1; vu <= 10; vu++) await iterate(module, vu, 100);
      keys.push(...requests.map((r) => r.params.headers!['Idempotency-Key']!));
    }
    expect(keys).toHaveLength(2000);
    expect(new Set(keys).size).toBe(2000);
    expect(keys[0]).toMatch(/^runner-pod-0-[0-9a-z]+-1-0$/);
  });

  it('reads the fixtures from the mounted Secret when they are not in the environment', async () => {
    const env = { TARGET_URL: 'http://nginx.test', JOB_COMPLETION_INDEX: '0' };
    const { module, requests } = await load(renderK6Script(BUILTIN_SCENARIOS.read!), env, { files: { [FIXTURES_PATH]: FIXTURES } });
    await iterate(module, 1, 3);
    expect(requests).toHaveLength(3);
  });

  it('fails at init, with the cause, when the deployment forgot something', async () => {
    await expect(load(renderK6Script(BUILTIN_SCENARIOS.status!), {})).rejects.toThrow('TARGET_URL is not set');
    await expect(load(renderK6Script({ ...BUILTIN_SCENARIOS.status!, parallelism: 2 }), { TARGET_URL: 'http://x', RUNNER_INDEX: '2' })).rejects.toThrow('RUNNER_INDEX must be 0..1, got 2');
  });

  it('refuses a split the runners cannot make, naming the fields', () => {
    expect(() => renderK6Script(scenario({ connections: 3, parallelism: 4 }))).toThrow('connections (3) is less than parallelism (4)');
    expect(() => renderK6Script({ ...BUILTIN_SCENARIOS.spike!, rate: 100 })).toThrow('rate and stages together');
  });
});

describe('k6 setup script (once per run)', () => {
  /** A fake API: bulk inserts get consecutive ids, keys are numbered. */
  function api(): Respond {
    let nextId = 1000;
    let nextKey = 0;
    return (req) => {
      if (req.url.endsWith('/api/users/bulk')) {
        // Writing users takes the admin token, like creating keys.
        expect(req.params.headers!.Authorization).toBe('Bearer admin-secret');
        const n = JSON.parse(req.body!).users.length;
        const firstId = nextId;
        nextId += n;
        return { status: 201, body: JSON.stringify({ inserted: n, firstId: String(firstId), lastId: String(nextId - 1) }) };
      }
      if (req.url.endsWith('/api/keys')) {
        expect(req.params.headers!.Authorization).toBe('Bearer admin-secret');
        return { status: 201, body: JSON.stringify({ id: String(++nextKey), key: `ak_key_${nextKey}_padding` }) };
      }
      return { status: 200, body: '{}' };
    };
  }

  it('seeds users in bulk and API keys, then PATCHes the fixtures Secret with the pod token; runners use them', async () => {
    const s = { ...BUILTIN_SCENARIOS.mixed!, setup: { users: 12_000, apiKeys: 45 } };
    const env = { TARGET_URL: 'http://nginx.test', ADMIN_TOKEN: 'admin-secret', FIXTURES_SECRET_URL: 'https://kubernetes.default.svc/api/v1/namespaces/apistack/secrets/loadtest-fixtures' };
    const { module, requests } = await load(renderK6SetupScript(s, { store: 'kubernetes-secret' }), env, { respond: api(), files: { [`${SERVICE_ACCOUNT_DIR}/token`]: 'pod-token\n' } });
    expect(module.options.scenarios).toEqual({ setup: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: '30m' } });
    await iterate(module, 1, 1);
    expect(requests.filter((r) => r.url.endsWith('/api/users/bulk')).map((r) => JSON.parse(r.body!).users.length)).toEqual([5000, 5000, 2000]);
    const emails = requests.filter((r) => r.url.endsWith('/api/users/bulk')).flatMap((r) => JSON.parse(r.body!).users.map((u: { email: string }) => u.email));
    expect(new Set(emails).size).toBe(12_000);
    expect(requests.filter((r) => r.url.endsWith('/api/keys'))).toHaveLength(45);
    const patch = requests.at(-1)!;
    expect([patch.method, patch.url]).toEqual(['PATCH', env.FIXTURES_SECRET_URL]);
    expect(patch.params.headers).toEqual({ Authorization: 'Bearer pod-token', 'Content-Type': 'application/merge-patch+json' });
    const fixtures = JSON.parse(JSON.parse(patch.body!).stringData['fixtures.json']);
    expect(fixtures.users).toEqual([[1000, 12_999]]);
    expect(fixtures.apiKeys).toHaveLength(45);

    // The runners read exactly what the setup wrote.
    const runner = await load(renderK6Script(s), { TARGET_URL: 'http://nginx.test', LOADTEST_FIXTURES: JSON.stringify(fixtures) });
    await iterate(runner.module, 1, 100);
    const keys = runner.requests.filter((r) => r.url.endsWith('/api/events')).map((r) => r.params.headers!['X-API-Key']);
    for (const k of keys) expect(fixtures.apiKeys).toContain(k);
  });

  it('aborts the run on the first failed seed request (runners never start on half a seed)', async () => {
    const { module } = await load(renderK6SetupScript(BUILTIN_SCENARIOS.read!, { store: 'stdout' }), { TARGET_URL: 'http://nginx.test', ADMIN_TOKEN: 't' }, { respond: () => ({ status: 503, body: 'no' }) });
    await expect(iterate(module, 1, 1)).rejects.toThrow('aborted: POST /api/users/bulk answered 503: no');
  });

  it('seeding users needs the admin token, like creating keys', async () => {
    await expect(load(renderK6SetupScript(BUILTIN_SCENARIOS.read!, { store: 'stdout' }), { TARGET_URL: 'http://x' })).rejects.toThrow('ADMIN_TOKEN is not set: POST /api/users/bulk needs the API admin token');
  });

  it('joins adjacent id ranges and keeps gaps', async () => {
    const { module } = await load(renderK6SetupScript(BUILTIN_SCENARIOS.read!, { store: 'stdout' }), { TARGET_URL: 'http://x', ADMIN_TOKEN: 't' });
    expect(module.mergeRanges([[11, 20], [1, 10], [30, 40]])).toEqual([[1, 20], [30, 40]]);
  });

  it('SigV4 matches the AWS test suite (get-vanilla)', async () => {
    const { module } = await load(renderK6SetupScript(BUILTIN_SCENARIOS.write!, { store: 'aws-secrets-manager' }), { TARGET_URL: 'http://x', ADMIN_TOKEN: 't', FIXTURES_SECRET_ID: 'arn', FIXTURES_REGION: 'us-east-1' });
    const headers = await module.signV4({
      method: 'GET',
      host: 'example.amazonaws.com',
      path: '/',
      region: 'us-east-1',
      service: 'service',
      body: '',
      headers: {},
      now: new Date('2015-08-30T12:36:00Z'),
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    });
    expect(headers.authorization).toBe('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });

  it('on AWS, puts the fixtures into Secrets Manager with the task role credentials, signed', async () => {
    const env = { TARGET_URL: 'http://lb.test', ADMIN_TOKEN: 'admin-secret', FIXTURES_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:1:secret:fx', FIXTURES_REGION: 'us-east-1', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc' };
    const fake = api();
    const respond: Respond = (req) =>
      req.url === 'http://169.254.170.2/v2/credentials/abc' ? { status: 200, body: JSON.stringify({ AccessKeyId: 'ASIA1', SecretAccessKey: 'sk', Token: 'session' }) } : req.url.startsWith('https://secretsmanager.') ? { status: 200, body: '{}' } : fake(req);
    const { module, requests } = await load(renderK6SetupScript(BUILTIN_SCENARIOS.write!, { store: 'aws-secrets-manager' }), env, { respond });
    await iterate(module, 1, 1);
    const put = requests.at(-1)!;
    expect(put.url).toBe('https://secretsmanager.us-east-1.amazonaws.com/');
    const body = JSON.parse(put.body!);
    expect(body.SecretId).toBe(env.FIXTURES_SECRET_ID);
    expect(JSON.parse(body.SecretString).apiKeys).toHaveLength(200);
    const h = put.params.headers!;
    expect(h['x-amz-target']).toBe('secretsmanager.PutSecretValue');
    expect(h['x-amz-security-token']).toBe('session');
    // Recompute the signature independently with node:crypto.
    const names = Object.keys(h).filter((n) => n !== 'authorization').sort();
    const canonical = ['POST', '/', '', names.map((n) => `${n}:${h[n]}\n`).join(''), names.join(';'), createHash('sha256').update(put.body!).digest('hex')].join('\n');
    const day = h['x-amz-date']!.slice(0, 8);
    const scope = `${day}/us-east-1/secretsmanager/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', h['x-amz-date'], scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    let key: Buffer = createHmac('sha256', 'AWS4sk').update(day).digest();
    for (const part of ['us-east-1', 'secretsmanager', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    expect(h.authorization).toBe(`AWS4-HMAC-SHA256 Credential=ASIA1/${scope}, SignedHeaders=${names.join(';')}, Signature=${createHmac('sha256', key).update(toSign).digest('hex')}`);
  });

  it('a scenario without setup has no setup script', () => {
    expect(() => renderK6SetupScript(BUILTIN_SCENARIOS.status!, { store: 'stdout' })).toThrow('has no setup');
  });
});
