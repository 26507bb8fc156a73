/**
 * Fault soak benchmark: what a user sees when parts of the local stack fail under load. Starts
 * the real stack with `apistack local up --profile loadtest`, then, in sequence, under a
 * closed-loop mixed load through nginx (BENCH_CONNECTIONS loops, default 20: status, cached user
 * reads, uncached reads, event writes with an Idempotency-Key each): a Postgres fast shutdown and
 * restart, a stopped Postgres (SIGSTOP, past the profile's deadline), Redis killed and started
 * again empty, one API worker killed with SIGKILL, and `apistack local restart` of a replica.
 * Per fault: requests, non-2xx and unanswered per kind, the slowest answers, worker crashes, and
 * acknowledged events lost or stored twice (both expected 0), checked against Postgres.
 * Writes test/bench/results/faults.json and faults.md.
 * Run with `npm run bench:faults` (BENCH_SETTLE_SECONDS of load before each fault, default 3;
 * BENCH_RECOVERY_SECONDS after it, default 8). Exit 1 means the bench broke, or an acknowledged
 * event was lost or duplicated.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProfile } from '../../lib/profile/index.ts';
import { auditWrites, countByKind, killRedis, killWorker, localState, makeFixtures, mixedLoad, restartPostgres, stallPostgres, workerCrashes, type KindCounts, type RequestKind } from '../local/faults.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'bin', 'apistack.mjs');
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 3);
const recoverySeconds = Number(process.env.BENCH_RECOVERY_SECONDS ?? 8);
// The loadtest profile with the per-key rate limit out of the way: the load's events share one key,
// and at full speed they pass its 6,000 a minute within a fault, answered 429, which is the limit
// working, not a fault's cost.
const profileFile = join(mkdtempSync(join(tmpdir(), 'apistack-bench-faults-profile-')), 'faults.yaml');
writeFileSync(profileFile, 'extends: loadtest\nname: loadtest-faults\napi: { rateLimitPerMinute: 100000000 }\n');
const profile = loadProfile(profileFile);
const deadlineMs = profile.derived.api.slowestAnswerSeconds * 1000;
const stateDir = mkdtempSync(join(tmpdir(), 'apistack-bench-faults-'));
chmodSync(stateDir, 0o755); // Postgres runs as the postgres user when we are root: it must reach its data dir

interface FaultResult {
  name: string;
  /** What the fault did, in a few words. */
  fault: string;
  seconds: number;
  requestsPerSecond: number;
  byKind: Record<RequestKind, KindCounts>;
  /** Non-2xx over all kinds (unanswered included). */
  non2xx: number;
  /** Worker crashes logged during this fault (a killed worker counts as one). */
  crashes: number;
  acknowledgedWrites: number;
  lostAcknowledgedWrites: number;
  duplicatedAcknowledgedWrites: number;
}

/** The real CLI, its output on stderr so stdout carries only the markdown. */
function cliRun(...args: string[]): Promise<number | null> {
  return new Promise((resolve) => spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 2, 2] }).on('exit', resolve));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FAULTS: { name: string; fault: string; run: () => Promise<void> }[] = [
  { name: 'postgres restart', fault: 'SIGINT (pg_ctl stop -m fast), down 2 s, started again', run: () => restartPostgres(stateDir, profile, 2000) },
  {
    name: 'postgres stopped',
    fault: `SIGSTOP on the postmaster and backends for ${Math.max(5000, deadlineMs + 2000) / 1000} s (deadline ${deadlineMs / 1000} s)`,
    run: () => stallPostgres(stateDir, Math.max(5000, deadlineMs + 2000)),
  },
  { name: 'redis killed', fault: 'SIGKILL, down 2 s, started again empty', run: () => killRedis(stateDir, profile, 2000) },
  { name: 'worker killed', fault: 'SIGKILL on one worker of api-0', run: async () => void killWorker(stateDir, 'api-0') },
  {
    name: 'local restart',
    fault: 'apistack local restart api-1',
    run: async () => {
      const code = await cliRun('local', 'restart', 'api-1', '--state-dir', stateDir);
      if (code !== 0) throw new Error(`local restart exited ${code}`);
    },
  },
];

