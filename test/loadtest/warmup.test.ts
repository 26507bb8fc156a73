/** Which runs get a warm-up by default, and how a scenario or the command line changes it. */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, DEFAULT_WARMUP_SECONDS, parseScenario, warmupSecondsOf, withOverrides } from '../../lib/loadtest/index.ts';

const status = BUILTIN_SCENARIOS.status!;

describe('warm-up', () => {
  it('defaults to a few seconds for a closed-loop timed run (ramps too), none for a request count or a fixed rate', () => {
    expect(DEFAULT_WARMUP_SECONDS).toBeGreaterThan(0);
    expect(warmupSecondsOf(status)).toBe(DEFAULT_WARMUP_SECONDS);
    expect(warmupSecondsOf(BUILTIN_SCENARIOS.spike!)).toBe(DEFAULT_WARMUP_SECONDS);
    expect(warmupSecondsOf(withOverrides(status, { requests: 1000 }))).toBe(0);
    expect(warmupSecondsOf(BUILTIN_SCENARIOS.soak!)).toBe(0);
  });

  it('a scenario file and --warmup override it, 0 included', () => {
    expect(warmupSecondsOf(parseScenario({ ...status, warmupSeconds: 7 }, 'file'))).toBe(7);
    expect(warmupSecondsOf(withOverrides(status, { warmupSeconds: 0 }))).toBe(0);
    expect(warmupSecondsOf(withOverrides(withOverrides(status, { requests: 100 }), { warmupSeconds: 2 }))).toBe(2);
    expect(() => parseScenario({ ...status, warmupSeconds: -1 }, 'bad.yaml')).toThrow(/warmupSeconds/);
  });
});
