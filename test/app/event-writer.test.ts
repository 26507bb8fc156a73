/** Group commit for events against a real Postgres: batching, row mapping, and per-row faults. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, migrate, type Sql } from '../../app/src/db.ts';
import { EventWriter, type NewEvent } from '../../app/src/event-writer.ts';
import { usePostgres } from '../helpers/servers.ts';

const pg = usePostgres();
let sql: Sql;
let apiKeyId: string;

beforeAll(async () => {
  sql = connect(pg().url, { max: 4, statementTimeoutMs: 10_000 });
  await migrate(sql);
  const [key] = await sql<{ id: string }[]>`INSERT INTO api_keys (key_hash) VALUES ('event-writer-test') RETURNING id`;
  apiKeyId = key!.id;
});
afterAll(async () => {
  await sql?.end({ timeout: 1 });
});

/** A writer whose statements are counted. */
function countingWriter(options: { maxBatch: number; maxInFlight: number }) {
  const counter = { statements: 0 };
  const writer = new EventWriter(
    sql,
    async (work) => {
      counter.statements++;
      return work(sql);
    },
    options,
  );
  return { writer, counter };
}

const event = (n: number, extra: Partial<NewEvent> = {}): NewEvent => ({ apiKeyId, idempotencyKey: null, requestHash: `h${n}`, type: 'writer-test', payload: { n }, ...extra });

describe('event group commit', () => {
  it('writes concurrent events in fewer statements, and each caller gets the id of its own row', async () => {
    const { writer, counter } = countingWriter({ maxBatch: 200, maxInFlight: 1 });
    const ids = await Promise.all(Array.from({ length: 100 }, (_, n) => writer.insert(event(n))));
    // The first goes alone at once; the 99 that arrived meanwhile share the next statement.
    expect(counter.statements).toBe(2);
    expect(new Set(ids).size).toBe(100);
    const rows = await sql<{ id: string; payload: { n: number } }[]>`SELECT id, payload FROM events WHERE id IN ${sql(ids as string[])}`;
    const byId = new Map(rows.map((r) => [String(r.id), r.payload.n]));
    ids.forEach((id, n) => expect(byId.get(id!)).toBe(n));
  });

  it('splits batches at maxBatch', async () => {
    const { writer, counter } = countingWriter({ maxBatch: 10, maxInFlight: 1 });
    const ids = await Promise.all(Array.from({ length: 31 }, (_, n) => writer.insert(event(n))));
    expect(ids.every((id) => id !== undefined)).toBe(true);
    // 1 at once, then 30 queued in batches of 10.
    expect(counter.statements).toBe(4);
  });

  it('stores one row for a duplicate Idempotency-Key within one batch and reports the other as existing', async () => {
    const { writer } = countingWriter({ maxBatch: 200, maxInFlight: 1 });
    const idem = `dup-${Date.now()}`;
    const [, a, b] = await Promise.all([writer.insert(event(0)), writer.insert(event(1, { idempotencyKey: idem })), writer.insert(event(2, { idempotencyKey: idem }))]);
    expect([a, b].filter((id) => id !== undefined)).toHaveLength(1);
    const [{ count }] = (await sql`SELECT count(*)::int AS count FROM events WHERE idempotency_key = ${idem}`) as unknown as [{ count: number }];
    expect(count).toBe(1);
  });

  it('fails only the row Postgres rejects, not its neighbours in the batch', async () => {
    const { writer } = countingWriter({ maxBatch: 200, maxInFlight: 1 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, n) => writer.insert(event(n, n === 3 ? { payload: { bad: 'nul \u0000 char' } } : {}))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[3] as PromiseRejectedResult).reason.code).toBe('22P05');
  });

  it('rejects every caller of a batch when the database is unreachable', async () => {
    const dead = connect('postgres://nobody@127.0.0.1:1/none', { max: 1, statementTimeoutMs: 1000 });
    const writer = new EventWriter(dead, async (work) => work(dead), { maxBatch: 200, maxInFlight: 1 });
    const results = await Promise.allSettled([writer.insert(event(0)), writer.insert(event(1))]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    await dead.end({ timeout: 0 });
  });
});
