/**
 * The cost model's last mile: free allowances AWS applies, what each target ships, checked
 * inputs and the summary. Expected figures are written out by hand from the catalog prices.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { awsInputsFromProfile, awsInputsFromTemplate, Catalog, kubernetesInputsFromProfile, priceKubernetes, compare, parsePriceFile, priceAws, priceProfile, pricingProblems, renderComparison, type Breakdown } from '../../lib/cost/index.ts';
import { UserError } from '../../lib/errors.ts';
import { builtinProfileNames, loadProfile, PROFILE_METADATA_KEY, profileData, ProfileError, resolveProfileLayer } from '../../lib/profile/index.ts';
import { tempDir } from '../helpers/servers.ts';

const catalog = Catalog.load();
const H = 730;
const repoRoot = join(import.meta.dirname, '..', '..');
const apistack = (...args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'apistack.mjs'), ...args], { encoding: 'utf8', cwd: repoRoot });
const line = (b: Breakdown, name: string | RegExp) => b.components.flatMap((c) => c.lines).find((l) => (typeof name === 'string' ? l.name === name : name.test(l.name)));

describe('ALB rule evaluations: the first 10 rules of each request are free', () => {
  const albHeavy = resolveProfileLayer({ extends: 'baseline', usage: { requestsPerMonth: 10e9, dataTransferOutGBPerMonth: 500 } });

  it('10 billion requests and 500 GB through the one-rule listener bill 500 LCU-hours ($4.00), not 2,777.78 ($22.22)', () => {
    const lcu = line(priceProfile(albHeavy, 'aws', catalog), 'ALB capacity units')!;
    expect(lcu.quantity).toBe(500);
    expect(lcu.monthly).toBe(4);
  });

  it('rules beyond the tenth are billed: 15 rules a request at 10 billion requests is 5 × 10e9 / 3,600,000 LCU-hours', () => {
    const inputs = { ...awsInputsFromProfile(albHeavy), albRulesPerRequest: 15 };
    const lcu = line(priceAws(inputs, albHeavy, catalog, { hoursPerMonth: H }), 'ALB capacity units')!;
    expect(lcu.quantity).toBeCloseTo((5 * 10e9) / 3.6e6, 4);
    expect(lcu.monthly).toBe(Math.round(((5 * 10e9) / 3.6e6) * 0.008 * 100) / 100);
  });
});

describe('ALB rules read from a synthesized template', () => {
  /** The least of a template the reader needs: an API service with its range, an ALB, RDS and ElastiCache, and `rules` listener rules. */
  const template = (rules: number) => ({
    Metadata: { [PROFILE_METADATA_KEY]: profileData(loadProfile('baseline')) },
    Resources: {
      ApiTask: { Type: 'AWS::ECS::TaskDefinition', Properties: { Cpu: '1024', Memory: '2048', ContainerDefinitions: [{ Name: 'api' }] } },
      Api: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: { Ref: 'ApiTask' }, DesiredCount: 6 } },
      ApiScaling: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { MinCapacity: 6, MaxCapacity: 20, ResourceId: { 'Fn::Join': ['/', ['service', { 'Fn::GetAtt': ['Api', 'Name'] }]] } } },
      Alb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Type: 'application', Subnets: ['a', 'b'] } },
      Db: { Type: 'AWS::RDS::DBInstance', Properties: { DBInstanceClass: 'db.m7g.large', MultiAZ: true, StorageType: 'gp2', AllocatedStorage: '200', BackupRetentionPeriod: 7 } },
      Cache: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'redis', CacheNodeType: 'cache.r7g.large', NumCacheClusters: 2 } },
      ...Object.fromEntries(Array.from({ length: rules }, (_, i) => [`Rule${i}`, { Type: 'AWS::ElasticLoadBalancingV2::ListenerRule', Properties: { Priority: i + 1 } }])),
    },
  });

  it('counts the default action and every listener rule: 14 rules bill 4 a request', () => {
    expect(awsInputsFromTemplate(template(0), 't.json').at('max').albRulesPerRequest).toBe(1);
    const { profile, at } = awsInputsFromTemplate(template(13), 't.json');
    expect(at('max').albRulesPerRequest).toBe(14);
    const p = resolveProfileLayer({ extends: 'baseline', usage: { requestsPerMonth: 10e9, dataTransferOutGBPerMonth: 500 } });
    const lcu = line(priceAws(at('max'), p, catalog, { hoursPerMonth: H }), 'ALB capacity units')!;
    expect(lcu.quantity).toBeCloseTo((4 * 10e9) / 3.6e6, 4);
    expect(profile.name).toBe('baseline');
  });
});

