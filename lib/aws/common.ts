/** Small pieces every AWS construct shares. */
import { createHash } from 'node:crypto';
import { existsSync, rmSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { NagSuppressions } from 'cdk-nag';
import type { Construct, IConstruct } from 'constructs';
import { SERVICE_DNS_TTL_SECONDS, type ResolvedProfile } from '../profile/index.ts';

/** The private DNS namespace ECS registers tasks in (Cloud Map). */
export const SERVICE_NAMESPACE = 'apistack.internal';

export function retention(p: ResolvedProfile): logs.RetentionDays {
  // RetentionDays' values are the day counts CloudWatch accepts; the profile schema allows only those.
  return p.derived.monitoring.logRetentionDays as logs.RetentionDays;
}

/** Fargate counts CPU in units of 1/1024 vCPU. */
export function cpuUnits(vcpu: number): number {
  return Math.round(vcpu * 1024);
}

/** The image platform of the profile's CPU architecture (every image is built or mirrored for it). */
export function platformOf(p: ResolvedProfile): Platform {
  return p.api.cpuArchitecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
}

/** A Fargate task definition of one size, on the profile's CPU architecture. */
export function fargateTask(scope: Construct, id: string, p: ResolvedProfile, size: { vcpu: number; memoryMiB: number }): ecs.FargateTaskDefinition {
  return new ecs.FargateTaskDefinition(scope, id, {
    cpu: cpuUnits(size.vcpu),
    memoryLimitMiB: size.memoryMiB,
    runtimePlatform: {
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      cpuArchitecture: p.api.cpuArchitecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
    },
  });
}

/**
 * Health-check timings in seconds and counts, as the ECS and ELB fields are; CDK takes Durations.
 * One set for the API and nginx, so the two tiers are judged alike.
 */
export interface HealthCheckTimings {
  /** Seconds between checks. */
  readonly intervalSeconds: number;
  /** Seconds a check may take before it counts as failed. */
  readonly timeoutSeconds: number;
}

/** A container's own check (ECS restarts the task after `retries` failures in a row). */
export interface ContainerHealthCheckTimings extends HealthCheckTimings {
  /** Failures in a row before the container is unhealthy. */
  readonly retries: number;
}

/** A target group's check of its targets (ELB routes only to healthy ones). */
export interface TargetHealthCheckTimings {
  /** Seconds between checks. */
  readonly intervalSeconds: number;
  /** Successes in a row before a target takes traffic. */
  readonly healthyThresholdCount: number;
  /** Failures in a row before a target stops taking traffic. */
  readonly unhealthyThresholdCount: number;
  /** Seconds an HTTP check may take (the ALB's; the NLB keeps its own default). */
  readonly timeoutSeconds?: number;
}

export const HEALTH_CHECKS = {
  /** The API's and nginx's container checks: a failing task is replaced after about 30 s. */
  container: { intervalSeconds: 10, timeoutSeconds: 2, retries: 3 } satisfies ContainerHealthCheckTimings,
  /** Seconds the API's container check is not counted after start: the migrate step runs first. */
  apiStartPeriodSeconds: 20,
  /** The NLB's check of the nginx tasks: in after 2 passes, out after 2 failures, 10 s apart. */
  nlbTargets: { intervalSeconds: 10, healthyThresholdCount: 2, unhealthyThresholdCount: 2 } satisfies TargetHealthCheckTimings,
  /** The ALB's check of the API tasks' readiness: as the NLB's, with a 5 s timeout. */
  albTargets: { intervalSeconds: 10, timeoutSeconds: 5, healthyThresholdCount: 2, unhealthyThresholdCount: 2 } satisfies TargetHealthCheckTimings,
} as const;

/** An ECS container health check running `command` with the shared timings. */
export function containerHealthCheck(command: string[], startPeriodSeconds?: number): ecs.HealthCheck {
  const t = HEALTH_CHECKS.container;
  return {
    command,
    interval: Duration.seconds(t.intervalSeconds),
    timeout: Duration.seconds(t.timeoutSeconds),
    retries: t.retries,
    ...(startPeriodSeconds !== undefined ? { startPeriod: Duration.seconds(startPeriodSeconds) } : {}),
  };
}

/** The timing fields of a target group's health check. */
export function targetHealthCheck(t: TargetHealthCheckTimings): { interval: Duration; timeout?: Duration; healthyThresholdCount: number; unhealthyThresholdCount: number } {
  return {
    interval: Duration.seconds(t.intervalSeconds),
    ...(t.timeoutSeconds !== undefined ? { timeout: Duration.seconds(t.timeoutSeconds) } : {}),
    healthyThresholdCount: t.healthyThresholdCount,
    unhealthyThresholdCount: t.unhealthyThresholdCount,
  };
}

/** A task's security group: nothing in until a rule says so; out, HTTPS only (image pulls, Secrets Manager, logs, AWS APIs). */
export function taskSecurityGroup(scope: Construct, vpc: ec2.IVpc, description: string): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, 'SecurityGroup', { vpc, description, allowAllOutbound: false });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to AWS APIs and registries');
  return group;
}

