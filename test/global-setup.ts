/** Once per test run: a directory the AWS construct tests share their synthesized fixtures in (test/aws/fixtures.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), 'apistack-aws-synths-'));
  project.provide('awsSynthRoot', root);
  return () => rmSync(root, { recursive: true, force: true });
}
