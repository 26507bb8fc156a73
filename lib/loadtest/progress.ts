/**
 * Live progress of a run: on a terminal, one line redrawn in place (a bar, elapsed time,
 * requests, throughput, p95, failures); otherwise (CI logs, pipes) a plain line every few
 * seconds. The caller says which it is: only entry points look at the environment.
 */
import type { RunProgress } from './runner.ts';
import { fixed, int, msText } from './wording.ts';

export interface ProgressStream {
  write(text: string): unknown;
}

export interface ProgressPrinterOptions {
  /** Redraw one line in place. */
  readonly tty: boolean;
  /** Terminal width, for the bar. @default 80 */
  readonly columns?: number;
  /** Without a terminal, one line this often. @default a tenth of the run, from 1 to 10 s */
  readonly everySeconds?: number;
}

export interface ProgressPrinter {
  update(p: RunProgress): void;
  /** Ends the line on a terminal; call once the load is over. */
  done(): void;
}

function fraction(p: RunProgress): number | undefined {
  if (p.plannedSeconds) return Math.min(1, p.elapsedSeconds / p.plannedSeconds);
  if (p.plannedRequests) return Math.min(1, p.requests / p.plannedRequests);
  return undefined;
}

function numbers(p: RunProgress): string {
  const time = p.plannedSeconds ? `${fixed(p.elapsedSeconds, 1)}/${fixed(p.plannedSeconds, 0)} s` : `${fixed(p.elapsedSeconds, 1)} s`;
  const stage = `${p.stages > 1 ? `, stage ${p.stage}/${p.stages}` : ''}${p.warmupSeconds && p.elapsedSeconds < p.warmupSeconds ? ', warming up (not counted)' : ''}`;
  return `${time}, ${int(p.requests)}${p.plannedRequests ? `/${int(p.plannedRequests)}` : ''} requests, ${int(p.requestsPerSecond)} req/s, p95 ${msText(p.p95Ms)} ms, ${int(p.failed)} failed, ${int(p.connections)} connections${stage}`;
}

export function progressPrinter(stream: ProgressStream, opts: ProgressPrinterOptions): ProgressPrinter {
  let drawn = false;
  let nextPlainAt = 0;
  return {
    update(p) {
      const f = fraction(p);
      if (opts.tty) {
        const text = numbers(p);
        const columns = opts.columns ?? 80;
        const barWidth = Math.max(0, Math.min(30, columns - text.length - 9));
        const bar = f !== undefined && barWidth >= 5 ? `[${'#'.repeat(Math.round(f * barWidth)).padEnd(barWidth, '-')}] ${String(Math.floor(f * 100)).padStart(3)}% ` : '';
        stream.write(`\r\x1b[2K${bar}${text}`.slice(0, columns + 5));
        drawn = true;
        return;
      }
      const every = opts.everySeconds ?? Math.min(10, Math.max(1, Math.round((p.plannedSeconds ?? 10) / 10)));
      // Timers fire a little early or late: a tick just short of a boundary counts as on it.
      const elapsed = p.elapsedSeconds + 1e-3;
      if (elapsed < nextPlainAt) return;
      nextPlainAt = (Math.floor(elapsed / every) + 1) * every;
      if (p.elapsedSeconds < 0.5) return;
      stream.write(`loadtest: ${numbers(p)}\n`);
    },
    done() {
      if (opts.tty && drawn) stream.write('\n');
    },
  };
}
