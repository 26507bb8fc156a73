/**
 * What each request kind of a scenario sends, given what setup seeded: the one definition the
 * local runner draws from (the k6 script renders the same rules from the same scenario).
 */
import type { RequestKind, Scenario } from './scenario.ts';

/** What setup left for the load to use: the users to read and the API keys to write with. */
const STATUS_PATH = '/api/status';

export interface SeedData {
  /** The seeded users' ids, as inclusive ranges (one per bulk insert). */
  readonly userIdRanges: readonly { readonly first: number; readonly last: number }[];
  /** API keys for POST /api/events, used round-robin. */
  readonly apiKeys: readonly string[];
}

export const NO_SEED: SeedData = Object.freeze({ userIdRanges: [], apiKeys: [] });

export interface PlannedRequest {
  readonly kind: RequestKind;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface RequestPlanOptions {
  /** Prefix of every path (a target URL's own path, without a trailing slash). @default '' */
  readonly basePath?: string;
  /** Makes the Idempotency-Keys of this run unique across runs. */
  readonly runId: string;
}

/**
 * A generator of requests for the scenario's mix: each request's kind drawn by weight, reads
 * uniform over the seeded users, writes with the API keys in turn and an Idempotency-Key used
 * once (so every accepted write is a new committed row, never a replay).
 */
export function requestPlan(scenario: Scenario, seed: SeedData, opts: RequestPlanOptions): () => PlannedRequest {
  const random = Math.random;
  const base = opts.basePath ?? '';
  const kinds = scenario.mix.map((m) => m.kind);
  const totalWeight = scenario.mix.reduce((sum, m) => sum + m.weight, 0);
  const cumulative = scenario.mix.reduce<number[]>((acc, m) => [...acc, (acc.at(-1) ?? 0) + m.weight / totalWeight], []);
  const users = seed.userIdRanges.reduce((sum, r) => sum + (r.last - r.first + 1), 0);
  if (kinds.includes('read') && users === 0) throw new Error(`scenario ${scenario.name} reads users but setup seeded none`);
  if (kinds.includes('write') && seed.apiKeys.length === 0) throw new Error(`scenario ${scenario.name} writes events but setup created no API key`);

  const userAt = (index: number): number => {
    for (const r of seed.userIdRanges) {
      const size = r.last - r.first + 1;
      if (index < size) return r.first + index;
      index -= size;
    }
    return seed.userIdRanges.at(-1)!.last;
  };

  let writes = 0;
  const pick = (): RequestKind => {
    if (kinds.length === 1) return kinds[0]!;
    const x = random();
    const i = cumulative.findIndex((c) => x < c);
    return kinds[i === -1 ? kinds.length - 1 : i]!;
  };

  const statusPath = `${base}${STATUS_PATH}`;
  return (): PlannedRequest => {
    const kind = pick();
    switch (kind) {
      case 'status':
        return { kind, method: 'GET', path: statusPath, headers: {} };
      case 'read':
        return { kind, method: 'GET', path: `${base}/api/users/${userAt(Math.floor(random() * users))}`, headers: {} };
      case 'write': {
        const n = writes++;
        return {
          kind,
          method: 'POST',
          path: `${base}/api/events`,
          headers: {
            'content-type': 'application/json',
            'x-api-key': seed.apiKeys[n % seed.apiKeys.length]!,
            'idempotency-key': `${opts.runId}-${n}`,
          },
          body: JSON.stringify({ type: 'loadtest', payload: { run: opts.runId, n } }),
        };
      }
    }
  };
}

/**
 * The one request every request of the scenario is, when they are all the same (a status-only
 * mix): sent as a prebuilt buffer, which costs the generator less per request.
 */
export function fixedRequest(scenario: Scenario, basePath = ''): PlannedRequest | undefined {
  const kinds = new Set(scenario.mix.map((m) => m.kind));
  if (kinds.size !== 1 || !kinds.has('status')) return undefined;
  return { kind: 'status', method: 'GET', path: `${basePath}${STATUS_PATH}`, headers: {} };
}
