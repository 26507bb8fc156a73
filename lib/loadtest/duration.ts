/** Durations on the command line: 500ms, 10s, 2m, 1h, or a bare number of seconds. */
import { UserError } from '../errors.ts';

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds, from "10s", "2m", "500ms", "1.5h" or "10"; a UserError naming the flag otherwise. */
export function parseDuration(value: string, flag = '--duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] ?? 's']! : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`${flag} must be a positive duration like 10s, 2m or 500ms, got "${value}"`);
  return Number(seconds.toFixed(6));
}