let teardown: Promise<void> | undefined;
function tearDown(): Promise<void> {
  teardown ??= (async () => {
    if ((await cliRun('local', 'down', '--state-dir', stateDir)) !== 0) console.error(`· local down failed: run \`node bin/apistack.mjs local down --state-dir ${stateDir}\``);
    else rmSync(stateDir, { recursive: true, force: true });
  })();
  return teardown;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`· ${sig}: tearing down`);
    void tearDown().finally(() => process.exit(130));
  });
}

let failed = false;
try {
  const built = spawnSync(process.execPath, [join(repoRoot, 'app', 'build.mjs')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`app build failed:\n${built.stderr}`);
  const up = await cliRun('local', 'up', '--profile', profileFile, '--state-dir', stateDir, '--no-prometheus');
  if (up !== 0) throw new Error(`apistack local up exited ${up}`);
  const fx = await makeFixtures(stateDir);
  const results: FaultResult[] = [];
  for (const f of FAULTS) {
    const { url, databaseUrl } = localState(stateDir);
    const crashesBefore = workerCrashes(stateDir).length;
    console.error(`· ${f.name}: ${f.fault}`);
    const started = Date.now();
    const load = mixedLoad(url, fx, connections);
    await sleep(settleSeconds * 1000);
    await f.run();
    await sleep(recoverySeconds * 1000);
    const samples = await load.stop();
    const seconds = (Date.now() - started) / 1000;
    const byKind = countByKind(samples);
    // A restarted replica logs afresh: crashes are counted over the logs as they are now.
    const crashes = Math.max(0, workerCrashes(stateDir).length - crashesBefore);
    const audit = await auditWrites(databaseUrl, load.acknowledged);
    results.push({
      name: f.name,
      fault: f.fault,
      seconds: Math.round(seconds * 10) / 10,
      requestsPerSecond: Math.round(samples.length / seconds),
      byKind,
      non2xx: Object.values(byKind).reduce((n, k) => n + k.non2xx, 0),
      crashes,
      acknowledgedWrites: audit.acknowledged,
      lostAcknowledgedWrites: audit.lost,
      duplicatedAcknowledgedWrites: audit.duplicated,
    });
    console.error(`  ${JSON.stringify(results.at(-1))}`);
  }
  const lost = results.reduce((n, r) => n + r.lostAcknowledgedWrites, 0);
  const duplicated = results.reduce((n, r) => n + r.duplicatedAcknowledgedWrites, 0);
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version },
    settings: { profile: 'loadtest (rateLimitPerMinute 100,000,000)', connections, settleSeconds, recoverySeconds, deadlineMs },
    results: results.map((r) => ({ ...r, p99Ms: Math.max(...Object.values(r.byKind).map((k) => k.p99Ms)) })),
    ratios: { lostAcknowledgedWrites: lost, duplicatedAcknowledgedWrites: duplicated },
    targets: [
      { name: 'acknowledged writes lost', value: lost, target: 0, op: '==', passed: lost === 0 },
      { name: 'acknowledged writes duplicated', value: duplicated, target: 0, op: '==', passed: duplicated === 0 },
    ],
  };
  const cell = (k: KindCounts) => `${k.non2xx}/${k.requests}${k.unanswered ? ` (${k.unanswered} unanswered)` : ''}`;
  const md = [
    `# Faults under load (${connections} closed-loop connections through nginx, loadtest profile)`,
    '',
    `Measured ${report.measuredAt}. Each fault: ${settleSeconds} s of load, the fault, ${recoverySeconds} s more. Cells are non-2xx / requests.`,
    '',
    '| fault | what | req/s | status | cached read | uncached read | event write | slowest ms | worker crashes | acked writes | lost | duplicated |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.fault} | ${r.requestsPerSecond} | ${cell(r.byKind.status)} | ${cell(r.byKind.cached)} | ${cell(r.byKind.uncached)} | ${cell(r.byKind.event)} | ${Math.max(...Object.values(r.byKind).map((k) => k.maxMs))} | ${r.crashes} | ${r.acknowledgedWrites} | ${r.lostAcknowledgedWrites} | ${r.duplicatedAcknowledgedWrites} |`,
    ),
    '',
  ].join('\n');
  const out = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'faults.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'faults.md'), md);
  console.log(md);
  failed = lost > 0 || duplicated > 0;
} catch (e) {
  console.error(`· bench failed: ${(e as Error).stack ?? e}`);
  failed = true;
} finally {
  await tearDown();
}
process.exit(failed ? 1 : 0);
