/**
 * Writes docs/profile-reference.md from the profile schema (`npm run docs:reference`).
 * With --check it writes nothing and exits 1 when the committed file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFERENCE_COMMAND, REFERENCE_PATH, renderProfileReference } from '../lib/profile/reference.ts';

const target = join(import.meta.dirname, '..', REFERENCE_PATH);
const text = renderProfileReference();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // A missing file differs like any other.
  }
  if (current !== text) {
    console.error(`${REFERENCE_PATH} is out of date with lib/profile/schema.ts; run \`${REFERENCE_COMMAND}\``);
    process.exit(1);
  }
  console.log(`${REFERENCE_PATH} is up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${REFERENCE_PATH}`);
}
