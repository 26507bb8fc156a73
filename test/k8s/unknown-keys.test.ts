/**
 * Unknown keys in hand-written chart objects are caught before synthesis: the objects cdk8s-plus-27
 * has no construct for go through `manifest()`, typed by the Kubernetes OpenAPI schema, so a
 * misspelt key fails the typecheck.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');

function typecheck(source: string): { code: number | null; output: string } {
  const dir = join(repoRoot, 'dist', `typecheck-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'object.ts');
  writeFileSync(file, source);
  try {
    const r = spawnSync(tsc, ['--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--allowImportingTsExtensions', '--types', 'node', file], { cwd: repoRoot, encoding: 'utf8' });
    return { code: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const object = (extra: string) => `
import { Chart, Testing } from 'cdk8s';
import { manifest } from '../../charts/common.ts';
const chart = new Chart(Testing.app(), 'c');
manifest(chart, 's', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { selector: { a: 'b' }, ports: [{ port: 80${extra} }] } });
`;

describe('chart objects are checked against the Kubernetes schema at typecheck', () => {
  it('accepts a valid object', () => {
    const r = typecheck(object(''));
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('rejects an unknown key with the name of the known one', () => {
    const r = typecheck(object(", tagetPort: 8080"));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/'tagetPort' does not exist in type/);
  });
});
