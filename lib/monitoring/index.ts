/** Monitoring content shared by every target: pure functions of the profile. */
import type { ResolvedProfile } from '../profile/load.ts';
import { renderYaml } from './render.ts';
import { allRuleGroups } from './rules.ts';

export * from './dashboards.ts';
export * from './grafana.ts';
export * from './render.ts';
export * from './metrics.ts';
export * from './rules.ts';
export * from './scrape.ts';
export * from './servers.ts';

export function renderRulesYaml(p: ResolvedProfile): string {
  return renderYaml({ groups: allRuleGroups(p) });
}
