/**
 * The part of autocannon's programmatic API the runner uses, typed (autocannon ships no types).
 * @see https://github.com/mcollina/autocannon#api
 */
import type { EventEmitter } from 'node:events';
// @ts-expect-error autocannon ships no types; the interfaces below describe what is used
import autocannonModule from 'autocannon';

export interface AutocannonRequest {
  readonly method?: string;
  readonly path?: string;
  /** Called before each request is sent; returns the request to send. */
  readonly setupRequest?: (req: Record<string, unknown>, context: Record<string, unknown>) => Record<string, unknown>;
  /** Called with each answer, and the context setupRequest saw for its request. */
  readonly onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

export interface AutocannonOptions {
  readonly url: string;
  readonly connections: number;
  /** Seconds; ignored when `amount` is given. */
  readonly duration?: number;
  /** Stop after this many requests in total. */
  readonly amount?: number;
  /** Requests per second over all connections. */
  readonly overallRate?: number;
  /** Seconds a request may take before it counts as a timeout. */
  readonly timeout?: number;
  /** Milliseconds between autocannon's samples, which is also how often it checks for the end. @default 1000 */
  readonly sampleInt?: number;
  readonly requests?: readonly AutocannonRequest[];
}

/** The run's event emitter: 'response' (client, statusCode, bytes, ms) and 'reqError' (error) per request. */
export interface AutocannonInstance extends EventEmitter {
  stop(): void;
}

export interface AutocannonResult {
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

type Autocannon = (opts: AutocannonOptions, cb: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

export const autocannon = autocannonModule as Autocannon;
