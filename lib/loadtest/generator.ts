/**
 * The load generator's own load: how busy it was (process CPU over the run, as % of one core)
 * and how late its event loop ran (p99 of perf_hooks' event-loop delay). A generator near a full
 * core, or whose loop lags, is the limit of the run: what it reports is a lower bound of what
 * the target can serve.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Busy at or above this (% of one core): the generator, not the target, set the pace. */
export const SATURATED_CPU_PERCENT = 85;
/**
 * On a CPU or waiting for one (the run queue) this much of the run, in % of one core: the
 * generator wanted a core all along, and on a machine shared with the stack did not get it.
 */
export const SATURATED_DEMAND_PERCENT = 85;
/** Event-loop delay p99 at or above this: answers waited for the generator to read them. */
export const SATURATED_EVENT_LOOP_P99_MS = 50;

export interface GeneratorLoad {
  /** Process CPU (user + system) over the run, in % of one core (a multi-threaded engine may pass 100). */
  readonly cpuPercent: number;
  /** p99 of the event loop's delay over the run, in ms (0 for an engine without one). */
  readonly eventLoopDelayP99Ms: number;
  /** Time its thread waited in the run queue for a core, in % of the run (Linux; absent elsewhere). */
  readonly runQueuePercent?: number;
}

/** Whether the generator was the limit of the run. */
export function generatorSaturated(load: GeneratorLoad, cores = 1): boolean {
  return (
    load.cpuPercent >= SATURATED_CPU_PERCENT * cores ||
    load.cpuPercent + (load.runQueuePercent ?? 0) >= SATURATED_DEMAND_PERCENT * cores ||
    load.eventLoopDelayP99Ms >= SATURATED_EVENT_LOOP_P99_MS
  );
}

const RESOLUTION_MS = 10;

/** Nanoseconds this thread waited for a CPU so far (/proc/thread-self/schedstat), undefined where there is none. */
function runQueueNs(): number | undefined {
  try {
    const v = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(v[1]) ? v[1] : undefined;
  } catch {
    return undefined;
  }
}

/** Starts measuring this process; `stop()` says what it cost until then. */
export function startGeneratorMeter(): { stop(): GeneratorLoad } {
  const cpu0 = process.cpuUsage();
  const wait0 = runQueueNs();
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  return {
    stop() {
      loop.disable();
      const cpu = process.cpuUsage(cpu0);
      const wallUs = Math.max(1, (performance.now() - t0) * 1000);
      // The histogram holds the whole interval between its timer's runs: the delay is what exceeds the resolution.
      const p99 = loop.count > 0 ? Math.max(0, loop.percentile(99) / 1e6 - RESOLUTION_MS) : 0;
      const wait1 = runQueueNs();
      const runQueue = wait0 !== undefined && wait1 !== undefined ? { runQueuePercent: Number(((((wait1 - wait0) / 1000) / wallUs) * 100).toFixed(1)) } : {};
      return { cpuPercent: Number((((cpu.user + cpu.system) / wallUs) * 100).toFixed(1)), eventLoopDelayP99Ms: Number(p99.toFixed(2)), ...runQueue };
    },
  };
}
