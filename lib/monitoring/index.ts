/** Monitoring content shared by every target: pure functions of the profile. */
import { stringify } from 'yaml';
import type { ResolvedProfile } from '../profile/load.ts';
import { allRuleGroups } from './rules.ts';

export * from './dashboards.ts';
export * from './metrics.ts';
export * from './rules.ts';
export * from './scrape.ts';

export function renderRulesYaml(p: ResolvedProfile): string {
  return stringify({ groups: allRuleGroups(p) }, { lineWidth: 0 });
}

export function renderYaml(doc: unknown): string {
  return stringify(doc, { lineWidth: 0 });
}
