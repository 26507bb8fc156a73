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
  /** Called with each connection's client as it is created. */
  readonly setupClient?: (client: AutocannonClient) => void;
}

/** One connection of a run (lib/httpClient.js); the underscored methods are autocannon's own. */
export interface AutocannonClient extends EventEmitter {
  _doRequest(...args: unknown[]): void;
  _resetConnection(): void;
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

/**
 * Make a client honour `Connection: close`. autocannon 8 writes the next request on a connection
 * whose last answer announced it closes (nginx does so every `keepalive_requests`, 1,000 by
 * default; Node servers with maxRequestsPerSocket answer 503 to what follows): it would count a
 * reset or an error the server never caused. After such an answer the client reconnects, and the
 * next request goes out on the new connection, once, as HTTP clients do.
 */
export function honourConnectionClose(client: AutocannonClient): void {
  let closing = false;
  let skipNext = false;
  const doRequest = client._doRequest;
  client._doRequest = function (this: AutocannonClient, ...args: unknown[]) {
    if (skipNext) {
      skipNext = false;
      return;
    }
    doRequest.apply(this, args);
  };
  // http-parser-js tells from the version and the Connection header whether the server keeps the connection.
  client.on('headers', (info: { shouldKeepAlive?: boolean }) => {
    closing = info.shouldKeepAlive === false;
  });
  // Runs before autocannon records the answer and sends the next request (this listener is older).
  client.on('response', () => {
    if (!closing) return;
    closing = false;
    // Reconnects and sends the next request on the new connection...
    client._resetConnection();
    // ...so the one autocannon sends right after this event is already on its way.
    skipNext = true;
  });
}
