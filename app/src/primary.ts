/**
 * The primary: forks WEB_CONCURRENCY workers on one port (like gunicorn -w N), replaces
 * crashed ones with backoff, recycles them one at a time after MAX_REQUESTS, aggregates their
 * metrics, and shuts down gracefully on SIGTERM/SIGINT.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import pino from 'pino';
import { ClusterMetrics } from './cluster-metrics.ts';
import type { AppConfig } from './config.ts';
import { primaryMetrics } from './metrics.ts';
import type { PrimaryMessage, WorkerMessage } from './worker.ts';

/** Crashes within this window count towards a crash loop. */
const CRASH_WINDOW_MS = 10_000;

export function crashBackoffMs(recentCrashes: number): number {
  // The first crashes are replaced at once; a crash loop backs off exponentially up to 30 s.
  return recentCrashes < 3 ? 0 : Math.min(30_000, 250 * 2 ** (recentCrashes - 3));
}

/** A connection node:cluster's round robin is handing to a worker: a raw TCP handle. */
interface SentHandle {
  close(): void;
}
type ClusterMessage = { cmd?: string; act?: string; seq?: number; ack?: number };

/**
 * node:cluster's round robin accepts every connection in the primary and sends it to a worker,
 * closing its own copy only when the worker answers that it took it. A worker that dies first
 * never answers, and nothing else closes that copy: the client's connection stays open,
 * unanswered, until the client gives up (nginx: 504 after proxy_read_timeout). So the primary
 * keeps track of the connections it sent this worker that were not yet acknowledged (the
 * cluster's own `newconn` messages and their `ack`s) and closes them when it dies: the client
 * sees the close at once and can retry (nginx does, for a GET, on another replica).
 * @returns the function to call when the worker has exited; it answers how many it closed.
 */
export function closeConnectionsOnDeath(w: Worker): () => number {
  const unclaimed = new Map<number, SentHandle>();
  const proc = w.process;
  const send = proc.send.bind(proc) as (...args: unknown[]) => boolean;
  proc.send = ((message: ClusterMessage, handle?: unknown, ...rest: unknown[]) => {
    if (message?.cmd === 'NODE_CLUSTER' && message.act === 'newconn' && typeof message.seq === 'number' && handle) unclaimed.set(message.seq, handle as SentHandle);
    return send(message, handle, ...rest);
  }) as typeof proc.send;
  proc.on('internalMessage', (message: ClusterMessage) => {
    if (message?.cmd === 'NODE_CLUSTER' && typeof message.ack === 'number') unclaimed.delete(message.ack);
  });
  return () => {
    const closed = unclaimed.size;
    for (const handle of unclaimed.values()) {
      try {
        handle.close();
      } catch {
        // Already closed.
      }
    }
    unclaimed.clear();
    return closed;
  };
}

