import { errors } from '../errors.ts';

/** The largest Postgres bigint: a cursor beyond it is forged, and must be a 400, not a database error. */
export const MAX_BIGINT = 2n ** 63n - 1n;

/** Opaque keyset cursors: the last id seen, tagged with what it pages over. */
export function encodeCursor(kind: string, id: string): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

export function decodeCursor(kind: string, cursor: string | undefined): string {
  if (cursor === undefined) return '0';
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^([a-z]+):(\d{1,19})$/.exec(text);
  if (!m || m[1] !== kind || BigInt(m[2]!) > MAX_BIGINT) throw errors.badCursor();
  return m[2]!;
}

export const ID_PARAM = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } } } as const;
/** Query strings arrive as text: 1 to 1000, default 100. */
export const LIMIT = { type: 'string', pattern: '^([1-9][0-9]{0,2}|1000)$', default: '100' } as const;

export const PAGE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: LIMIT, cursor: { type: 'string', maxLength: 200 } },
} as const;
