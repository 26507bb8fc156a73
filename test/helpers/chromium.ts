/**
 * Opening pages in headless Chromium (Debian's `chromium` package) over the DevTools protocol on a
 * pipe (--remote-debugging-pipe: commands on fd 3, replies on fd 4, each message a JSON text ended
 * by a NUL byte), so no WebSocket client or npm package is needed. `renderPage` is `openPage`
 * reading back the DOM. A missing browser fails the test with the package to install, never a skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { tempDir } from './servers.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** A clear failure when Chromium is missing: the test that needs it must not pass silently. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the HTML report test opens the page in headless Chromium; install it with \`sudo apt-get install -y chromium\` (.ci/run does this by itself)`);
  }
  return CHROMIUM;
}

export interface PageReport {
  /** Every console message, exception and browser log entry, of any level (a page meant to log nothing is checked for none). */
  readonly console: string[];
  /** Console errors, uncaught exceptions and browser log errors, as text. */
  readonly errors: string[];
  /** Every URL the page requested (a self-contained page requests only itself). */
  readonly requests: string[];
  /** What `expression` evaluated to in the loaded page. */
  readonly value: unknown;
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** Loads `file`, waits for the load event, evaluates `expression` (JSON-serializable result) and closes Chromium. */
export async function openPage(file: string, expression: string, timeoutMs = 30_000): Promise<PageReport> {
  const chromium = requireChromium();
  const child: ChildProcess = spawn(
    chromium,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check', `--user-data-dir=${tempDir('apistack-chromium-')}`, '--remote-debugging-pipe', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

  const pending = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  const listeners: ((m: Message) => void)[] = [];
  let buffer = Buffer.alloc(0);
  fromBrowser.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    let end: number;
    while ((end = buffer.indexOf(0)) >= 0) {
      const message = JSON.parse(buffer.subarray(0, end).toString('utf8')) as Message;
      buffer = buffer.subarray(end + 1);
      if (message.id !== undefined && pending.has(message.id)) {
        const p = pending.get(message.id)!;
        pending.delete(message.id);
        if (message.error) p.reject(new Error(`DevTools: ${message.error.message}`));
        else p.resolve(message);
      } else {
        for (const l of listeners) l(message);
      }
    }
  });
  let nextId = 1;
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Message>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });

  const errors: string[] = [];
  const consoleLines: string[] = [];
  const requests: string[] = [];
  let loaded: () => void = () => {};
  const load = new Promise<void>((resolve) => (loaded = resolve));
  listeners.push((m) => {
    const p = m.params ?? {};
    const line =
      m.method === 'Runtime.consoleAPICalled' ? `console.${p.type}: ${JSON.stringify(p.args)}` : m.method === 'Runtime.exceptionThrown' ? `exception: ${JSON.stringify(p.exceptionDetails)}` : m.method === 'Log.entryAdded' ? `log: ${JSON.stringify(p.entry)}` : undefined;
    if (line !== undefined) {
      consoleLines.push(line);
      const isError = m.method === 'Runtime.exceptionThrown' || p.type === 'error' || p.type === 'assert' || (p.entry as { level?: string } | undefined)?.level === 'error';
      if (isError) errors.push(line);
    }
    if (m.method === 'Network.requestWillBeSent') requests.push(String((p.request as { url?: string })?.url));
    if (m.method === 'Page.loadEventFired') loaded();
  });

  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const target = await Promise.race([
      send('Target.createTarget', { url: 'about:blank' }),
      exited.then(() => {
        throw new Error(`chromium exited before answering: ${stderr.slice(-2000)}`);
      }),
    ]);
    const { sessionId } = (await send('Target.attachToTarget', { targetId: target.result!.targetId, flatten: true })).result as { sessionId: string };
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await send(`${domain}.enable`, {}, sessionId);
    await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
    await load;
    const evaluated = await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
    const result = evaluated.result as { result?: { value?: unknown }; exceptionDetails?: unknown };
    if (result.exceptionDetails) throw new Error(`evaluating the test expression failed: ${JSON.stringify(result.exceptionDetails)}`);
    return { errors, console: consoleLines, requests, value: result.result?.value };
  } finally {
    clearTimeout(timer);
    // Chromium may close the pipe before it answers Browser.close.
    await Promise.race([send('Browser.close').catch(() => undefined), exited]);
    if (child.exitCode === null) {
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
  }
}

export interface RenderedPage {
  /** The DOM after the page's scripts ran. */
  readonly dom: string;
  /** Every message the page sent to the console (logs, errors, uncaught exceptions, CSP violations). */
  readonly console: readonly string[];
}

/** The page as the browser left it after loading, and everything it logged. */
export async function renderPage(file: string): Promise<RenderedPage> {
  const page = await openPage(file, 'document.documentElement.outerHTML');
  return { dom: String(page.value), console: page.console };
}
