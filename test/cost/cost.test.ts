/**
 * Golden breakdowns: every expected line is written out by hand as quantity × unit price
 * (× 730 hours), from the catalog prices, not computed by the code under test.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binPack, Catalog, compare, nodeShape, priceProfile, renderComparison, type Breakdown } from '../../lib/cost/index.ts';
import { loadProfile, ProfileError, resolveProfileLayer } from '../../lib/profile/index.ts';
import { UserError } from '../../lib/errors.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const repoRoot = join(import.meta.dirname, '..', '..');
const teamFile = join(import.meta.dirname, 'fixtures', 'team.yaml');
const cents = (n: number) => Math.round(n * 100) / 100;
const H = 730;
/** GB a log group bills at steady state: a month's ingestion × retention days / days in a 730-hour month, compressed to 15%. */
const stored = (gbPerMonth: number, days: number) => Math.round(((gbPerMonth * days) / (H / 24)) * 0.15 * 1e4) / 1e4;
const ipv4 = (zones: number, nat: number): Expected => [
  'Network',
  `Public IPv4 addresses (${zones + nat}: load balancer in ${zones} zones, ${nat} NAT gateway${nat === 1 ? '' : 's'})`,
  (zones + nat) * H,
  (zones + nat) * H * 0.005,
];

type Expected = [component: string, name: string, quantity: number, monthly: number, assumption?: boolean];

function expectLines(b: Breakdown, expected: Expected[]): void {
  const actual = b.components.flatMap((c) => c.lines.map((l) => [c.name, l.name, l.quantity, l.monthly, Boolean(l.assumption)]));
  expect(actual).toEqual(expected.map(([c, n, q, m, a]) => [c, n, q, cents(m), a ?? false]));
  // Components and the total add up their lines.
  for (const c of b.components) expect(c.monthly).toBeCloseTo(c.lines.reduce((s, l) => s + l.monthly, 0), 2);
  expect(b.total).toBeCloseTo(b.components.reduce((s, c) => s + c.monthly, 0), 2);
}

