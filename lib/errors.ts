/**
 * Errors that are the user's to fix, shared by every area: the command layer prints them as they
 * are, without a stack trace, and exits 1.
 */

/** A problem with user input: printed as is, without a stack trace, exit code 1. */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    message: string,
    /** Each separate problem, when there were several. */
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

/** A flag that takes one of a few words: the value, or the usual error naming the flag and the choices. */
export function parseChoice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UserError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
