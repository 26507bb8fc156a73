/** `work`, or a rejection (naming `what`, or `expiredError()`) once `ms` have passed; the timer never outlives the race. */
export async function withTimeout<T>(work: PromiseLike<T>, ms: number, what: string, expiredError?: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expiredError?.() ?? new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
