/** Parsing the CLI's numeric and target flags: one wording for every command. */
import type { Target } from '../../lib/cost/index.ts';
import { UserError } from '../../lib/errors.ts';

export function parseTarget(value: string, what = 'target'): Target {
  if (value === 'aws' || value === 'k8s') return value;
  throw new UserError(`unknown ${what} "${value}"; use aws or k8s`);
}

/** A positive number (or, with allowZero, zero or more). */
export function parsePositive(flag: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new UserError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${value}"`);
  return n;
}

export function parsePositiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a whole number of at least 1, got "${value}"`);
  return n;
}
