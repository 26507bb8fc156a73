/**
 * A worker killed with SIGKILL under load costs only the requests it held: the primary never
 * keeps a connection it accepted and could not hand over (one on its way to the worker that
 * died would otherwise stay open, unanswered, until the client gave up).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/local/process.ts';
import { startTestPostgres, startTestRedis } from '../helpers/servers.ts';
import { buildAppBundle, startApiProcess } from './api-process.ts';
import { migrated } from './harness.ts';

let pg: Awaited<ReturnType<typeof startTestPostgres>>;
let redis: Awaited<ReturnType<typeof startTestRedis>>;

beforeAll(async () => {
  buildAppBundle();
  [pg, redis] = await Promise.all([startTestPostgres(), startTestRedis()]);
  await migrated(pg.url);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([pg?.cleanup(), redis?.cleanup()]);
});

/** Far above any answer here (a few ms): a request this slow was held without being served. */
const HUNG_MS = 5000;
/** Each kill on main left about one connection hanging: a few make the test fail there every time. */
const KILLS = 4;

type Outcome = { kind: 'ok'; worker: number } | { kind: 'error'; code: string } | { kind: 'hung' };

/** One GET on a connection of its own, as a proxy opening new upstream connections does. */
function get(url: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${url}/api/status`, { agent: false, headers: { connection: 'close' }, timeout: HUNG_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ kind: 'ok', worker: Number(res.headers['x-worker-id']) }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'error', code: e.code ?? e.message }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ kind: 'hung' });
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'error', code: e.code ?? e.message }));
    req.end();
  });
}

/** `clients` loops of new-connection GETs until stopped; every outcome is kept. */
function load(url: string, clients: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) outcomes.push(await get(url));
  });
  return { outcomes, stop: async () => ((running = false), await Promise.all(loops), outcomes) };
}

describe('a worker killed under load', () => {
  for (const workers of [1, 2]) {
    it(`WEB_CONCURRENCY=${workers}: no connection is left hanging in the primary, over repeated kills`, async () => {
      const api = await startApiProcess(pg.url, redis.url, { WEB_CONCURRENCY: String(workers) });
      try {
        const l = load(api.url, 16);
        for (let kill = 0; kill < KILLS; ) {
          await waitFor('a worker answering', () => l.outcomes.some((o) => o.kind === 'ok'), { timeoutMs: 10_000 });
          await new Promise((r) => setTimeout(r, 300));
          const victim = [...l.outcomes].reverse().find((o): o is Extract<Outcome, { kind: 'ok' }> => o.kind === 'ok')!.worker;
          try {
            process.kill(victim, 'SIGKILL');
          } catch (e) {
            // That worker was already gone (recycled since it answered): pick a live one.
            if ((e as NodeJS.ErrnoException).code === 'ESRCH') continue;
            throw e;
          }
          kill++;
          await waitFor('the worker replaced', async () => (await api.metric('apistack_workers_alive')) === workers, { timeoutMs: 15_000 });
        }
        await new Promise((r) => setTimeout(r, 500));
        const outcomes = await l.stop();
        const count = (kind: Outcome['kind']) => outcomes.filter((o) => o.kind === kind).length;
        const errors = outcomes.flatMap((o) => (o.kind === 'error' ? [o.code] : []));
        const summary = `${outcomes.length} requests, ${count('ok')} ok, errors ${JSON.stringify(Object.fromEntries([...new Set(errors)].map((c) => [c, errors.filter((e) => e === c).length])))}, ${count('hung')} hung\n${api.output().slice(-2000)}`;
        expect(count('ok'), summary).toBeGreaterThan(100);
        // Every failure is immediate (a reset or a refused connect the client can retry at once), never a hang.
        expect(count('hung'), summary).toBe(0);
        expect(await api.metric('apistack_worker_restarts_total', '{reason="crash"}')).toBe(KILLS);
      } finally {
        await api.stop();
      }
    }, 180_000);
  }
});
