/** Profile errors as tests read them. */
import { expect } from 'vitest';
import { ProfileError, resolveProfileLayer, type ProfileLayer } from '../../lib/profile/index.ts';

/** The problems a layer on top of `optimized` is rejected with; a test failure if it resolves. */
export function problemsOf(layer: ProfileLayer): string[] {
  try {
    resolveProfileLayer({ extends: 'optimized', ...layer });
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return [...(e as ProfileError).problems];
  }
  throw new Error('expected the profile to be rejected');
}