/** Autoscaling cooldowns: the profile's stabilization windows, for every scaled service. */
export function scalingCooldowns(p: ResolvedProfile): { scaleOutCooldown: Duration; scaleInCooldown: Duration } {
  return { scaleOutCooldown: Duration.seconds(p.api.scaleUpStabilizationSeconds), scaleInCooldown: Duration.seconds(p.api.scaleDownStabilizationSeconds) };
}

/** What every long-running service shares: private subnets, its Cloud Map name, and deploys that roll back instead of failing. */
export function serviceProps(props: { cluster: ecs.ICluster; subnets: ec2.SubnetSelection; securityGroup: ec2.ISecurityGroup; name: string }) {
  return {
    cluster: props.cluster,
    circuitBreaker: { enable: true, rollback: true },
    vpcSubnets: props.subnets,
    securityGroups: [props.securityGroup],
    assignPublicIp: false,
    cloudMapOptions: { name: props.name, dnsRecordType: servicediscovery.DnsRecordType.A, dnsTtl: Duration.seconds(SERVICE_DNS_TTL_SECONDS) },
    propagateTags: ecs.PropagatedTagSource.SERVICE,
  } satisfies Partial<ecs.FargateServiceProps>;
}

/**
 * A cdk-nag finding acknowledged on one construct, with the reason it does not apply here (and, for
 * IAM5, which wildcard: its text, or `{ regex }` when the resource is a token CloudFormation resolves).
 */
export function acknowledge(construct: IConstruct, findings: ReadonlyArray<readonly [id: string, reason: string, appliesTo?: Array<string | { regex: string }>]>, applyToChildren = true): void {
  NagSuppressions.addResourceSuppressions(
    construct,
    findings.map(([id, reason, appliesTo]) => ({ id, reason, ...(appliesTo ? { appliesTo } : {}) })),
    applyToChildren,
  );
}

/** What CDK grants a logged, traced state machine on *, named for its IAM5 acknowledgements. */
export const LOGS_AND_TRACING = 'CloudWatch Logs delivery (logs:*LogDelivery, logs:ListLogDeliveries, logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups) and X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSampling*)';

/**
 * A task whose image comes from the CDK asset repository: ECR's login call has no resource to scope
 * to. On the execution role only, which pulls the image; the task role's grants need reasons of their own.
 */
export function acknowledgeImagePull(task: ecs.TaskDefinition): void {
  acknowledge(task.obtainExecutionRole(), [['AwsSolutions-IAM5', 'ecr:GetAuthorizationToken supports no resource-level permissions; the pull actions themselves are scoped to the asset repository', ['Resource::*']]]);
}

/**
 * A Docker build context made of files rendered at synth time (nginx.conf, prometheus.yml, ...).
 * The image asset hashes the content, so the same profile always gives the same image.
 */
export function renderedContext(name: string, files: Readonly<Record<string, string>>, copy: Readonly<Record<string, string>> = {}): string {
  const all: Record<string, string> = { ...files };
  for (const [path, from] of Object.entries(copy)) all[path] = readFileSync(from, 'utf8');
  const hash = createHash('sha256');
  for (const path of Object.keys(all).sort()) hash.update(`${path}\0${all[path]}\0`);
  // Named by content: every synth of the same profile reuses one directory instead of leaving a new one behind.
  const dir = join(tmpdir(), 'apistack-contexts', `${name}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(dir)) return dir;
  const staging = `${dir}.${process.pid}`;
  mkdirSync(staging, { recursive: true });
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(staging, path)), { recursive: true });
    writeFileSync(join(staging, path), text);
  }
  try {
    renameSync(staging, dir);
  } catch {
    // Another synth put the same content there first.
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/**
 * A public image (an exporter, the collector, k6) as an image asset: `cdk deploy` pulls it once
 * on the deploying machine and pushes it to the CDK asset repository in the account's ECR, and
 * tasks pull it from there. Nothing pulls from a public registry at run time, where Docker Hub's
 * anonymous limit, shared by every task behind the NAT gateways' few addresses, fails a start
 * of about ten load-test runners with `toomanyrequests`. Same tag, same asset: the content hash
 * is the image reference, so two synths stay identical.
 */
export function privateImage(name: string, image: string, platform: Platform): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(renderedContext(name, { Dockerfile: `FROM ${image}\n` }), { platform });
}