describe('AWS golden breakdowns', () => {
  it('optimized: arm64 Fargate with a 1-year no-upfront savings plan (-20%), default usage marked', () => {
    const b = priceProfile(loadProfile('optimized'), 'aws', catalog);
    const sp = 'Compute Savings Plan 1y no-upfront, -20%';
    expect(b.apiReplicas).toBe(3);
    expectLines(b, [
      ['Application Servers', `API tasks vCPU (3 × 2 vCPU, arm64) (${sp})`, 3 * 2 * H, 3 * 2 * H * 0.03238 * 0.8],
      ['Application Servers', `API tasks memory (3 × 4 GB) (${sp})`, 3 * 4 * H, 3 * 4 * H * 0.00356 * 0.8],
      ['Load Balancer', `nginx tasks vCPU (2 × 0.25 vCPU, arm64) (${sp})`, 2 * 0.25 * H, 2 * 0.25 * H * 0.03238 * 0.8],
      ['Load Balancer', `nginx tasks memory (2 × 0.5 GB) (${sp})`, 2 * 0.5 * H, 2 * 0.5 * H * 0.00356 * 0.8],
      ['Load Balancer', 'Network Load Balancer', H, H * 0.0225],
      ['Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 500, 500 * 0.006, true],
      // Savings plans do not cover RDS or ElastiCache: on-demand.
      ['Database', 'RDS PostgreSQL db.t4g.medium', H, H * 0.065],
      ['Cache', 'ElastiCache valkey cache.t4g.medium (1 node)', H, H * 0.065 * 0.8],
      ['Storage', 'RDS gp3 storage', 50, 50 * 0.115],
      ['Storage', 'RDS backups beyond the free allowance (7 days)', 50 * 0.05 * 7, 50 * 0.05 * 7 * 0.095, true],
      // Prometheus and Grafana share one EFS file system, priced at what the TSDB holds: 525.6M samples a month × 2 bytes
      // × 15 days kept / 30.4167 days = 0.5184 GB, below its 20 GiB cap.
      ['Storage', "Prometheus and Grafana EFS storage (expected; the TSDB's cap is 20 GiB)", 0.5184, 0.5184 * 0.3, true],
      // Two services, each the smallest Fargate size that holds it: 250m/1024 MiB and 100m/256 MiB.
      ['Monitoring', `Prometheus task vCPU (1 × 0.25 vCPU, arm64) (${sp})`, 0.25 * H, 0.25 * H * 0.03238 * 0.8],
      ['Monitoring', `Prometheus task memory (1 × 1 GB) (${sp})`, 1 * H, 1 * H * 0.00356 * 0.8],
      ['Monitoring', `Grafana task vCPU (1 × 0.25 vCPU, arm64) (${sp})`, 0.25 * H, 0.25 * H * 0.03238 * 0.8],
      ['Monitoring', `Grafana task memory (1 × 0.5 GB) (${sp})`, 0.5 * H, 0.5 * H * 0.00356 * 0.8],
      ['Monitoring', 'CloudWatch Logs ingestion', 50, 50 * 0.5, true],
      ['Monitoring', 'CloudWatch Logs storage (30 days kept, compressed)', stored(50, 30), stored(50, 30) * 0.03, true],
      ['Network', 'NAT gateways (1)', H, H * 0.045],
      ['Network', 'NAT data processed', 100, 100 * 0.045, true],
      ipv4(2, 1),
      ['Network', 'Data transfer out to the internet', 500, 500 * 0.09, true],
    ]);
  });

  it('baseline: x86 Fargate, Multi-AZ RDS and ElastiCache, managed monitoring, on-demand', () => {
    const b = priceProfile(loadProfile('baseline'), 'aws', catalog);
    expectLines(b, [
      ['Application Servers', 'API tasks vCPU (10 × 1 vCPU, x86_64)', 10 * H, 10 * H * 0.04048],
      ['Application Servers', 'API tasks memory (10 × 2 GB)', 20 * H, 20 * H * 0.004445],
      // An ALB: behind the NLB, nginx would find only 8 of the 20 tasks through Cloud Map DNS.
      ['Load Balancer', 'Application Load Balancer', H, H * 0.0225],
      ['Load Balancer', 'ALB capacity units', 500, 500 * 0.008, true],
      ['Database', 'RDS PostgreSQL db.m7g.large Multi-AZ', 2 * H, 2 * H * 0.168],
      ['Cache', 'ElastiCache redis cache.r7g.large (2 nodes)', 2 * H, 2 * H * 0.219],
      ['Storage', 'RDS gp2 storage (Multi-AZ, billed twice)', 400, 400 * 0.115],
      ['Storage', 'RDS backups beyond the free allowance (7 days)', 200 * 0.05 * 7, 200 * 0.05 * 7 * 0.095, true],
      ['Monitoring', 'Amazon Managed Prometheus samples ingested', 52.56, 52.56 * 0.9, true],
      ['Monitoring', 'Amazon Managed Prometheus query samples', 0.5256, 0.5256 * 0.1, true],
      ['Monitoring', 'Amazon Managed Grafana editors (2)', 2, 2 * 9],
      ['Monitoring', 'Amazon Managed Grafana viewers (10)', 10, 10 * 5],
      ['Monitoring', 'CloudWatch Logs ingestion', 50, 50 * 0.5, true],
      ['Monitoring', 'CloudWatch Logs storage (30 days kept, compressed)', stored(50, 30), stored(50, 30) * 0.03, true],
      ['Network', 'NAT gateways (2)', 2 * H, 2 * H * 0.045],
      ['Network', 'NAT data processed', 100, 100 * 0.045, true],
      ipv4(2, 2),
      ['Network', 'Data transfer out to the internet', 500, 500 * 0.09, true],
    ]);
  });

  it('a user profile file: ALB, reserved all-upfront amortized (never $0), usage given so nothing is assumed', () => {
    const b = priceProfile(loadProfile(teamFile), 'aws', catalog);
    const ri = 'reserved 1y all-upfront, -35%: upfront amortized over 12 months';
    expectLines(b, [
      // Reserved instances do not exist for Fargate: on-demand x86.
      ['Application Servers', 'API tasks vCPU (3 × 1 vCPU, x86_64)', 3 * H, 3 * H * 0.04048],
      ['Application Servers', 'API tasks memory (3 × 2 GB)', 6 * H, 6 * H * 0.004445],
      ['Load Balancer', 'Application Load Balancer', H, H * 0.0225],
      // 200 GB/month processed outweighs 100M requests / 3600 / 1000 = 27.8 rule-LCU-hours.
      ['Load Balancer', 'ALB capacity units', 200, 200 * 0.008],
      ['Database', `RDS PostgreSQL db.t4g.small (${ri})`, H, H * 0.032 * 0.65],
      ['Cache', `ElastiCache valkey cache.t4g.micro (1 node) (${ri})`, H, H * 0.016 * 0.8 * 0.65],
      ['Storage', 'RDS gp3 storage', 20, 20 * 0.115],
      ['Storage', 'RDS backups beyond the free allowance (1 days)', 20 * 0.05 * 1, 20 * 0.05 * 0.095, true],
      ['Monitoring', 'Amazon Managed Prometheus samples ingested', 30, 30 * 0.9],
      ['Monitoring', 'Amazon Managed Prometheus query samples', 0.3, 0.3 * 0.1, true],
      ['Monitoring', 'Amazon Managed Grafana editors (1)', 1, 9],
      ['Monitoring', 'Amazon Managed Grafana viewers (2)', 2, 10],
      ['Monitoring', 'CloudWatch Logs ingestion', 20, 20 * 0.5],
      ['Monitoring', 'CloudWatch Logs storage (7 days kept, compressed)', stored(20, 7), stored(20, 7) * 0.03],
      ['Network', 'NAT gateways (2)', 2 * H, 2 * H * 0.045],
      ['Network', 'NAT data processed', 40, 40 * 0.045],
      ipv4(2, 2),
      ['Network', 'Data transfer out to the internet', 200, 200 * 0.09],
    ]);
  });

  it('prices the autoscaling range at min and max replicas', () => {
    const p = loadProfile('optimized');
    const at = (replicas: 'min' | 'max') => priceProfile(p, 'aws', catalog, { replicas }).components.find((c) => c.name === 'Application Servers')!.monthly;
    expect(at('min')).toBe(cents(2 * 2 * H * 0.03238 * 0.8) + cents(2 * 4 * H * 0.00356 * 0.8));
    expect(at('max')).toBe(cents(6 * 2 * H * 0.03238 * 0.8) + cents(6 * 4 * H * 0.00356 * 0.8));
  });

  it('honours --hours-per-month', () => {
    const b = priceProfile(loadProfile('optimized'), 'aws', catalog, { hoursPerMonth: 720 });
    expect(b.components.find((c) => c.name === 'Database')!.lines[0]!.monthly).toBe(cents(720 * 0.065));
  });
});

describe('Kubernetes golden breakdowns', () => {
  it('the user profile on t4g.medium nodes: bin-packed, allocated OpenCost-style, idle row explicit', () => {
    const b = priceProfile(loadProfile(teamFile), 'k8s', catalog);
    // t4g.medium: 2 vCPU, 4 GiB, $0.0336/h, reserved 1y all-upfront -35% (EC2 RIs apply).
    const node = 0.0336 * 0.65;
    const w = (2 * 0.031611) / (2 * 0.031611 + 4 * 0.004237);
    const cpuRate = (node * w) / 2000; // per millicore-hour
    const memRate = (node * (1 - w)) / 4096; // per MiB-hour
    const pod = (m: number, mib: number) => Math.round((m * cpuRate + mib * memRate) * 1e6) / 1e6;
    const label = 'on t4g.medium, reserved 1y all-upfront, -35%, upfront amortized';
    // Allocatable per node: 2000 - 70 = 1930m; 4096 - (255 + 11×17 + 100) = 3554 MiB.
    // Pods (m, MiB): api 3 × (1000, 2048); postgres (300, 1088); nginx (270, 160); redis (125, 288); prometheus (250, 1024); grafana (100, 256).
    // The EKS DaemonSets (kube-proxy 100m, aws-node 25m, EBS CSI node 10m/40 MiB) leave 1795m and 3514 MiB to pods.
    // Pods also include EKS's coredns 2 × (100, 70) and ebs-csi-controller 2 × (10, 40).
    // First-fit decreasing by CPU: node1 api; node2 api; node3 api; postgres → node1 (1300m, 3136); nginx → node1 (1570m, 3296);
    // prometheus → node1 (1820m: no) → node2 (1250m, 3072); redis → node1 (3584 MiB: no) → node2 (1375m, 3360);
    // grafana → node1 (3552: no), node2 (3616: no) → node3 (1100m, 2304); coredns → node1 (1670m, 3366), again (1770m, 3436);
    // ebs-csi-controller → node1 (1780m, 3476), then node1 (3516: no) → node2 (1385m, 3400).
    // Three nodes, no spare (loadtest): 3 × 730 node-hours.
    const allocated =
      3 * H * pod(1000, 2048) + H * pod(300, 1088) + H * pod(270, 160) + H * pod(125, 288) + H * pod(250, 1024) + H * pod(100, 256) +
      2 * H * pod(100, 70) + 2 * H * pod(10, 40) + 3 * H * pod(135, 40);
    expectLines(b, [
      ['Application Servers', `api pods (3 × 1000m CPU, 2048 MiB requested ${label})`, 3 * H, 3 * H * pod(1000, 2048)],
      ['Load Balancer', `nginx pods (1 × 270m CPU, 160 MiB requested ${label})`, H, H * pod(270, 160)],
      ['Load Balancer', 'Network Load Balancer (1 LoadBalancer Service)', H, H * 0.0225],
      ['Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 200, 200 * 0.006],
      ['Database', `postgres pods (1 × 300m CPU, 1088 MiB requested ${label})`, H, H * pod(300, 1088)],
      ['Cache', `redis pods (1 × 125m CPU, 288 MiB requested ${label})`, H, H * pod(125, 288)],
      ['Storage', 'PVC postgres-0 (gp3)', 20, 20 * 0.08],
      ['Storage', 'PVC prometheus-0 (gp3)', 10, 10 * 0.08],
      ['Monitoring', `prometheus pods (1 × 250m CPU, 1024 MiB requested ${label})`, H, H * pod(250, 1024)],
      // No CloudWatch Logs lines: the charts ship no logs to CloudWatch.
      ['Monitoring', `grafana pods (1 × 100m CPU, 256 MiB requested ${label})`, H, H * pod(100, 256)],
      ['Network', 'NAT gateways (2)', 2 * H, 2 * H * 0.045],
      ['Network', 'NAT data processed', 40, 40 * 0.045],
      ipv4(2, 2),
      ['Network', 'Data transfer out to the internet', 200, 200 * 0.09],
      ['Control Plane', `coredns pods (2 × 100m CPU, 70 MiB requested ${label})`, 2 * H, 2 * H * pod(100, 70)],
      ['Control Plane', `ebs-csi-controller pods (2 × 10m CPU, 40 MiB requested ${label})`, 2 * H, 2 * H * pod(10, 40)],
      ['Control Plane', `EKS DaemonSets on every node (3 × 135m CPU, 40 MiB requested: kube-proxy, VPC CNI (aws-node), EBS CSI node, reserved 1y all-upfront, -35%, upfront amortized)`, 3 * H, 3 * H * pod(135, 40)],
      ['Control Plane', 'EKS control plane', H, H * 0.1],
      ['Idle Capacity', 'unrequested capacity of 3 t4g.medium nodes (0 spare, reserved 1y all-upfront, -35%, upfront amortized)', cents((3 * H * node - allocated) / node), cents((3 * H * node - allocated) / node) * node],
    ]);
  });

  it('optimized on m7g.xlarge nodes with a savings plan: every line', () => {
    const b = priceProfile(loadProfile('optimized'), 'k8s', catalog);
    // m7g.xlarge: 4 vCPU, 16 GiB, $0.1632/h, Compute Savings Plan 1y no-upfront -20%.
    const node = 0.1632 * 0.8;
    const w = (4 * 0.031611) / (4 * 0.031611 + 16 * 0.004237);
    const cpuRate = (node * w) / 4000;
    const memRate = (node * (1 - w)) / (16 * 1024);
    const pod = (m: number, mib: number) => Math.round((m * cpuRate + mib * memRate) * 1e6) / 1e6;
    const label = 'on m7g.xlarge, Compute Savings Plan 1y no-upfront, -20%';
    // Allocatable: 4000 - (60 + 10 + 5 + 5) = 3920m, less the EKS DaemonSets' 135m: 3785m. FFD: one 2000m API pod per node (3 nodes);
    // postgres 1050, redis 275 and one nginx 270 join node 1 (3595m), the other nginx (3865m: no), prometheus and two coredns
    // (100m each) go to node 2, grafana 100 and both ebs-csi-controller pods (10m each) to node 1 (3715m).
    // postgres 1050, nginx 270 + 270, redis 275 join node 1 (3865m); prometheus and grafana go to node 2.
    // 3 nodes + 1 spare.
    const allocated =
      3 * H * pod(2000, 4096) + 2 * H * pod(270, 160) + H * pod(1050, 4160) + H * pod(275, 1056) + H * pod(250, 1024) + H * pod(100, 256) +
      2 * H * pod(100, 70) + 2 * H * pod(10, 40) + 4 * H * pod(135, 40);
    const idle = cents((4 * H * node - allocated) / node);
    expectLines(b, [
      ['Application Servers', `api pods (3 × 2000m CPU, 4096 MiB requested ${label})`, 3 * H, 3 * H * pod(2000, 4096)],
      ['Load Balancer', `nginx pods (2 × 270m CPU, 160 MiB requested ${label})`, 2 * H, 2 * H * pod(270, 160)],
      ['Load Balancer', 'Network Load Balancer (1 LoadBalancer Service)', H, H * 0.0225],
      ['Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 500, 500 * 0.006, true],
      ['Database', `postgres pods (1 × 1050m CPU, 4160 MiB requested ${label})`, H, H * pod(1050, 4160)],
      ['Cache', `redis pods (1 × 275m CPU, 1056 MiB requested ${label})`, H, H * pod(275, 1056)],
      ['Storage', 'PVC postgres-0 (gp3)', 50, 50 * 0.08],
      ['Storage', 'PVC prometheus-0 (gp3)', 20, 20 * 0.08],
      ['Monitoring', `prometheus pods (1 × 250m CPU, 1024 MiB requested ${label})`, H, H * pod(250, 1024)],
      ['Monitoring', `grafana pods (1 × 100m CPU, 256 MiB requested ${label})`, H, H * pod(100, 256)],
      ['Network', 'NAT gateways (1)', H, H * 0.045],
      ['Network', 'NAT data processed', 100, 100 * 0.045, true],
      ipv4(2, 1),
      ['Network', 'Data transfer out to the internet', 500, 500 * 0.09, true],
      ['Control Plane', `coredns pods (2 × 100m CPU, 70 MiB requested ${label})`, 2 * H, 2 * H * pod(100, 70)],
      ['Control Plane', `ebs-csi-controller pods (2 × 10m CPU, 40 MiB requested ${label})`, 2 * H, 2 * H * pod(10, 40)],
      ['Control Plane', `EKS DaemonSets on every node (4 × 135m CPU, 40 MiB requested: kube-proxy, VPC CNI (aws-node), EBS CSI node, Compute Savings Plan 1y no-upfront, -20%)`, 4 * H, 4 * H * pod(135, 40)],
      ['Control Plane', 'EKS control plane', H, H * 0.1],
      ['Idle Capacity', `unrequested capacity of 4 m7g.xlarge nodes (1 spare, Compute Savings Plan 1y no-upfront, -20%)`, idle, idle * node],
    ]);
  });

  it('baseline on m6i.large nodes, on-demand: every line', () => {
    const b = priceProfile(loadProfile('baseline'), 'k8s', catalog);
    const node = 0.096;
    const w = (2 * 0.031611) / (2 * 0.031611 + 8 * 0.004237);
    const cpuRate = (node * w) / 2000;
    const memRate = (node * (1 - w)) / (8 * 1024);
    const pod = (m: number, mib: number) => Math.round((m * cpuRate + mib * memRate) * 1e6) / 1e6;
    const label = 'on m6i.large';
    // Multi-AZ data on Kubernetes: a CloudNativePG primary and standby, three Redis pods with Sentinel, two proxies.
    // Allocatable 1930m / 7518 MiB, less the EKS DaemonSets' 135m and 40 MiB: 1795m / 7478 MiB. FFD: postgres-ha (1500m) n1 and n2,
    // redis (1050m) n3-n5, ten API pods (1000m) one node each (n6-n15), nginx (520m) n3 and n4, prometheus (500m, 2048 MiB; n5 would
    // hold 8256 MiB) n6, grafana (250m) n1, coredns (100m, 70 MiB) twice n2, redis-proxy (100m, 64 MiB) twice n3, ebs-csi-controller
    // (10m) twice n1: 15 nodes + 1 spare.
    const allocated =
      10 * H * pod(1000, 2048) + 2 * H * pod(520, 288) + 2 * H * pod(1500, 6144) + 3 * H * pod(1050, 6208) + 2 * H * pod(100, 64) + H * pod(500, 2048) + H * pod(250, 512) +
      2 * H * pod(100, 70) + 2 * H * pod(10, 40) + 16 * H * pod(135, 40);
    const idle = cents((16 * H * node - allocated) / node);
    expectLines(b, [
      ['Application Servers', `api pods (10 × 1000m CPU, 2048 MiB requested ${label})`, 10 * H, 10 * H * pod(1000, 2048)],
      ['Load Balancer', `nginx pods (2 × 520m CPU, 288 MiB requested ${label})`, 2 * H, 2 * H * pod(520, 288)],
      ['Load Balancer', 'Network Load Balancer (1 LoadBalancer Service)', H, H * 0.0225],
      ['Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 500, 500 * 0.006, true],
      ['Database', `postgres-ha pods (2 × 1500m CPU, 6144 MiB requested ${label})`, 2 * H, 2 * H * pod(1500, 6144)],
      ['Cache', `redis pods (3 × 1050m CPU, 6208 MiB requested ${label})`, 3 * H, 3 * H * pod(1050, 6208)],
      ['Cache', `redis-proxy pods (2 × 100m CPU, 64 MiB requested ${label})`, 2 * H, 2 * H * pod(100, 64)],
      ['Storage', 'PVC postgres-ha-0 (gp3)', 200, 200 * 0.08],
      ['Storage', 'PVC postgres-ha-1 (gp3)', 200, 200 * 0.08],
      ['Storage', 'PVC redis-0 (gp3)', 20, 20 * 0.08],
      ['Storage', 'PVC redis-1 (gp3)', 20, 20 * 0.08],
      ['Storage', 'PVC redis-2 (gp3)', 20, 20 * 0.08],
      ['Storage', 'PVC prometheus-0 (gp3)', 50, 50 * 0.08],
      ['Monitoring', `prometheus pods (1 × 500m CPU, 2048 MiB requested ${label})`, H, H * pod(500, 2048)],
      ['Monitoring', `grafana pods (1 × 250m CPU, 512 MiB requested ${label})`, H, H * pod(250, 512)],
      ['Network', 'NAT gateways (2)', 2 * H, 2 * H * 0.045],
      ['Network', 'NAT data processed', 100, 100 * 0.045, true],
      ipv4(2, 2),
      ['Network', 'Data transfer out to the internet', 500, 500 * 0.09, true],
      ['Control Plane', `coredns pods (2 × 100m CPU, 70 MiB requested ${label})`, 2 * H, 2 * H * pod(100, 70)],
      ['Control Plane', `ebs-csi-controller pods (2 × 10m CPU, 40 MiB requested ${label})`, 2 * H, 2 * H * pod(10, 40)],
      ['Control Plane', `EKS DaemonSets on every node (16 × 135m CPU, 40 MiB requested: kube-proxy, VPC CNI (aws-node), EBS CSI node)`, 16 * H, 16 * H * pod(135, 40)],
      ['Control Plane', 'EKS control plane', H, H * 0.1],
      ['Idle Capacity', 'unrequested capacity of 16 m6i.large nodes (1 spare)', idle, idle * node],
    ]);
  });

  it('optimized and baseline: node counts follow the profiles, spare nodes included', () => {
    const idle = (name: string) => priceProfile(loadProfile(name), 'k8s', catalog).components.find((c) => c.name === 'Idle Capacity')!.lines[0]!.name;
    // optimized: 3 API pods of 2 vCPU each need 3 m7g.xlarge (3920m allocatable), plus 1 spare.
    expect(idle('optimized')).toMatch(/^unrequested capacity of 4 m7g\.xlarge nodes \(1 spare/);
    // baseline: 10 API pods of 1 vCPU on m6i.large (1930m): one each, two postgres and three redis pods their own, plus 1 spare.
    expect(idle('baseline')).toMatch(/^unrequested capacity of 16 m6i\.large nodes \(1 spare\)/);
  });

  it('node cost is fully accounted for: allocated + idle = nodes × price', () => {
    const b = priceProfile(loadProfile('optimized'), 'k8s', catalog);
    const nodeLines = b.components.flatMap((c) => c.lines).filter((l) => l.priceItem === 'ec2.m7g.xlarge');
    expect(nodeLines.reduce((s, l) => s + l.monthly, 0)).toBeCloseTo(4 * H * 0.1632 * 0.8, 1);
  });
});

describe('bin-packing (first-fit decreasing)', () => {
  const shape = nodeShape(catalog.get('us-east-1', 'ec2.t4g.medium'));
  const pod = (cpu: number, mem: number) => ({ workload: 'x', group: 'Application Servers' as const, cpuMillicores: cpu, memoryMiB: mem });

  it('knows a t4g.medium leaves 1930m and 3554 MiB to pods', () => {
    expect(shape).toMatchObject({ allocatableMillicores: 1930, allocatableMiB: 3554 });
  });

  it('puts pods that just fit on one node', () => {
    expect(binPack([pod(965, 1777), pod(965, 1777)], shape, 't4g.medium')).toHaveLength(1);
  });

  it('opens a second node when one millicore or one MiB does not fit', () => {
    expect(binPack([pod(965, 1777), pod(966, 1777)], shape, 't4g.medium')).toHaveLength(2);
    expect(binPack([pod(965, 1777), pod(965, 1778)], shape, 't4g.medium')).toHaveLength(2);
  });

  it('places big pods first so small ones fill the gaps', () => {
    const nodes = binPack([pod(100, 100), pod(1800, 100), pod(1800, 100), pod(130, 100)], shape, 't4g.medium');
    expect(nodes.map((n) => n.map((p) => p.cpuMillicores))).toEqual([[1800, 130], [1800, 100]]);
  });

  it('rejects a pod bigger than any node with a clear error', () => {
    expect(() => binPack([pod(2000, 100)], shape, 't4g.medium')).toThrow(
      'a x pod requests 2000m CPU and 100 MiB, more than one t4g.medium node offers to pods (1930m, 3554 MiB allocatable); choose a larger kubernetes.nodeInstanceType or smaller requests',
    );
  });
});

describe('savings and ROI', () => {
  it('computes rows, totals and ROI from the two breakdowns', () => {
    const c = compare(priceProfile(loadProfile('baseline'), 'aws', catalog), priceProfile(loadProfile('optimized'), 'aws', catalog), 20000);
    for (const r of c.rows) {
      expect(r.savings).toBeCloseTo(r.current - r.optimized, 2);
      expect(r.savingsPct).toBe(Math.round(((r.current - r.optimized) / r.current) * 1000) / 10);
    }
    expect(c.total.current).toBe(c.current.total);
    expect(c.roi!.annualSavings).toBeCloseTo(c.total.savings * 12, 2);
    expect(c.roi!.paybackMonths).toBe(Math.round((20000 / c.total.savings) * 10) / 10);
    expect(c.roi!.roiPct).toBe(Math.round(((c.roi!.annualSavings - 20000) / 20000) * 1000) / 10);
  });

  it('renders the JSON contract', () => {
    const c = compare(priceProfile(loadProfile('baseline'), 'k8s', catalog), priceProfile(loadProfile('optimized'), 'k8s', catalog), 5000);
    const j = JSON.parse(renderComparison(c, 'json'));
    expect(Object.keys(j)).toEqual(['currency', 'region', 'hoursPerMonth', 'pricesAsOf', 'target', 'current', 'optimized', 'rows', 'total', 'roi']);
    expect(j).toMatchObject({ currency: 'USD', region: 'us-east-1', hoursPerMonth: 730, pricesAsOf: '2025-06-01', target: 'k8s' });
    expect(j.current.profile).toBe('baseline');
    expect(j.current.components[0]).toMatchObject({ name: 'Application Servers', monthly: expect.any(Number), lines: expect.any(Array) });
    expect(Object.keys(j.current.components[0].lines[0])).toEqual(expect.arrayContaining(['name', 'quantity', 'unit', 'unitPrice', 'monthly']));
    expect(Object.keys(j.rows[0])).toEqual(['component', 'current', 'optimized', 'savings', 'savingsPct']);
    expect(Object.keys(j.roi)).toEqual(['implementationCost', 'annualSavings', 'roiPct', 'threeYearSavings', 'threeYearRoiPct', 'paybackMonths']);
  });

  it('renders the markdown savings table row by row', () => {
    const c = compare(priceProfile(loadProfile('baseline'), 'aws', catalog), priceProfile(loadProfile('optimized'), 'aws', catalog));
    const md = renderComparison(c, 'md');
    const db = c.rows.find((r) => r.component === 'Database')!;
    const fmt = (n: number) => `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}/month`;
    expect(md).toContain(`| Database | ${fmt(db.current)} | ${fmt(db.optimized)} | ${fmt(db.savings)} | ${db.savingsPct}% |`);
    expect(md).toContain('| Component | Current | Optimized | Savings | Savings % |');
  });
});

describe('bad input', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'cost', ...args], { encoding: 'utf8', cwd: repoRoot });
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

  it('unknown profile', () => {
    const r = cli('--profile', 'optimised');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown profile "optimised" (did you mean "optimized"?)');
    noStack(r.stderr);
  });

  it('malformed price file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.json'), '{"prices": [{"item": "ec2.m7g.large", "usd": -1, "region": "us-east-1"}]}');
    const r = cli('--profile', 'optimized', '--prices', join(dir, 'bad.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('prices.0.usd: -1 — must be >= 0');
    expect(r.stderr).toContain('prices.0.source: missing — required');
    noStack(r.stderr);
  });

  it('a price missing for an item the profile uses names the item and how to add it', () => {
    // m5 is not among the node families the catalog covers.
    const p = resolveProfileLayer({ extends: 'optimized', kubernetes: { nodeInstanceType: 'm5.large' } });
    expect(() => priceProfile(p, 'k8s', catalog)).toThrow(UserError);
    expect(() => priceProfile(p, 'k8s', catalog)).toThrow(/no price for "ec2\.m5\.large" in us-east-1: .*--prices FILE/);
  });

  it('a price file adds the missing item', () => {
    const dir = tempDir();
    const file = join(dir, 'extra.json');
    writeFileSync(file, JSON.stringify({ prices: [{ item: 'ec2.m5.xlarge', unit: 'hour', usd: 0.192, region: 'us-east-1', source: 'https://aws.amazon.com/ec2/pricing/on-demand/', asOf: '2025-06-01', vcpu: 4, memoryGiB: 16, maxPods: 58 }] }));
    const p = resolveProfileLayer({ extends: 'optimized', kubernetes: { nodeInstanceType: 'm5.xlarge' } });
    const b = priceProfile(p, 'k8s', Catalog.load([file]));
    expect(b.components.find((c) => c.name === 'Control Plane')!.lines.find((l) => l.name === 'EKS control plane')!.monthly).toBe(cents(H * 0.1));
    expect(b.components.find((c) => c.name === 'Idle Capacity')!.lines[0]!.priceItem).toBe('ec2.m5.xlarge');
  });

  it('unknown format', () => {
    const r = cli('--profile', 'optimized', '--format', 'xml');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown format "xml"; use one of table, md, csv, json, html');
  });

  it('negative usage', () => {
    expect(() => resolveProfileLayer({ extends: 'optimized', usage: { dataTransferOutGBPerMonth: -5 } })).toThrow(ProfileError);
    expect(() => resolveProfileLayer({ extends: 'optimized', usage: { dataTransferOutGBPerMonth: -5 } })).toThrow('usage.dataTransferOutGBPerMonth: -5 — must be >= 0');
  });

  it('prints a savings table from the CLI', () => {
    const r = cli('--current', 'baseline', '--optimized', 'optimized', '--implementation-cost', '15000');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Total\s+\$[\d,]+\.\d\d\/month/m);
    expect(r.stdout).toMatch(/first-year ROI -?[\d.]+%; 3-year ROI -?[\d.]+% \(savings \$[\d,.]+\); payback [\d.]+ months/);
  });
});