describe('savings output: first-year and 3-year ROI, assumptions grouped per profile', () => {
  const c = compare(priceProfile(loadProfile('baseline'), 'aws', catalog), priceProfile(loadProfile('optimized'), 'aws', catalog), 15000);
  const text = renderComparison(c, 'table');
  /** The lines of a section of the text output, from its title to the next blank line. */
  const section = (title: string) => {
    const lines = text.split('\n');
    const start = lines.indexOf(title);
    if (start < 0) return undefined;
    const end = lines.indexOf('', start);
    return lines.slice(start + 1, end < 0 ? undefined : end);
  };

  it('labels the 12-month figure first-year ROI and gives the 3-year one', () => {
    const monthly = c.total.savings;
    const firstYear = Math.round(((Math.round(monthly * 12 * 100) / 100 - 15000) / 15000) * 1000) / 10;
    const threeYears = Math.round(((Math.round(monthly * 36 * 100) / 100 - 15000) / 15000) * 1000) / 10;
    expect(text).toContain(`first-year ROI ${firstYear.toFixed(1)}%; 3-year ROI ${threeYears.toFixed(1)}%`);
    expect(text).not.toMatch(/; ROI /);
    expect(c.roi).toMatchObject({ roiPct: firstYear, threeYearRoiPct: threeYears, threeYearSavings: Math.round(monthly * 36 * 100) / 100 });
  });

  it('lists what both profiles assume once, then the assumptions of each profile under its name', () => {
    const both = section('Assumptions, both profiles:')!;
    const baseline = section('Assumptions, baseline only:')!;
    const optimized = section('Assumptions, optimized only:')!;
    // The public-IPv4 assumption differs in its NAT count: once on each side, never twice in a list.
    expect(baseline.filter((l) => l.includes('public IPv4'))).toEqual([expect.stringContaining('plus one per NAT gateway (2)')]);
    expect(optimized.filter((l) => l.includes('public IPv4'))).toEqual([expect.stringContaining('plus one per NAT gateway (1)')]);
    expect(both.some((l) => l.includes('public IPv4'))).toBe(false);
    expect(both).toContain(`  - ${c.current.assumptions.find((a) => a.field === 'postgres.backupRetentionDays')!.text} (set by postgres.backupRetentionDays)`);
    expect(optimized.some((l) => l.includes('Compute Savings Plan'))).toBe(true);
    expect(baseline.some((l) => l.includes('Compute Savings Plan'))).toBe(false);
    // Every assumption of each side is shown, none twice.
    for (const b of [c.current, c.optimized]) for (const a of b.assumptions) expect(text.split(a.text).length - 1).toBe(1);
  });

  it('groups the same way in markdown, CSV and HTML', () => {
    const md = renderComparison(c, 'md');
    for (const title of ['Assumptions, both profiles:', 'Assumptions, baseline only:', 'Assumptions, optimized only:']) expect(md.split('\n')).toContain(title);
    const csv = renderComparison(c, 'csv').split('\n');
    expect(csv.filter((l) => l.startsWith('"Assumption, baseline only",') && l.includes('public IPv4'))).toHaveLength(1);
    expect(csv.filter((l) => l.startsWith('"Assumption, optimized only",') && l.includes('public IPv4'))).toHaveLength(1);
    const html = renderComparison(c, 'html');
    const block = html.slice(html.indexOf('<div id="assumptions">'), html.indexOf('</div>', html.indexOf('<div id="assumptions">')));
    expect(block.match(/<h3>[^<]*<\/h3>/g)).toEqual(['<h3>both profiles</h3>', '<h3>baseline only</h3>', '<h3>optimized only</h3>']);
    expect(html).toContain('<th scope="row">First-year ROI</th>');
    expect(html).toContain('<th scope="row">3-year ROI</th>');
  });
});

