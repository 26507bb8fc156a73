/**
 * A scenario's setup, run once per run before any load (never once per runner or per
 * connection): seed the users to read and create the API keys to write with, through the
 * API itself, so it works the same against any target.
 */
import { UserError } from '../errors.ts';
import type { SeedData } from './requests.ts';
import type { Scenario } from './scenario.ts';

/** The API refuses larger bulk inserts (app/src/routes/users.ts, MAX_BULK_USERS). */
const USERS_PER_BATCH = 10_000;
/** API keys created at once: enough to be quick, few enough not to queue on the pool. */
const KEY_CONCURRENCY = 8;

export interface SetupOptions {
  /** Base URL of the API (through the balancer). */
  readonly url: string;
  /** Needed to create API keys: the stack's ADMIN_TOKEN. */
  readonly adminToken?: string;
  /** Makes the seeded emails unique across runs. */
  readonly runId: string;
  readonly log?: (line: string) => void;
  /** Per request. @default 30000 */
  readonly timeoutMs?: number;
}

export interface SetupResult extends SeedData {
  readonly users: number;
  readonly seconds: number;
}

/** Throws a UserError naming what to do when setup needs an admin token and none was given. */
export function checkSetupInputs(scenario: Scenario, adminToken: string | undefined): void {
  if (adminToken) return;
  const keys = scenario.setup?.apiKeys ?? 0;
  const users = scenario.setup?.users ?? 0;
  // Creating API keys and writing users both take the admin token.
  const what = [...(users > 0 ? [`seeds ${users} users`] : []), ...(keys > 0 ? [`creates ${keys} API keys`] : [])].join(' and ');
  if (what) {
    throw new UserError(
      `scenario ${scenario.name} ${what} before the run, which needs the stack's admin token: pass --admin-token T or set APISTACK_ADMIN_TOKEN (with --local it is read from the local environment)`,
    );
  }
}

async function post(url: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; json: unknown; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new UserError(`setup could not reach ${url}: ${cause}; is the target running?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function refused(what: string, url: string, r: { status: number; text: string }, hint = ''): UserError {
  return new UserError(`setup failed: ${what} at ${url} answered ${r.status}: ${r.text.slice(0, 200)}${hint}`);
}

export async function runSetup(scenario: Scenario, opts: SetupOptions): Promise<SetupResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const base = opts.url.replace(/\/+$/, '');
  const wantUsers = scenario.setup?.users ?? 0;
  const wantKeys = scenario.setup?.apiKeys ?? 0;
  checkSetupInputs(scenario, opts.adminToken);

  const userIdRanges: { first: number; last: number }[] = [];
  if (wantUsers > 0) log(`setup: seeding ${wantUsers} users`);
  for (let offset = 0; offset < wantUsers; offset += USERS_PER_BATCH) {
    const size = Math.min(USERS_PER_BATCH, wantUsers - offset);
    const users = Array.from({ length: size }, (_, i) => ({ name: `Load ${offset + i}`, email: `lt-${opts.runId}-${offset + i}@example.com` }));
    const url = `${base}/api/users/bulk`;
    const r = await post(url, { users }, { authorization: `Bearer ${opts.adminToken}` }, timeoutMs);
    const body = r.json as { inserted?: number; firstId?: string; lastId?: string } | undefined;
    if (r.status !== 201 || body?.inserted !== size || body.firstId === undefined || body.lastId === undefined) throw refused('POST /api/users/bulk', url, r);
    const first = Number(body.firstId);
    const last = Number(body.lastId);
    // One multi-row INSERT before any load: its ids are consecutive. Anything else would make
    // reads miss, so it is checked rather than assumed.
    if (last - first + 1 !== size) throw new UserError(`setup: the ${size} seeded users got ids ${first}..${last}, not a consecutive range; is something else writing users during setup?`);
    userIdRanges.push({ first, last });
  }

  const apiKeys: string[] = [];
  if (wantKeys > 0) log(`setup: creating ${wantKeys} API keys`);
  const url = `${base}/api/keys`;
  let next = 0;
  const worker = async () => {
    while (next < wantKeys) {
      next++;
      const r = await post(url, {}, { authorization: `Bearer ${opts.adminToken}` }, timeoutMs);
      const key = (r.json as { key?: string } | undefined)?.key;
      if (r.status === 401) throw refused('POST /api/keys', url, r, '; the admin token was refused: pass the stack\'s ADMIN_TOKEN with --admin-token or APISTACK_ADMIN_TOKEN');
      if (r.status !== 201 || typeof key !== 'string') throw refused('POST /api/keys', url, r);
      apiKeys.push(key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEY_CONCURRENCY, wantKeys) }, worker));

  return { userIdRanges, apiKeys, users: wantUsers, seconds: (performance.now() - started) / 1000 };
}
