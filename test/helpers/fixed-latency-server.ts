/**
 * An HTTP server whose latency is known: it answers every request after a fixed delay. It runs
 * in its own process, so it never shares an event loop (or its pauses) with the generator it
 * measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const SERVER = `
const http = require('node:http');
const delayMs = Number(process.argv[1]);
const maxRequestsPerSocket = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end('ok'), delayMs));
});
server.keepAliveTimeout = 120000;
// Like nginx's keepalive_requests: the last answer on a connection says Connection: close.
if (maxRequestsPerSocket > 0) server.maxRequestsPerSocket = maxRequestsPerSocket;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export interface FixedLatencyServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface FixedLatencyOptions {
  /** Close each keep-alive connection after this many requests, announcing it (Connection: close). @default never */
  readonly maxRequestsPerConnection?: number;
}

export async function startFixedLatencyServer(delayMs: number, opts: FixedLatencyOptions = {}): Promise<FixedLatencyServer> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SERVER, String(delayMs), String(opts.maxRequestsPerConnection ?? 0)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the fixed-latency server exited with ${code}`)));
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  child.removeAllListeners('exit');
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