export function runPrimary(config: AppConfig): void {
  const log = pino({ level: config.logLevel, base: { role: 'primary', pid: process.pid } });
  const metrics = primaryMetrics();
  const clusterMetrics = new ClusterMetrics();
  const retiring = new Set<number>();
  /** Replacements forked by a recycle that have not listened yet. */
  const starting = new Set<number>();
  const recycleQueue: Worker[] = [];
  const crashes: number[] = [];
  let recycling = false;
  let shuttingDown = false;

  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  /** Tell a worker that may already be gone: a closed IPC channel must not crash the primary. */
  /**
   * Workers told to drain that have not yet closed their listener. A draining worker starts
   * answering `Connection: close` only when this is empty: by then the port refuses new
   * connections if no worker listens any more (a whole replica stopping), so the client's
   * reconnects are refused (and retried elsewhere by nginx) instead of being accepted by this
   * process and reset when its listening socket closes under them.
   */
  const closingListeners = new Set<number>();
  const waitingForListenersClosed = new Set<Worker>();
  const releaseDrainingWorkers = () => {
    if (closingListeners.size > 0) return;
    for (const w of waitingForListenersClosed) tell(w, { type: 'listeners-closed' });
    waitingForListenersClosed.clear();
  };
  const drain = (w: Worker) => {
    closingListeners.add(w.id);
    tell(w, { type: 'drain' });
  };
  /** Messages for workers still loading: held until the worker listens for them. */
  const held = new Map<number, PrimaryMessage[]>();
  const tell = (w: Worker, msg: PrimaryMessage) => {
    const waiting = held.get(w.id);
    if (waiting) return void waiting.push(msg);
    if (!w.isConnected()) return;
    w.send(msg, (err: Error | null) => {
      if (err) log.warn({ worker: w.process.pid, err: err.message }, `could not send ${msg.type}`);
    });
  };
  const fork = (): Worker => {
    const w = cluster.fork();
    held.set(w.id, []);
    const closeUnclaimed = closeConnectionsOnDeath(w);
    w.once('exit', () => {
      held.delete(w.id);
      const closed = closeUnclaimed();
      if (closed > 0) log.warn({ worker: w.process.pid, connections: closed }, 'closed connections handed to a worker that died before taking them');
    });
    w.on('error', (err) => log.warn({ worker: w.process.pid, err: err.message }, 'worker IPC error'));
    clusterMetrics.attach(w);
    w.on('message', (msg: WorkerMessage) => {
      if (msg?.type === 'accepting-messages') {
        const waiting = held.get(w.id) ?? [];
        held.delete(w.id);
        for (const m of waiting) tell(w, m);
      } else if (msg?.type === 'recycle-me' && !shuttingDown) {
        recycleQueue.push(w);
        void recycleNext();
      } else if (msg?.type === 'stopped-listening') {
        // In order after node:cluster's own "close" from this worker: the primary has already
        // taken it out of the round robin (and closed the port if it was the last).
        closingListeners.delete(w.id);
        waitingForListenersClosed.add(w);
        releaseDrainingWorkers();
      } else if (msg?.type === 'drained') {
        // Messages arrive in order, so this worker's listener close has been processed and no new
        // connection goes to it; now it may exit (see worker.ts).
        void clusterMetrics.retire(w.id, msg.metrics).finally(() => tell(w, { type: 'exit' }));
      }
    });
    return w;
  };

  async function recycleNext(): Promise<void> {
    if (recycling || shuttingDown) return;
    const old = recycleQueue.shift();
    if (!old) return;
    if (old.isDead()) return recycleNext();
    recycling = true;
    // From here the old worker's exit is a retirement, not a crash to replace.
    retiring.add(old.id);
    const oldExited = new Promise<void>((resolve) => (old.isDead() ? resolve() : old.once('exit', () => resolve())));
    // The replacement listens before the old worker stops accepting, so capacity never dips.
    const replacement = fork();
    starting.add(replacement.id);
    const listened = await new Promise<boolean>((resolve) => {
      replacement.once('listening', () => resolve(true));
      replacement.once('exit', () => resolve(false));
    });
    starting.delete(replacement.id);
    if (!listened) {
      // The replacement died first (counted as a crash): keep the old worker, or replace it if it
      // died too, and try again after the crash backoff.
      retiring.delete(old.id);
      if (old.isDead()) fork();
      else recycleQueue.unshift(old);
      recycling = false;
      setTimeout(() => void recycleNext(), Math.max(1000, crashBackoffMs(crashes.length)));
      return;
    }
    metrics.restarts.inc({ reason: 'recycle' });
    log.info({ worker: old.process.pid, replacement: replacement.process.pid }, 'recycling worker');
    drain(old);
    // It stops listening at once, and may linger for its clients to close their idle
    // connections (worker.ts); the next recycle need not wait for that.
    listening.delete(old.id);
    metrics.alive.set(listening.size);
    const timer = setTimeout(() => {
      if (!old.isDead()) old.process.kill('SIGKILL');
    }, config.gracefulTimeoutSeconds * 1000);
    void oldExited.then(() => clearTimeout(timer));
    recycling = false;
    void recycleNext();
  }

  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    closingListeners.delete(worker.id);
    waitingForListenersClosed.delete(worker);
    releaseDrainingWorkers();
    metrics.alive.set(listening.size);
    if (shuttingDown) return;
    if (retiring.delete(worker.id)) return;
    const failedReplacement = starting.has(worker.id);
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
    metrics.restarts.inc({ reason: 'crash' });
    if (failedReplacement) {
      // recycleNext() decides what replaces it.
      log.error({ worker: worker.process.pid, code, signal }, 'replacement worker died before listening');
      return;
    }
    const delay = crashBackoffMs(crashes.length);
    log.error({ worker: worker.process.pid, code, signal, restartInMs: delay }, 'worker crashed; replacing it');
    setTimeout(() => {
      if (!shuttingDown) fork();
    }, delay);
  });
  // Workers that have listened and not exited: those serving (or finishing) requests.
  const listening = new Set<number>();
  cluster.on('listening', (worker) => {
    if (retiring.has(worker.id) || shuttingDown) return;
    listening.add(worker.id);
    metrics.alive.set(listening.size);
  });

  const metricsServer = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = `${await clusterMetrics.collect(alive())}\n${await metrics.registry.metrics()}`;
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  metricsServer.listen(config.metricsPort, config.host);

  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (config.shutdownDelaySeconds > 0) {
      // Platforms without a preStop hook (ECS) deregister the task and signal it at once: keep
      // serving, readiness 503, until the balancers have stopped choosing this replica.
      log.info({ signal, delaySeconds: config.shutdownDelaySeconds }, 'leaving: readiness off, draining after the shutdown delay');
      for (const w of alive()) tell(w, { type: 'leaving' });
      setTimeout(() => drainAll(signal), config.shutdownDelaySeconds * 1000);
    } else drainAll(signal);
  };
  const drainAll = (signal: string) => {
    const workers = alive();
    log.info({ signal, workers: workers.length }, 'shutting down gracefully');
    // A retiring worker drains already; asking again would wait for a reply it never sends.
    for (const w of workers) if (!retiring.has(w.id)) drain(w);
    listening.clear();
    metrics.alive.set(0);
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      const left = alive();
      log.error({ killed: left.length }, `graceful timeout (${config.gracefulTimeoutSeconds} s) passed: killing workers`);
      for (const w of left) w.process.kill('SIGKILL');
    }, config.gracefulTimeoutSeconds * 1000);
    const check = () => {
      if (alive().length > 0) return;
      clearTimeout(deadline);
      // Exit 1 when requests were cut off by the timeout, 0 when everything finished.
      const code = timedOut ? 1 : 0;
      metricsServer.close(() => process.exit(code));
      setTimeout(() => process.exit(code), 1000).unref();
    };
    cluster.on('exit', check);
    check();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  for (let i = 0; i < config.webConcurrency; i++) fork();
  log.info({ workers: config.webConcurrency, port: config.port, metricsPort: config.metricsPort }, 'started');
}
