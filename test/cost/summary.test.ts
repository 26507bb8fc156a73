/** What `npm start` prints: a summary that fits one screen; the full lists stay in `apistack cost`. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/servers.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const apistack = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), ...args], { encoding: 'utf8', cwd: repoRoot });

describe('npm start', () => {
  it('fits one screen (under 40 lines): the files written, both savings tables and totals, one pointer to each full breakdown', () => {
    const r = apistack('main', '--out', tempDir('apistack-main-'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThan(40);
    expect(lines.filter((l) => /^Total\s+\$[\d,]+\.\d\d\/month/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('wrote '))).toEqual(expect.arrayContaining([expect.stringMatching(/nginx\/kubernetes\.conf$/), expect.stringMatching(/k8s: 00-namespace\.yaml, /), expect.stringMatching(/\.template\.json$/)]));
    expect(lines.filter((l) => l.endsWith('apistack cost --current baseline --optimized optimized --target aws'))).toHaveLength(1);
    expect(lines.filter((l) => l.endsWith('apistack cost --current baseline --optimized optimized --target k8s'))).toHaveLength(1);
    // The full assumption lists stay in `apistack cost`.
    expect(r.stdout).not.toContain('Assumptions');
  }, 240_000);
});
