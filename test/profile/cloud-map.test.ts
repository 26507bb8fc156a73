/** AWS behind the NLB: nginx finds the API tasks through Cloud Map DNS, whose answers stop at 8 addresses. */
import { describe, expect, it } from 'vitest';
import { builtinProfileNames, CLOUD_MAP_MAX_ANSWERS, loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { problemsOf } from '../helpers/profile.ts';

describe('Cloud Map answers at most 8 addresses', () => {
  it('refuses more API tasks behind nginx than one answer holds, naming the limit and the alternatives', () => {
    expect(CLOUD_MAP_MAX_ANSWERS).toBe(8);
    expect(problemsOf({ api: { replicasMax: 9 } })).toEqual([
      'api.replicasMax: 9 API tasks behind nginx on AWS, but nginx finds them through Cloud Map DNS, which answers with at most 8 addresses: use at most 8 larger tasks (e.g. 8 of 3 workers for the same 18 workers: raise api.vcpuPerReplica and api.workersPerReplica), or set network.loadBalancer to "alb", whose target group holds every task',
    ]);
    expect(problemsOf({ api: { replicasMax: 8, scheduledScaling: [{ name: 'peak', schedule: 'rate(1 day)', replicasMin: 3, replicasMax: 12 }] } })).toContainEqual(
      'api.scheduledScaling: "peak" scales to 12 API tasks, above the 8 addresses Cloud Map DNS gives nginx; use at most 8',
    );
  });

  it('is an AWS check: the ALB holds every task, and Kubernetes DNS answers with every pod', () => {
    expect(resolveProfileLayer({ extends: 'optimized', api: { replicasMax: 20 }, network: { loadBalancer: 'alb' } }).api.replicasMax).toBe(20);
    expect(resolveProfileLayer({ extends: 'optimized', api: { replicasMax: 20 } }, process.cwd(), { target: 'k8s' }).api.replicasMax).toBe(20);
  });

  it('every built-in profile behind the NLB fits', () => {
    for (const name of builtinProfileNames()) {
      const p = loadProfile(name);
      if (p.network.loadBalancer === 'nlb') expect(p.api.replicasMax, name).toBeLessThanOrEqual(CLOUD_MAP_MAX_ANSWERS);
    }
  });
});