describe('checked inputs', () => {
  const file = (name: string, text: string) => {
    const path = join(tempDir('apistack-input-'), name);
    writeFileSync(path, text);
    return path;
  };
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

  it('profile validate warns at once that a region the catalog has no prices for cannot be priced; --strict refuses it', () => {
    const profile = file('mumbai.yaml', 'extends: optimized\nregion: ap-south-1\nnetwork: { availabilityZoneNames: [ap-south-1a, ap-south-1b] }\n');
    const r = apistack('profile', 'validate', profile);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok optimized: /);
    expect(r.stderr).toContain('warning: `apistack cost` cannot price this profile (1 problem)');
    expect(r.stderr).toContain('region: "ap-south-1" — the price catalog has no prices for it (it has eu-central-1, eu-west-1, us-east-1, us-west-2)');
    const strict = apistack('profile', 'validate', '--strict', profile);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toContain(`profile ${profile} cannot be priced (1 problem)`);
    noStack(strict.stderr);
  }, 60_000);

  it('names every cache and EC2 node type the catalog does not know, with the families it prices', () => {
    const p = resolveProfileLayer({ extends: 'optimized', redis: { nodeType: 'cache.x9.large' }, kubernetes: { nodeInstanceType: 'm5.xlarge' } });
    const { input, catalog: problems } = pricingProblems(p, catalog);
    expect(input).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(/^kubernetes\.nodeInstanceType: "m5\.xlarge" — the catalog has no price for ec2\.m5\.xlarge in us-east-1 \(it prices .*m7g\.\*.*\); choose one of those, or add its price with --prices FILE$/),
      expect.stringMatching(/^redis\.nodeType: "cache\.x9\.large" — the catalog has no price for elasticache\.redis\.cache\.x9\.large in us-east-1 \(it prices .*cache\.t4g\.\*.*\)/),
    ]);
    // A price file that adds them makes the profile priceable.
    const extra = file('extra.json', JSON.stringify({ prices: [
      { item: 'ec2.m5.xlarge', unit: 'hour', usd: 0.192, region: 'us-east-1', source: 'https://aws.amazon.com/ec2/pricing/on-demand/', asOf: '2025-06-01', vcpu: 4, memoryGiB: 16, maxPods: 58 },
      { item: 'elasticache.redis.cache.x9.large', unit: 'hour', usd: 0.2, region: 'us-east-1', source: 'test', asOf: '2025-06-01' },
    ] }));
    expect(pricingProblems(p, Catalog.load([extra]))).toEqual({ input: [], catalog: [] });
  });

  it('every built-in profile can be priced', () => {
    for (const name of builtinProfileNames()) expect(pricingProblems(loadProfile(name), catalog), name).toEqual({ input: [], catalog: [] });
  });

  it('an empty profile file says it is empty (not "got object")', () => {
    for (const text of ['', '# nothing yet\n', 'null\n']) {
      const path = file('empty.yaml', text);
      expect(() => loadProfile(path)).toThrow(ProfileError);
      expect(() => loadProfile(path)).toThrow(`${path} is empty: a profile is a mapping of fields; start it with \`extends: optimized\``);
    }
  });

  it('.nan and .inf in a profile are shown as NaN and Infinity, with the range the field takes', () => {
    const path = file('nan.yaml', 'extends: optimized\nusage:\n  requestsPerMonth: .nan\n  dataTransferOutGBPerMonth: .inf\napi:\n  workersPerReplica: -.inf\n');
    let message = '';
    try {
      loadProfile(path);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('usage.requestsPerMonth: NaN — must be a finite number >= 0');
    expect(message).toContain('usage.dataTransferOutGBPerMonth: Infinity — must be a finite number >= 0');
    expect(message).toContain('api.workersPerReplica: -Infinity — must be a whole number >= 1 and <= 256');
    expect(message).not.toContain('null');
  });

  it('1e400 in a price file is Infinity, refused with the range a unit price takes', () => {
    const text = JSON.stringify({ prices: [{ item: 'nat.hour', unit: 'hour', usd: 1, region: 'us-east-1', source: 'x', asOf: '2025-06-01' }] }).replace('"usd":1', '"usd":1e400');
    expect(() => parsePriceFile(text, 'huge.json')).toThrow(UserError);
    expect(() => parsePriceFile(text, 'huge.json')).toThrow('prices.0.usd: Infinity — must be a finite number >= 0 and <= 100000');
  });

  it('1e300 GB of transfer is refused, naming the field and the range priced; validate refuses it too', () => {
    const p = resolveProfileLayer({ extends: 'optimized', usage: { dataTransferOutGBPerMonth: 1e300 } });
    const range = 'usage.dataTransferOutGBPerMonth: 1e+300 — the cost model prices 0 to 100,000,000 GB a month (100 PB)';
    for (const target of ['aws', 'k8s'] as const) expect(() => priceProfile(p, target, catalog)).toThrow(range);
    expect(pricingProblems(p, catalog).input).toEqual([expect.stringContaining(range)]);
    // The largest figure in range still prints columns a person reads.
    const ok = priceProfile(resolveProfileLayer({ extends: 'optimized', usage: { dataTransferOutGBPerMonth: 1e8 } }), 'aws', catalog);
    expect(String(ok.total).length).toBeLessThan(16);
  });
});

