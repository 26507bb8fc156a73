/**
 * Group commit for event ingestion: inserts from concurrent requests in this worker go to
 * Postgres together, as one multi-row statement in one short transaction, instead of one
 * statement and one commit each. Nothing waits for a timer: the first event goes at once, and
 * events arriving while a batch is in flight form the next batch. Each caller's promise settles
 * only after its batch has committed, so `202 Accepted` still means the row is stored.
 */
import type { Sql } from './db.ts';

export interface NewEvent {
  readonly apiKeyId: string;
  readonly idempotencyKey: string | null;
  readonly requestHash: string;
  readonly type: string;
  readonly payload: Record<string, unknown>;
}

interface Queued {
  readonly event: NewEvent;
  readonly resolve: (id: string | undefined) => void;
  readonly reject: (e: unknown) => void;
}

export interface EventWriterOptions {
  /** Rows per statement at most. */
  readonly maxBatch: number;
  /** Batches in flight at once; more overlap network round trips, fewer make bigger batches. */
  readonly maxInFlight: number;
}

/** Runs one statement through the caller's bounded pool wrapper. */
export type QueryRunner = <T>(work: (db: Sql) => PromiseLike<T>) => Promise<T>;

/** SQLSTATE classes for bad data and constraint violations: one row's fault, not the batch's. */
const isRowError = (e: unknown) => /^(22|23)/.test(String((e as { code?: string }).code ?? ''));
/** Deadlock or serialization failure: nothing was written, so one retry is safe. */
const isSerializationFailure = (e: unknown) => ['40P01', '40001'].includes(String((e as { code?: string }).code ?? ''));

export class EventWriter {
  readonly #queue: Queued[] = [];
  #inFlight = 0;

  constructor(
    private readonly sql: Sql,
    private readonly query: QueryRunner,
    private readonly options: EventWriterOptions,
  ) {}

  /** Inserts the event; resolves with its id once committed, or undefined when the idempotency key already exists. */
  insert(event: NewEvent): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.options.maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      this.#inFlight++;
      void this.#write(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #write(batch: Queued[], attempt = 0): Promise<void> {
    try {
      const events = batch.map((q) => q.event);
      const inserted = await this.query((db) => this.#insertStatement(db, events));
      const ids = idsInOrder(events.length, inserted);
      batch.forEach((q, i) => q.resolve(ids[i]));
    } catch (e) {
      if (batch.length > 1 && isRowError(e)) {
        // One bad row must not fail its neighbours: write them one by one (in turn, so the pool
        // is not flooded), each with its own answer.
        for (const q of batch) await this.#write([q]);
        return;
      }
      if (attempt === 0 && isSerializationFailure(e)) return this.#write(batch, 1);
      for (const q of batch) q.reject(e);
    }
  }

  /** One statement: ids come from the sequence up front so each row maps back to its request. */
  #insertStatement(db: Sql, events: NewEvent[]) {
    const rows = events.map((e) => [e.apiKeyId, e.idempotencyKey, e.requestHash, e.type, e.payload]);
    return db<{ ord: string; id: string }[]>`
      WITH input AS MATERIALIZED (
        SELECT nextval('events_id_seq') AS id, r.ord, r.v
        FROM jsonb_array_elements(${db.json(rows as never)}) WITH ORDINALITY AS r(v, ord)
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
