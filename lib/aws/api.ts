/** The API on ECS Fargate: a migrate step, the clustered app, its secrets, logs, health check and autoscaling. */
import { Duration, RemovalPolicy, TimeZone } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { appEnvironment, type APP_SECRET_ENV, DATABASE, PORTS, type ResolvedProfile } from '../profile/index.ts';
import { acknowledge, acknowledgeImagePull, containerHealthCheck, fargateTask, HEALTH_CHECKS, retention, scalingCooldowns, serviceProps, taskSecurityGroup } from './common.ts';
import type { Cache, Database } from './data.ts';
import { APP_ROUTES } from '../monitoring/index.ts';

export interface ApiServiceProps {
  readonly profile: ResolvedProfile;
  readonly cluster: ecs.ICluster;
  readonly subnets: ec2.SubnetSelection;
  readonly image: ecs.ContainerImage;
  readonly database: Database;
  readonly cache: Cache;
  readonly adminToken: ecs.Secret;
  /** Extra containers in the task (the metrics collector in managed monitoring). */
  readonly sidecars?: (task: ecs.FargateTaskDefinition, logGroup: logs.ILogGroup) => void;
}

export class ApiService extends Construct {
  readonly service: ecs.FargateService;
  readonly task: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.SecurityGroup;
  readonly scaling: ecs.ScalableTaskCount;
  readonly logGroup: logs.LogGroup;
  /** Cloud Map name nginx and Prometheus resolve to the running tasks. */
  readonly dnsName: string;
  private readonly profile: ResolvedProfile;

  constructor(scope: Construct, id: string, props: ApiServiceProps) {
    super(scope, id);
    const p = props.profile;
    this.profile = p;
    const d = p.derived;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });
    this.task = fargateTask(this, 'Task', p, { vcpu: p.api.vcpuPerReplica, memoryMiB: p.api.memoryMiBPerReplica });

    const environment = {
      ...appEnvironment(p),
      // Only the password is secret: Secrets Manager hands it to the task as DATABASE_PASSWORD.
      DATABASE_URL: `postgres://${DATABASE.user}@${props.database.instance.dbInstanceEndpointAddress}:${PORTS.postgres}/${DATABASE.name}?sslmode=require`,
      REDIS_URL: props.cache.url,
      // ECS has no preStop hook, and takes the task out of Cloud Map just before SIGTERM: the app
      // keeps serving (readiness 503) until no nginx can still hold its address, then drains.
      SHUTDOWN_DELAY: String(d.api.shutdownDelaySeconds),
    };
    const secrets: Record<(typeof APP_SECRET_ENV)[number], ecs.Secret> = {
      DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(props.database.secret, 'password'),
      REDIS_PASSWORD: ecs.Secret.fromSecretsManager(props.cache.authToken),
      ADMIN_TOKEN: props.adminToken,
    };
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: prefix });

    // Every task migrates before it serves; the app takes an advisory lock, so concurrent tasks wait for one another.
    const migrate = this.task.addContainer('migrate', {
      image: props.image,
      command: ['migrate'],
      essential: false,
      environment,
      secrets,
      logging: logging('migrate'),
      readonlyRootFilesystem: true,
      user: '10001',
    });
    const api = this.task.addContainer('api', {
      image: props.image,
      essential: true,
      environment,
      secrets,
      logging: logging('api'),
      portMappings: [
        { name: 'http', containerPort: PORTS.api },
        { name: 'metrics', containerPort: PORTS.apiMetrics },
      ],
      healthCheck: containerHealthCheck(
        ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${PORTS.api}${APP_ROUTES.liveness}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        HEALTH_CHECKS.apiStartPeriodSeconds,
      ),
      // Covers SHUTDOWN_DELAY + the graceful timeout + a margin (lib/profile/derive.ts): deregister,
      // wait out DNS, drain, stop.
      stopTimeout: Duration.seconds(d.api.containerStopTimeoutSeconds),
      readonlyRootFilesystem: true,
      user: '10001',
    });
    api.addContainerDependencies({ container: migrate, condition: ecs.ContainerDependencyCondition.SUCCESS });
    props.sidecars?.(this.task, this.logGroup);

    this.securityGroup = taskSecurityGroup(this, props.cluster.vpc, 'API tasks: HTTP from the balancer, metrics from monitoring');
    this.service = new ecs.FargateService(this, 'Service', {
      ...serviceProps({ cluster: props.cluster, subnets: props.subnets, securityGroup: this.securityGroup, name: 'api' }),
      taskDefinition: this.task,
      // No desiredCount: autoscaling owns it, and a deploy must not reset it to a fixed number.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });
    this.dnsName = `api.${props.cluster.defaultCloudMapNamespace!.namespaceName}`;

    // Each writes the egress rule here and the matching ingress rule on the data store's group.
    this.securityGroup.connections.allowTo(props.database.securityGroup, ec2.Port.tcp(PORTS.postgres), 'the API tasks to Postgres');
    this.securityGroup.connections.allowTo(props.cache.securityGroup, ec2.Port.tcp(PORTS.redis), 'the API tasks to the cache');

    this.scaling = this.service.autoScaleTaskCount({ minCapacity: p.api.replicasMin, maxCapacity: p.api.replicasMax });
    const cooldowns = scalingCooldowns(p);
    this.scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: p.api.autoscalingCpuTargetPercent, ...cooldowns });
    this.scaling.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: p.api.autoscalingMemoryTargetPercent, ...cooldowns });
    for (const s of p.api.scheduledScaling ?? []) {
      this.scaling.scaleOnSchedule(s.name, {
        schedule: appscaling.Schedule.expression(s.schedule),
        ...(s.timeZone ? { timeZone: TimeZone.of(s.timeZone) } : {}),
        minCapacity: s.replicasMin,
        maxCapacity: s.replicasMax,
      });
    }

    acknowledgeImagePull(this.task);
    acknowledge(this.task, [
      ['AwsSolutions-ECS2', 'The environment holds only the profile\'s non-secret settings and endpoint names (and a metrics collector\'s scrape and remote-write configuration, when there is one); passwords and tokens come from Secrets Manager through `secrets`'],
    ]);
  }

  /** Behind an ALB: also scale on requests per task. */
  scaleOnRequests(targetGroup: elbv2.ApplicationTargetGroup): void {
    const p = this.profile;
    this.scaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: p.derived.api.autoscalingRequestsPerTargetPerMinute,
      targetGroup,
      ...scalingCooldowns(p),
    });
  }
}
