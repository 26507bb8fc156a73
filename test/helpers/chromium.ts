/**
 * Opening a page in headless Chromium (the Debian package `chromium`) and reading what it
 * rendered and what it logged to its console. A missing browser fails the test with the
 * package to install, never a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from './servers.ts';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function requireChromium(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`headless Chromium not found (looked for ${CANDIDATES.join(', ')}); install it: sudo apt-get install -y chromium`);
  return found;
}

export interface RenderedPage {
  /** The DOM after the page's scripts ran. */
  readonly dom: string;
  /** Every message the page sent to the console (logs, errors, uncaught exceptions, CSP violations). */
  readonly console: readonly string[];
}

/**
 * Chromium prints each console message as an `INFO:CONSOLE` line on stderr with --enable-logging,
 * whatever its level, so a page meant to log nothing is checked for none at all.
 */
export function renderPage(file: string): RenderedPage {
  const bin = requireChromium();
  const profileDir = join(tempDir('apistack-chromium-'), 'profile');
  const r = spawnSync(
    bin,
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
      `--user-data-dir=${profileDir}`,
      '--enable-logging=stderr',
      '--v=0',
      '--dump-dom',
      pathToFileURL(file).href,
    ],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`chromium exited with ${r.status}:\n${r.stderr}`);
  const consoleLines = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l));
  return { dom: r.stdout, console: consoleLines };
}
