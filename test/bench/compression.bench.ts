/**
 * Response compression: @fastify/compress (what the API registers) against the hand-written
 * synchronous onSend hook it replaced, in the same run on the same machine, one process each.
 *
 * Two cases per implementation, both with wrk:
 *  - throughput of a ~64 KiB JSON answer compressed with brotli (50 connections);
 *  - the latency of a tiny route while 40 connections load the large one: what compressing on
 *    the event loop costs every other request of the worker.
 * Writes test/bench/results/compression.json and prints the comparison. `npm run bench:compression`
 * (BENCH_SECONDS per case, default 10).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../../lib/local/process.ts';
import { runWrk, socketErrorCount, type WrkResult } from '../helpers/wrk.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
// MODES=plugin,plugin-defaults,sync adds the plugin with its default brotli window.
const modes = process.env.MODES?.split(',') ?? ['plugin', 'sync'];

async function start(mode: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'compression-server.ts'), mode, String(port)], { cwd: repoRoot, stdio: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${mode} server`, async () => (await fetch(`${url}/tiny`).catch(() => undefined))?.ok === true, { timeoutMs: 30_000 });
  return { url, child };
}

const LARGE_CASE = 'large JSON, br';
const TINY_CASE = 'tiny route beside large ones';
const summary = (r: WrkResult) => ({ requestsPerSecond: Math.round(r.requestsPerSecond), p50Ms: r.latencyMs.p50, p99Ms: r.latencyMs.p99, errors: r.non2xx + socketErrorCount(r) });
const results: Record<string, Record<string, ReturnType<typeof summary>>> = {};

for (const mode of modes) {
  const server = await start(mode);
  try {
    const br = { 'accept-encoding': 'br' };
    // Unmeasured warm-up: steady state, not JIT compilation.
    await runWrk({ url: `${server.url}/large`, seconds: 3, headers: br });
    const large = await runWrk({ url: `${server.url}/large`, seconds, headers: br });
    // The tiny route's latency while the large one is loaded on the same process.
    const [, tiny] = await Promise.all([
      runWrk({ url: `${server.url}/large`, seconds, connections: 40, headers: br }),
      runWrk({ url: `${server.url}/tiny`, seconds, connections: 10 }),
    ]);
    results[mode] = { [LARGE_CASE]: summary(large), [TINY_CASE]: summary(tiny) };
    console.log(mode, JSON.stringify(results[mode]));
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
  }
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
const plugin = results.plugin!;
const sync = results.sync!;
const report = {
  measuredAt: new Date().toISOString(),
  seconds,
  results,
  // What the choice rests on: how the worker's other requests fare while big answers are
  // compressed (tiny-route rate and latency), and what streaming costs the big answers themselves.
  // A tiny-route p99 from wrk swings run to run on 2 cores (0.9-2.3x here); its p50 and rate do not.
  ratios: {
    tinyThroughputPluginVsSync: ratio(plugin[TINY_CASE]!.requestsPerSecond, sync[TINY_CASE]!.requestsPerSecond),
    tinyP50PluginVsSync: ratio(plugin[TINY_CASE]!.p50Ms, sync[TINY_CASE]!.p50Ms),
    tinyP99PluginVsSync: ratio(plugin[TINY_CASE]!.p99Ms, sync[TINY_CASE]!.p99Ms),
    largeThroughputPluginVsSync: ratio(plugin[LARGE_CASE]!.requestsPerSecond, sync[LARGE_CASE]!.requestsPerSecond),
    largeP99PluginVsSync: ratio(plugin[LARGE_CASE]!.p99Ms, sync[LARGE_CASE]!.p99Ms),
  },
};
const out = join(repoRoot, 'test', 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'compression.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report.ratios, null, 2));
