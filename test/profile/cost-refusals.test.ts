/**
 * Profiles the cost model would otherwise price wrong, or AWS would refuse to create, are
 * rejected with an error naming the field, the values and the fix.
 */
import { describe, expect, it } from 'vitest';
import { RDS_INSTANCE_MEMORY_GIB, rdsInstanceMemoryGiB, resolveProfileLayer } from '../../lib/profile/index.ts';
import { problemsOf } from '../helpers/profile.ts';

describe('profiles the cost model refuses', () => {
  it('one availability zone with Multi-AZ Postgres or Redis', () => {
    const layer = { network: { availabilityZones: 1, natGateways: 1 }, postgres: { multiAz: true, k8sMode: 'cloudnative-pg' }, redis: { multiAz: true, replicas: 1, k8sMode: 'sentinel' } } as const;
    expect(problemsOf(layer)).toEqual([
      'network.availabilityZones: 1 availability zone cannot hold Multi-AZ Postgres (postgres.multiAz: true puts the standby in a second zone); set network.availabilityZones to 2 or more, or postgres.multiAz to false',
      'network.availabilityZones: 1 availability zone cannot hold Multi-AZ Redis (redis.multiAz: true puts a replica in a second zone); set network.availabilityZones to 2 or more, or redis.multiAz to false',
      // Listed with them, not met later at synth: what the AWS target needs of the network.
      'network.availabilityZones: 1 availability zone, but RDS and ElastiCache subnet groups need subnets in at least 2 availability zones on AWS; set it to 2 or more',
    ]);
    // Single-AZ data stores in one zone are a valid Kubernetes (or local) profile; AWS needs two zones.
    const oneZone = { extends: 'optimized', network: { availabilityZones: 1, natGateways: 1 } } as const;
    expect(() => resolveProfileLayer(oneZone, process.cwd(), { target: 'k8s' })).not.toThrow();
    expect(() => resolveProfileLayer(oneZone)).toThrow('network.availabilityZones: 1 availability zone, but RDS and ElastiCache subnet groups need subnets in at least 2 availability zones on AWS');
  });

  it('NAT traffic with no NAT gateway, instead of dropping it silently', () => {
    expect(problemsOf({ network: { natGateways: 0 }, usage: { natProcessedGBPerMonth: 40 } })).toEqual([
      'usage.natProcessedGBPerMonth: 40 GB a month through NAT, but network.natGateways is 0, so there is no NAT gateway to process (or price) it; remove usage.natProcessedGBPerMonth, or set network.natGateways to 1 or more',
      'network.natGateways: 0 NAT gateways, but the tasks reach ECR (their images), CloudWatch Logs, Secrets Manager and other AWS APIs from private subnets, and the load-test runners reach the public load balancer; set it to 1 (or one per AZ for HA)',
    ]);
    expect(() => resolveProfileLayer({ extends: 'optimized', network: { natGateways: 0 } }, process.cwd(), { target: 'k8s' })).not.toThrow();
    expect(() => resolveProfileLayer({ extends: 'optimized', network: { natGateways: 0 } })).toThrow('network.natGateways: 0 NAT gateways, but the tasks reach ECR');
  });

  it('io1 or io2 storage without provisioned IOPS, IOPS on gp3, and IOPS outside what RDS allows', () => {
    expect(problemsOf({ postgres: { storageType: 'io1', storageGiB: 100 } })).toEqual([
      'postgres.iops: storageType io1 bills provisioned IOPS, but postgres.iops is not set; set it (1000 to 256000), or use storageType gp3 (3,000 IOPS included)',
    ]);
    expect(problemsOf({ postgres: { iops: 3000 } })).toEqual(['postgres.iops: 3000 IOPS cannot be provisioned on gp3; remove postgres.iops, or use storageType io1 or io2']);
    expect(problemsOf({ postgres: { storageType: 'io1', storageGiB: 100, iops: 6000 } })).toEqual([
      'postgres.iops: 6000 IOPS is outside what RDS allows for 100 GiB of io1: 1000 to 5000 (1000 to 256000, 0.5 to 50 per GiB)',
    ]);
    const p = resolveProfileLayer({ extends: 'optimized', postgres: { storageType: 'io2', storageGiB: 100, iops: 6000 } });
    expect(p.postgres.iops).toBe(6000);
  });

  it('nginx sizes no Fargate task holds, checked as the API sizes are', () => {
    expect(problemsOf({ nginx: { cpuMillicores: 17_000 } })).toEqual([
      'nginx.cpuMillicores: nginx at 17000m CPU and 128 MiB fits no Fargate task size (the largest is 16 vCPU with 122880 MiB); use at most 16000m CPU and 122880 MiB',
    ]);
    expect(problemsOf({ nginx: { memoryMiB: 131072 } })).toEqual([
      'nginx.memoryMiB: nginx at 250m CPU and 131072 MiB fits no Fargate task size (the largest is 16 vCPU with 122880 MiB); use at most 16000m CPU and 122880 MiB',
    ]);
    expect(problemsOf({ monitoring: { prometheusMemoryMiB: 200_000 } })).toEqual([
      'monitoring.prometheusMemoryMiB: prometheus at 250m CPU and 200000 MiB fits no Fargate task size (the largest is 16 vCPU with 122880 MiB); use at most 16000m CPU and 122880 MiB',
    ]);
  });
});

describe('RDS instance classes by family', () => {
  it('knows every size of the families people choose, with memory from the normalization factor', () => {
    expect(rdsInstanceMemoryGiB('db.m6g.large')).toBe(8);
    expect(rdsInstanceMemoryGiB('db.r6g.xlarge')).toBe(32);
    expect(rdsInstanceMemoryGiB('db.r6i.32xlarge')).toBe(1024);
    expect(rdsInstanceMemoryGiB('db.t3.micro')).toBe(1);
    expect(rdsInstanceMemoryGiB('db.m7g.24xlarge')).toBeUndefined();
    for (const family of ['db.t3', 'db.t4g', 'db.m5', 'db.m6g', 'db.m6i', 'db.m7g', 'db.r5', 'db.r6g', 'db.r6i', 'db.r7g']) {
      expect(Object.keys(RDS_INSTANCE_MEMORY_GIB).filter((c) => c.startsWith(`${family}.`)).length).toBeGreaterThanOrEqual(family.includes('.t') ? 6 : 7);
    }
    expect(resolveProfileLayer({ extends: 'optimized', postgres: { instanceClass: 'db.m6g.large' } }).derived.postgres.maxConnectionsAws).toBe(901);
  });
});