describe('EKS system pods are reserved on every node', () => {
  const p = resolveProfileLayer({ extends: 'optimized', kubernetes: { nodeInstanceType: 't4g.medium', spareNodes: 0 } });
  const withPods = (pods: { cpuMillicores: number; memoryMiB: number }[]) => ({
    ...kubernetesInputsFromProfile(p),
    pods: pods.map((x) => ({ workload: 'app', group: 'Application Servers' as const, ...x })),
    volumes: [],
  });
  const nodesOf = (b: Breakdown) => Number(/unrequested capacity of (\d+) /.exec(line(b, /^unrequested capacity/)!.name)![1]);

  it('two 900m pods no longer share a t4g.medium: 1930m allocatable less 135m of DaemonSets leaves 1795m', () => {
    const b = priceKubernetes(withPods([{ cpuMillicores: 900, memoryMiB: 100 }, { cpuMillicores: 900, memoryMiB: 100 }]), p, catalog, { hoursPerMonth: H });
    expect(nodesOf(b)).toBe(2);
  });

  it('prices the DaemonSets on every node and the system Deployments as their own lines, and states the reservation', () => {
    const b = priceKubernetes(withPods([{ cpuMillicores: 500, memoryMiB: 500 }]), p, catalog, { hoursPerMonth: H });
    expect(nodesOf(b)).toBe(1);
    const node = 0.0336 * 0.8; // t4g.medium under the 1y no-upfront Compute Savings Plan
    const w = (2 * 0.031611) / (2 * 0.031611 + 4 * 0.004237);
    const podHourly = (m: number, mib: number) => Math.round((m * ((node * w) / 2000) + mib * ((node * (1 - w)) / 4096)) * 1e6) / 1e6;
    const ds = line(b, /^EKS DaemonSets on every node \(1 × 135m CPU, 40 MiB requested: kube-proxy, VPC CNI \(aws-node\), EBS CSI node/)!;
    expect(ds.quantity).toBe(H);
    expect(ds.monthly).toBe(Math.round(H * podHourly(135, 40) * 100) / 100);
    expect(line(b, /^coredns pods \(2 × 100m CPU, 70 MiB/)!.quantity).toBe(2 * H);
    expect(line(b, /^ebs-csi-controller pods \(2 × 10m CPU, 40 MiB/)!.quantity).toBe(2 * H);
    expect(b.assumptions.some((a) => a.text.startsWith("every node runs EKS's DaemonSets with their default requests (kube-proxy 100m, VPC CNI (aws-node) 25m, EBS CSI node 10m/40 MiB)"))).toBe(true);
  });
});

describe('CloudWatch Logs on Kubernetes: priced only when the manifests ship logs', () => {
  const p = loadProfile('optimized');
  const logLines = (b: Breakdown) => b.components.flatMap((c) => c.lines).filter((l) => l.priceItem.startsWith('cloudwatch.logs.'));

  it('the charts ship no logs to CloudWatch: no line, and the not-included list says what shipping them would add', () => {
    const b = priceProfile(p, 'k8s', catalog);
    expect(logLines(b)).toEqual([]);
    expect(b.notIncluded).toContain(
      'CloudWatch Logs: the charts ship no logs off the cluster (containers log to their node, where the kubelet rotates the files), so none is priced; shipping usage.logIngestGBPerMonth (50 GB a month) with Fluent Bit would add $0.5/GB ingested and $0.03/GB-month stored',
    );
    // The AWS target does ship its logs (awslogs): priced there.
    expect(logLines(priceProfile(p, 'aws', catalog)).map((l) => l.priceItem)).toEqual(['cloudwatch.logs.ingest', 'cloudwatch.logs.storage']);
  });

  it('manifests that ship logs (a Fluent Bit DaemonSet) are priced for them', () => {
    const b = priceKubernetes({ ...kubernetesInputsFromProfile(p), cloudWatchLogs: true }, p, catalog, { hoursPerMonth: H });
    expect(logLines(b).map((l) => [l.priceItem, l.quantity])).toEqual([['cloudwatch.logs.ingest', 50], expect.arrayContaining(['cloudwatch.logs.storage'])]);
    expect(line(b, 'CloudWatch Logs ingestion')!.monthly).toBe(25);
  });
});

describe('expected figures, with the upper bound stated', () => {
  const efsLine = (b: Breakdown) => line(b, /^Prometheus and Grafana EFS storage/)!;

  it('EFS is priced at what the TSDB holds (samples × 2 bytes × retention), below its size cap, which is stated as the bound', () => {
    const p = loadProfile('optimized'); // 525.6M samples a month, 15 days kept, 20 GiB cap
    const b = priceProfile(p, 'aws', catalog);
    const held = Math.round(((525.6e6 * 2 * 15) / (H / 24) / 1e9) * 1e4) / 1e4;
    expect(efsLine(b).quantity).toBe(held);
    expect(efsLine(b).monthly).toBe(Math.round(held * 0.3 * 100) / 100);
    expect(efsLine(b).monthly).toBeLessThan(20 * 0.3);
    expect(b.assumptions.find((a) => a.text.startsWith('EFS bills what is stored'))!.text).toContain('At its size cap (monitoring.storageGiB = 20), the bound, it would bill $6.00 a month');
  });

  it('a sample rate that would outgrow the cap is held to it', () => {
    const p = resolveProfileLayer({ extends: 'optimized', usage: { metricSamplesPerMonth: 1e12 } });
    expect(efsLine(priceProfile(p, 'aws', catalog)).quantity).toBe(20);
  });

  it('CloudWatch Logs storage is billed compressed (15% of the ingested bytes), the uncompressed figure stated as the bound', () => {
    const b = priceProfile(loadProfile('optimized'), 'aws', catalog);
    const uncompressed = (50 * 30) / (H / 24);
    const l = line(b, 'CloudWatch Logs storage (30 days kept, compressed)')!;
    expect(l.quantity).toBe(Math.round(uncompressed * 0.15 * 1e4) / 1e4);
    expect(b.assumptions.find((a) => a.field === 'monitoring.logRetentionDays')!.text).toContain(`uncompressed, the bound, it would bill $${(Math.round(uncompressed * 0.03 * 100) / 100).toFixed(2)} a month`);
  });
});

describe('what the AWS stack creates that no line prices is listed, with its unit price', () => {
  it('access-log bucket, KMS key, EFS throughput (self-hosted monitoring only), Cloud Map namespace, ECR storage', () => {
    const selfHosted = priceProfile(loadProfile('optimized'), 'aws', catalog).notIncluded;
    expect(selfHosted).toEqual(
      expect.arrayContaining([
        'the S3 bucket of load-balancer access logs: S3 Standard $0.023/GB-month for the 30 days kept, and $0.005 per 1,000 PUT requests (a log file per balancer node every 5 minutes)',
        'the KMS key that encrypts the paging topic: $1 a month, and $0.03 per 10,000 requests beyond the 20,000 free each month',
        'EFS Elastic throughput for Prometheus and Grafana: $0.03/GB read and $0.06/GB written (Prometheus rewrites its blocks as it compacts them)',
        'the Cloud Map private DNS namespace the services find each other in: a Route 53 private hosted zone ($0.50 a month) and its DNS queries ($0.40 per million)',
        'ECR storage of the images the stack builds (the CDK asset repository): $0.10/GB-month; pulls inside the region are free',
      ]),
    );
    // Managed monitoring has no EFS file system.
    const managed = priceProfile(loadProfile('baseline'), 'aws', catalog).notIncluded;
    expect(managed.some((t) => t.startsWith('EFS'))).toBe(false);
    expect(managed.some((t) => t.startsWith('the KMS key'))).toBe(true);
  });
});

describe('eu-west-1 figures', () => {
  const eu = (item: string) => catalog.get('eu-west-1', item);

  it('db.t4g.micro is the billed $0.017, not the $0.017375 the family rule derives', () => {
    expect(eu('rds.postgres.db.t4g.micro').usd).toBe(0.017);
    expect(eu('rds.postgres.db.t4g.micro').uncertain).toBeUndefined();
    // The other sizes still come from the family's price, flagged.
    expect(eu('rds.postgres.db.t4g.small')).toMatchObject({ usd: 0.03475, uncertain: true });
  });

  it("db.m5 carries its published 10.7% premium over us-east-1's $0.178 (not the flat ~8%), still flagged as not re-read", () => {
    expect(eu('rds.postgres.db.m5.large').usd).toBe(Math.round(0.178 * 1.107 * 1000) / 1000);
    expect(eu('rds.postgres.db.m5.xlarge').usd).toBe(0.394);
    expect(eu('rds.postgres.db.m5.large').uncertain).toBe(true);
  });

  it('the confirmed figures are not flagged: Fargate x86, ALB hours, RDS gp3', () => {
    for (const item of ['fargate.x86_64.vcpu', 'fargate.x86_64.memory', 'alb.hour', 'rds.storage.gp3']) expect(eu(item).uncertain, item).toBeUndefined();
    const b = priceProfile(resolveProfileLayer({ extends: 'baseline', region: 'eu-west-1', api: { cpuArchitecture: 'x86_64' } }), 'aws', catalog);
    expect(line(b, /^API tasks vCPU/)!.uncertain).toBeUndefined();
    expect(line(b, 'Application Load Balancer')!.uncertain).toBeUndefined();
  });
});
