/**
 * The load generator's own load: how busy it was (process CPU over the run, as % of one core)
 * and how late its event loop ran (p99 of perf_hooks' event-loop delay). A generator near a full
 * core, or whose loop lags, is the limit of the run: what it reports is a lower bound of what
 * the target can serve.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Busy at or above this (% of one core): the generator, not the target, set the pace. */
export const SATURATED_CPU_PERCENT = 85;
/** Event-loop delay p99 at or above this: answers waited for the generator to read them. */
export const SATURATED_EVENT_LOOP_P99_MS = 50;

export interface GeneratorLoad {
  /** Process CPU (user + system) over the run, in % of one core (a multi-threaded engine may pass 100). */
  readonly cpuPercent: number;
  /** p99 of the event loop's delay over the run, in ms (0 for an engine without one). */
  readonly eventLoopDelayP99Ms: number;
}

/** Whether the generator was the limit of the run. */
export function generatorSaturated(load: GeneratorLoad, cores = 1): boolean {
  return load.cpuPercent >= SATURATED_CPU_PERCENT * cores || load.eventLoopDelayP99Ms >= SATURATED_EVENT_LOOP_P99_MS;
}

const RESOLUTION_MS = 10;

/** Starts measuring this process; `stop()` says what it cost until then. */
export function startGeneratorMeter(): { stop(): GeneratorLoad } {
  const cpu0 = process.cpuUsage();
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
      return { cpuPercent: Number((((cpu.user + cpu.system) / wallUs) * 100).toFixed(1)), eventLoopDelayP99Ms: Number(p99.toFixed(2)) };
    },
  };
}