describe('apistack prices import', () => {
  const fixtures = join(import.meta.dirname, 'fixtures');
  const run = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'prices', 'import', ...args], { encoding: 'utf8', cwd: repoRoot });

  it('reads a bulk offer file: Linux shared on-demand only, with the instance shape', () => {
    const r = run(join(fixtures, 'ec2-offer.json'), '--region', 'us-east-1');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).prices).toEqual([
      { item: 'ec2.m7g.large', unit: 'hour', usd: 0.0816, region: 'us-east-1', source: 'AWS Price List AmazonEC2, SKU SKUM7GL', asOf: '2025-06-01', vcpu: 2, memoryGiB: 8 },
    ]);
  });

  it('reads GetProducts output with PriceList entries as strings or objects', () => {
    const dir = tempDir();
    const out = join(dir, 'prices.json');
    const r = run(join(fixtures, 'get-products.json'), '--out', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('wrote 2 prices');
    const file = Catalog.load([out]);
    expect(file.get('us-east-1', 'rds.postgres.db.t4g.medium')).toMatchObject({ usd: 0.065, unit: 'hour', asOf: '2025-05-20', source: 'AWS Price List AmazonRDS, SKU SKURDSMED' });
    expect(file.get('us-east-1', 'fargate.arm64.vcpu')).toMatchObject({ usd: 0.03238, unit: 'hour' });
    // The imported file is a valid --prices file for the cost command.
    const cost = spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), 'cost', '--profile', 'optimized', '--prices', out, '--format', 'json'], { encoding: 'utf8', cwd: repoRoot });
    expect(cost.status).toBe(0);
  });

  it('rejects a file that is not a price list', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.json'), '{"hello": 1}');
    const r = run(join(dir, 'x.json'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is not an AWS Price List document: expected "products" and "terms" (bulk offer file) or "PriceList" (GetProducts output)');
  });
});
