/**
 * Scenario files and command-line flags: every mistake is one clear error (exit 1, no stack
 * trace) that says what was wrong and how to fix it, before anything starts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, LatencyHistogram, loadScenario, parseDuration, withOverrides } from '../../lib/loadtest/index.ts';
import { cli } from '../helpers/cli.ts';
import { freePort, tempDir } from '../helpers/servers.ts';

const dir = tempDir('apistack-scenarios-');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('scenario files', () => {
  it('loads a valid YAML file', () => {
    const path = file('ok.yaml', 'name: ok\ndescription: d\ndurationSeconds: 5\nconnections: 10\nmix: [{ kind: status, weight: 1 }]\nthresholds: { p95Ms: 20 }\n');
    expect(loadScenario(path)).toMatchObject({ name: 'ok', durationSeconds: 5, connections: 10, thresholds: { p95Ms: 20 } });
  });

  it('an unknown field names the likely intended one', () => {
    const path = file('typo.yaml', 'name: t\ndescription: d\ndurationSeconds: 5\nconections: 10\nconnections: 10\nmix: [{ kind: status, weight: 1 }]\nthresholds: { p95: 20 }\n');
    expect(errorOf(() => loadScenario(path))).toBe(
      `scenario ${path} is invalid (2 problems):\n  - thresholds.p95: unknown field; did you mean "thresholds.p95Ms"?\n  - conections: unknown field; did you mean "connections"?`,
    );
  });

  it('a read or write mix without its setup says what to seed', () => {
    const path = file('nosetup.json', JSON.stringify({ name: 'n', description: 'd', durationSeconds: 5, connections: 10, mix: [{ kind: 'read', weight: 3 }, { kind: 'write', weight: 1 }], thresholds: {} }));
    expect(errorOf(() => loadScenario(path))).toBe(
      `scenario ${path} is invalid (2 problems):\n  - setup.users: missing — a mix with "read" needs setup.users (the key space to read)\n  - setup.apiKeys: missing — a mix with "write" needs setup.apiKeys (events are written with an API key)`,
    );
  });

  it('needs exactly one of duration, request count or stages', () => {
    const both = file('both.yaml', 'name: b\ndescription: d\ndurationSeconds: 5\nrequests: 100\nconnections: 10\nmix: [{ kind: status, weight: 1 }]\nthresholds: {}\n');
    expect(errorOf(() => loadScenario(both))).toContain('give exactly one of durationSeconds, requests or stages (how long the run lasts)');
    const none = file('none.yaml', 'name: n\ndescription: d\nconnections: 10\nmix: [{ kind: status, weight: 1 }]\nthresholds: {}\n');
    expect(errorOf(() => loadScenario(none))).toContain('give exactly one of durationSeconds, requests or stages');
  });

  it('a wrong kind, a missing field and a wrong type are each named', () => {
    const path = file('kinds.yaml', 'name: k\ndurationSeconds: 5\nconnections: many\nmix: [{ kind: delete, weight: 1 }]\nthresholds: {}\n');
    const message = errorOf(() => loadScenario(path));
    expect(message).toContain('  - description: ');
    expect(message).toContain('  - connections: "many" — must be a number');
    expect(message).toContain('  - mix.0.kind: "delete" — must be one of "status", "read", "write"');
  });

  it('broken YAML or JSON, a missing file, an unknown name', () => {
    expect(errorOf(() => loadScenario(file('bad.json', '{"name": ')))).toMatch(/^scenario .*bad\.json is not valid JSON: /);
    expect(errorOf(() => loadScenario(file('bad.yaml', 'name: [')))).toMatch(/^scenario .*bad\.yaml is not valid YAML: /);
    expect(errorOf(() => loadScenario(join(dir, 'absent.yaml')))).toBe(`scenario file not found: ${join(dir, 'absent.yaml')}`);
    expect(errorOf(() => loadScenario('stauts'))).toBe('unknown scenario "stauts"; built-in scenarios are status, read, write, mixed, spike, soak, or pass a path to a .json/.yaml file');
  });
});

describe('command-line changes to a scenario', () => {
  const spike = BUILTIN_SCENARIOS.spike!;

  it('--duration scales a ramp, keeping its shape', () => {
    const s = withOverrides(spike, { durationSeconds: 4 });
    expect(s.stages!.map((st) => st.durationSeconds)).toEqual([1, 2, 1]);
    expect(s.stages!.map((st) => st.connections)).toEqual([20, 100, 20]);
  });

  it('--connections scales a ramp from its first stage (N to 5N and back)', () => {
    expect(withOverrides(spike, { connections: 10 }).stages!.map((st) => st.connections)).toEqual([10, 50, 10]);
  });

  it('--requests replaces the duration; --rate adds a fixed rate', () => {
    const s = withOverrides(BUILTIN_SCENARIOS.status!, { requests: 1000, rate: 200 });
    expect(s).toMatchObject({ requests: 1000, rate: 200 });
    expect(s.durationSeconds).toBeUndefined();
  });

  it('parses durations: 500ms, 10s, 2m, 1h, a bare number of seconds', () => {
    expect([parseDuration('500ms'), parseDuration('10s'), parseDuration('2m'), parseDuration('1h'), parseDuration('7'), parseDuration('1.5s')]).toEqual([0.5, 10, 120, 3600, 7, 1.5]);
    expect(errorOf(() => parseDuration('ten'))).toBe('--duration must be a positive duration like 10s, 2m or 500ms, got "ten"');
    expect(errorOf(() => parseDuration('0s'))).toBe('--duration must be a positive duration like 10s, 2m or 500ms, got "0s"');
  });
});

describe('apistack loadtest flags', () => {
  const bad = (args: string[]) => {
    const r = cli(['loadtest', ...args]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    return { status: r.status, error: r.stderr.trim() };
  };

  // One case per mistake: each spawns the CLI, and a loaded machine must not time a list of them out.
  const target = 'http://127.0.0.1:9';
  it.each([
    [['--scenario', 'status'], 'error: say where to send the load: --target URL, or --local to bring up a local environment for the run'],
    [['--target', target], 'error: say what to run: --scenario NAME (status, read, write, mixed, spike, soak) or --scenario FILE (.json/.yaml)'],
    [['--target', target, '--local', '--scenario', 'status'], 'error: give --target URL or --local, not both'],
    [['--target', 'localhost:8080', '--scenario', 'status'], 'error: --target must be an http:// or https:// URL, got "localhost:8080"'],
    [['--target', target, '--scenario', 'status', '--duration', '10 minutes'], 'error: --duration must be a positive duration like 10s, 2m or 500ms, got "10 minutes"'],
    [['--target', target, '--scenario', 'status', '--connections', '0'], 'error: --connections must be a whole number of at least 1, got "0"'],
    [['--target', target, '--scenario', 'status', '--format', 'pdf'], 'error: --format must be one of text, json, md, html, got "pdf"'],
    [['--target', target, '--scenario', 'status', '--profile', 'nope'], /^error: .*nope/],
  ] as const)('each mistake is one line, exit 1, before anything runs: %j', (args, error) => {
    expect(bad([...args])).toMatchObject({ status: 1, error: typeof error === 'string' ? error : expect.stringMatching(error) });
  });

  it('nothing listening on the port is said at once, not after thousands of refused requests', async () => {
    const free = `http://127.0.0.1:${await freePort()}`;
    expect(bad(['--target', free, '--scenario', 'status', '--duration', '1s'])).toEqual({ status: 1, error: `error: cannot connect to ${free}: ECONNREFUSED; is the target running and the URL right?` });
  });

  it('an engine that cannot run the scenario, or a bad warm-up, is refused before anything runs', () => {
    expect(bad(['--target', 'http://127.0.0.1:9', '--scenario', 'status', '--rate', '100', '--engine', 'wrk'])).toEqual({
      status: 1,
      error: 'error: --engine wrk cannot run scenario status: it drives a fixed rate; use --engine autocannon (or auto) for it',
    });
    expect(bad(['--target', 'http://127.0.0.1:9', '--scenario', 'status', '--warmup', 'soon'])).toEqual({ status: 1, error: 'error: --warmup must be a positive duration like 10s, 2m or 500ms, got "soon"' });
  });

  it('a scenario file with problems lists them all, exit 1', () => {
    const path = file('cli-typo.yaml', 'name: t\ndescription: d\ndurationSeconds: 5\nconnections: 10\nmix: [{ kind: status, weight: 1 }]\nthresholds: { p95: 20 }\n');
    const r = bad(['--target', 'http://127.0.0.1:9', '--scenario', path]);
    expect(r).toEqual({ status: 1, error: `error: scenario ${path} is invalid (1 problem):\n  - thresholds.p95: unknown field; did you mean "thresholds.p95Ms"?` });
  });
});

describe('latency histogram', () => {
  it('percentiles within 0.5% of the exact ones over five orders of magnitude', () => {
    const h = new LatencyHistogram();
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 50_000 }, () => 0.05 * 10 ** (random() * 5));
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [10, 25, 50, 75, 90, 95, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact, `p${p}`).toBeLessThan(0.005);
    }
    expect(h.max).toBe(sorted.at(-1));
    expect(h.count).toBe(50_000);
    const buckets = h.displayBuckets();
    expect(buckets.reduce((sum, b) => sum + b.count, 0)).toBe(50_000);
    // The last bucket holds the maximum.
    expect(buckets.at(-1)!.fromMs).toBeLessThanOrEqual(h.max);
    expect(buckets.at(-1)!.toMs).toBeGreaterThanOrEqual(h.max - 1e-6);
  });
});
