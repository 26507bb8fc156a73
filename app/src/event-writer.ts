/**
 * Group commit for event ingestion: inserts from concurrent requests in this worker go to
 * Postgres together, as one multi-row statement in one short transaction, instead of one
 * statement and one commit each. Nothing waits for a timer: the first event goes at once, and
 * events arriving while a batch is in flight form the next batch. Each caller's promise settles
 * only after its batch has committed, so `202 Accepted` still means the row is stored.
 */
import { databaseDown, isConnectionError, type Sql } from './db.ts';
import { ApiError, errors } from './errors.ts';
import { withTimeout } from './timeout.ts';

export interface NewEvent {
  readonly apiKeyId: string;
  readonly idempotencyKey: string | null;
  readonly requestHash: string;
  readonly type: string;
  readonly payload: Record<string, unknown>;
}

interface Queued {
  /** The row as JSON, serialised on arrival: a payload that cannot be is refused alone, before any batch. */
  readonly row: string;
  /** Answers 503 if the event is still queued after queueWaitMs; cleared when it joins a batch. */
  timer?: NodeJS.Timeout;
  readonly resolve: (id: string | undefined) => void;
  readonly reject: (e: unknown) => void;
}

export interface EventWriterOptions {
  /** Rows per statement at most. */
  readonly maxBatch: number;
  /** Batches in flight at once; more overlap network round trips, fewer make bigger batches. */
  readonly maxInFlight: number;
  /**
   * A batch not settled by then fails (503) and frees its slot, whatever the driver does: a
   * promise that never settles cannot wedge the writer.
   * @default 30000
   */
  readonly batchDeadlineMs?: number;
  /**
   * An event still waiting for a batch slot after this long is answered 503 (busy), as a query
   * that gets no pool connection is.
   * @default 2000
   */
  readonly queueWaitMs?: number;
}

/** Runs one statement through the caller's bounded pool wrapper. */
export type QueryRunner = <T>(work: (db: Sql) => PromiseLike<T>) => Promise<T>;

const codeOf = (e: unknown) => String((e as { code?: string }).code ?? '');
/** Deadlock or serialization failure: nothing was written, so one retry is safe. */
const isSerializationFailure = (e: unknown) => ['40P01', '40001'].includes(codeOf(e));
/**
 * Postgres refused the statement for its data (bad input, a constraint, a value it cannot store):
 * nothing was written, and the fault may be one row's, so the rows are worth writing one by one.
 * Not for connection trouble, a server shutting down or a cancelled statement (classes 08, 53,
 * 57): those are every row's, and retrying would only add load.
 */
const isStatementRefused = (e: unknown) => typeof e === 'object' && e !== null && 'severity' in e && !isConnectionError(e) && !/^(08|40|53|57)/.test(codeOf(e));

export class EventWriter {
  readonly #queue: Queued[] = [];
  #inFlight = 0;
  readonly #batchDeadlineMs: number;
  readonly #queueWaitMs: number;

  constructor(
    private readonly sql: Sql,
    private readonly query: QueryRunner,
    private readonly options: EventWriterOptions,
  ) {
    this.#batchDeadlineMs = options.batchDeadlineMs ?? 30_000;
    this.#queueWaitMs = options.queueWaitMs ?? 2000;
  }

  /** Inserts the event; resolves with its id once committed, or undefined when the idempotency key already exists. */
  insert(event: NewEvent): Promise<string | undefined> {
    let row: string;
    try {
      row = JSON.stringify([event.apiKeyId, event.idempotencyKey, event.requestHash, event.type, event.payload]);
    } catch (e) {
      return Promise.reject(errors.validation(`payload cannot be stored: ${(e as Error).message}`));
    }
    // The database is known to be down and the writer's slots are taken (by a probe): the
    // event would wait only to hear the same. Answer now.
    const down = this.#inFlight >= this.options.maxInFlight ? databaseDown(this.sql) : undefined;
    if (down !== undefined) return Promise.reject(errors.unavailable(`the database is unavailable (${down}); retry shortly`));
    return new Promise((resolve, reject) => {
      const queued: Queued = { row, resolve, reject };
      this.#queue.push(queued);
      this.#pump();
      if (this.#queue.at(-1) === queued) {
        queued.timer = setTimeout(() => {
          const at = this.#queue.indexOf(queued);
          if (at < 0) return;
          this.#queue.splice(at, 1);
          reject(errors.unavailable('the database is busy: the event writer is behind; retry shortly'));
        }, this.#queueWaitMs);
      }
    });
  }

  #pump(): void {
    while (this.#inFlight < this.options.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      for (const q of batch) clearTimeout(q.timer);
      this.#inFlight++;
      void this.#write(batch)
        // #write answers every caller itself; this only keeps an unexpected throw from escaping.
        .catch((e: unknown) => batch.forEach((q) => q.reject(e)))
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }

  async #write(batch: Queued[], attempt = 0): Promise<void> {
    try {
      const inserted = await withTimeout(this.query((db) => this.#insertStatement(db, batch)), this.#batchDeadlineMs, 'event batch', () =>
        errors.unavailable(`the database is unavailable (an event batch did not finish within ${this.#batchDeadlineMs} ms); retry shortly`),
      );
      const ids = idsInOrder(batch.length, inserted);
      batch.forEach((q, i) => q.resolve(ids[i]));
    } catch (e) {
      if (batch.length > 1 && isStatementRefused(e)) {
        // One bad row must not fail its neighbours: write them one by one (in turn, so the pool
        // is not flooded), each with its own answer.
        for (const q of batch) await this.#write([q]);
        return;
      }
      if (attempt === 0 && isSerializationFailure(e)) return this.#write(batch, 1);
      for (const q of batch) q.reject(e);
      // The database is gone or stalled: the events queued behind this batch would meet the
      // same answer, later. Answer them now.
      if (e instanceof ApiError && e.statusCode === 503) {
        for (const q of this.#queue.splice(0)) {
          clearTimeout(q.timer);
          q.reject(e);
        }
      }
    }
  }

  /** One statement: ids come from the sequence up front so each row maps back to its request. */
  #insertStatement(db: Sql, batch: Queued[]) {
    // Sent as text: with a jsonb parameter, postgres.js would serialise the string once more.
    const rows = `[${batch.map((q) => q.row).join(',')}]`;
    return db<{ ord: string; id: string }[]>`
      WITH input AS MATERIALIZED (
        SELECT nextval('events_id_seq') AS id, r.ord, r.v
        FROM jsonb_array_elements(${rows}::text::jsonb) WITH ORDINALITY AS r(v, ord)
      ), inserted AS (
        INSERT INTO events (id, api_key_id, idempotency_key, request_hash, type, payload)
        -- Key order, not arrival order: two batches holding the same Idempotency-Keys then wait
        -- on each other in one direction only, never in a deadlock.
        SELECT id, (v->>0)::bigint, v->>1, v->>2, v->>3, v->4 FROM input ORDER BY (v->>0)::bigint, v->>1
        ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
        RETURNING id
      )
      SELECT input.ord, input.id FROM input JOIN inserted USING (id)`;
  }
}

/** Each request's id by its position in the batch; undefined where its Idempotency-Key already existed. */
function idsInOrder(count: number, inserted: readonly { ord: string; id: string }[]): (string | undefined)[] {
  const ids: (string | undefined)[] = new Array(count).fill(undefined);
  for (const row of inserted) ids[Number(row.ord) - 1] = String(row.id);
  return ids;
}
