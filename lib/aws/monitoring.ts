/**
 * Monitoring as the profile says: self-hosted Prometheus and Grafana on Fargate with EFS, or
 * Amazon Managed Prometheus (rules loaded, a collector beside each API task) and Managed Grafana.
 * Either way, CloudWatch alarms page for what matters even when Prometheus is down.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as efs from 'aws-cdk-lib/aws-efs';
import type * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as grafana from 'aws-cdk-lib/aws-grafana';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Construct } from 'constructs';
import { externalLabels, GRAFANA_DASHBOARDS_DIR, GRAFANA_DATA_DIR, GRAFANA_ENVIRONMENT, PROMETHEUS_DATA_DIR, prometheusArgs, grafanaProvisioning, prometheusConfig, renderRulesYaml, renderYaml, sidecarScrapeConfig } from '../monitoring/index.ts';
import { CONTAINER_IMAGES, fargateTaskSize, PORTS, type ResolvedProfile } from '../profile/index.ts';
import { acknowledge, acknowledgeImagePull, fargateTask, platformOf, privateImage, renderedContext, retention, serviceProps, taskSecurityGroup } from './common.ts';

/** Where self-hosted Prometheus is reached inside the VPC (its Cloud Map name in the cluster's namespace). */
export function prometheusUrl(namespace: string): string {
  return `http://prometheus.${namespace}:${PORTS.prometheus}`;
}


/** Self-hosted: Prometheus and Grafana as two Fargate services sharing one encrypted EFS file system. */
export class SelfHostedMonitoring extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly fileSystem: efs.FileSystem;

  /** Where Prometheus is reached inside the VPC (Cloud Map). */
  readonly prometheusUrl: string;

  /**
   * Always ready for a load test: Prometheus accepts k6 remote writes and Grafana has the load-test
   * dashboard, so a load-test stack coming or going never changes this stack (and its redeploy
   * never breaks a test in progress). Only a group with an ingress rule on Prometheus's port (Grafana's,
   * and the load-test stack's runners) can write.
   */
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; cluster: ecs.ICluster; subnets: ec2.SubnetSelection; apiDnsName: string; nginxDnsName?: string }) {
    super(scope, id);
    const p = props.profile;
    const m = p.monitoring;
    const vpc = props.cluster.vpc;
    const namespace = props.cluster.defaultCloudMapNamespace!.namespaceName;
    this.prometheusUrl = prometheusUrl(namespace);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });
    this.securityGroup = taskSecurityGroup(this, vpc, 'Prometheus and Grafana: scrape the API and nginx, NFS to EFS');
    // Grafana queries Prometheus inside the same group.
    this.securityGroup.connections.allowInternally(ec2.Port.tcp(PORTS.prometheus), 'Grafana to Prometheus');

    this.fileSystem = new efs.FileSystem(this, 'Storage', {
      vpc,
      vpcSubnets: props.subnets,
      encrypted: true,
      performanceMode: efs.PerformanceMode.GENERAL_PURPOSE,
      // Bursting throughput scales with size: a 20 GiB file system would get a trickle. Elastic pays per use.
      throughputMode: efs.ThroughputMode.ELASTIC,
      removalPolicy: RemovalPolicy.DESTROY,
      securityGroup: new ec2.SecurityGroup(this, 'StorageSecurityGroup', { vpc, description: 'EFS: NFS from Prometheus and Grafana', allowAllOutbound: false }),
    });
    this.securityGroup.connections.allowTo(this.fileSystem, ec2.Port.tcp(efs.FileSystem.DEFAULT_PORT), 'NFS from monitoring to EFS');

    const service = (name: 'prometheus' | 'grafana', cpuMillicores: number, memoryMiB: number, uid: string, dataPath: string, container: ecs.ContainerDefinitionOptions) => {
      const task = fargateTask(this, `${name}Task`, p, fargateTaskSize(cpuMillicores, memoryMiB));
      const accessPoint = this.fileSystem.addAccessPoint(`${name}Data`, {
        path: `/${name}`,
        createAcl: { ownerUid: uid, ownerGid: uid, permissions: '750' },
        posixUser: { uid, gid: uid },
      });
      task.addVolume({ name: 'data', efsVolumeConfiguration: { fileSystemId: this.fileSystem.fileSystemId, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: accessPoint.accessPointId, iam: 'ENABLED' } } });
      this.fileSystem.grant(task.taskRole, 'elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite');
      const c = task.addContainer(name, { ...container, essential: true, logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: name }), user: `${uid}:${uid}` });
      c.addMountPoints({ containerPath: dataPath, sourceVolume: 'data', readOnly: false });
      const svc = new ecs.FargateService(this, `${name}Service`, {
        ...serviceProps({ cluster: props.cluster, subnets: props.subnets, securityGroup: this.securityGroup, name }),
        taskDefinition: task,
        desiredCount: 1,
        // One writer per data directory: the old task stops before the new one starts.
        minHealthyPercent: 0,
        maxHealthyPercent: 100,
        // Nothing here faces the internet: an SSM port forward (docs/deploy-aws.md) is the way in, and it needs ECS Exec's agent in the task.
        enableExecuteCommand: true,
      });
      acknowledgeImagePull(task);
      acknowledge(task.taskRole, [
        ['AwsSolutions-IAM5', `ECS Exec, the only way in to ${name} (an SSM port forward): its agent's ssmmessages:CreateControlChannel, ssmmessages:CreateDataChannel, ssmmessages:OpenControlChannel and ssmmessages:OpenDataChannel support no resource-level permissions, and logs:DescribeLogGroups, which it calls to find the session log group, lists the account's groups`, ['Resource::*']],
        ['AwsSolutions-IAM5', `ECS Exec session logs of ${name}: logs:CreateLogStream, logs:DescribeLogStreams and logs:PutLogEvents on the streams (:*) of the cluster's exec session log group only`, [{ regex: '/^Resource::arn:<AWS::Partition>:logs:[a-z0-9-]+:<AWS::AccountId>:log-group:<ExecSessionLogs[0-9A-F]{8}>:\\*$/' }]],
      ]);
      if (container.environment) acknowledge(task, [['AwsSolutions-ECS2', `${name}'s environment holds only non-secret settings; the Grafana admin password comes from Secrets Manager`]]);
      return svc;
    };

    const promConfig = prometheusConfig(p, { kind: 'aws', apiMetricsDnsName: props.apiDnsName, ...(props.nginxDnsName ? { nginxExporterDnsName: props.nginxDnsName } : {}) });
    const promContext = renderedContext('prometheus', {
      Dockerfile: [
        `FROM ${CONTAINER_IMAGES.prometheus}`,
        'COPY prometheus.yml /etc/prometheus/prometheus.yml',
        'COPY rules.yml /etc/prometheus/rules/apistack.yml',
        '',
      ].join('\n'),
      'prometheus.yml': renderYaml(promConfig),
      'rules.yml': renderRulesYaml(p),
    });
    service('prometheus', m.prometheusCpuMillicores, m.prometheusMemoryMiB, '65534', PROMETHEUS_DATA_DIR, {
      image: ecs.ContainerImage.fromAsset(promContext, { platform: platformOf(p) }),
      // EFS grows without bound: the size cap is what keeps the priced storage (monitoring.storageGiB) true.
      command: prometheusArgs(p, { remoteWriteReceiver: true, capBySize: true }),
      portMappings: [{ name: 'web', containerPort: PORTS.prometheus }],
      healthCheck: { command: ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${PORTS.prometheus}/-/ready || exit 1`], interval: Duration.seconds(15), timeout: Duration.seconds(3), retries: 3, startPeriod: Duration.seconds(60) },
    });

    const adminPassword = new secretsmanager.Secret(this, 'GrafanaAdminPassword', { description: `apistack ${p.name}: Grafana admin password`, generateSecretString: { passwordLength: 32, excludePunctuation: true } });
    acknowledge(adminPassword, [['AwsSolutions-SMG4', 'The Grafana admin password is read once when Grafana first initialises its database; rotating the secret would not change the password Grafana stores']]);
    const prov = grafanaProvisioning(p, this.prometheusUrl, { loadTest: 'any' });
    const grafanaContext = renderedContext('grafana', {
      Dockerfile: [
        `FROM ${CONTAINER_IMAGES.grafana}`,
        'COPY datasources.yml /etc/grafana/provisioning/datasources/prometheus.yml',
        'COPY providers.yml /etc/grafana/provisioning/dashboards/apistack.yml',
        `COPY dashboards/ ${GRAFANA_DASHBOARDS_DIR}/`,
        '',
      ].join('\n'),
      'datasources.yml': prov.datasources,
      'providers.yml': prov.providers,
      ...Object.fromEntries(Object.entries(prov.dashboards).map(([file, json]) => [`dashboards/${file}`, json])),
    });
    service('grafana', m.grafanaCpuMillicores, m.grafanaMemoryMiB, '472', GRAFANA_DATA_DIR, {
      image: ecs.ContainerImage.fromAsset(grafanaContext, { platform: platformOf(p) }),
      environment: { ...GRAFANA_ENVIRONMENT },
      secrets: { GF_SECURITY_ADMIN_PASSWORD: ecs.Secret.fromSecretsManager(adminPassword) },
      portMappings: [{ name: 'web', containerPort: PORTS.grafana }],
      healthCheck: { command: ['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${PORTS.grafana}/api/health || exit 1`], interval: Duration.seconds(15), timeout: Duration.seconds(3), retries: 3, startPeriod: Duration.seconds(60) },
    });
  }
}


/** Managed: an Amazon Managed Prometheus workspace with the rules, a collector per API task, Managed Grafana. */
export class ManagedMonitoring extends Construct {
  readonly workspace: aps.CfnWorkspace;
  readonly grafana: grafana.CfnWorkspace;
  private readonly profile: ResolvedProfile;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; paging: Paging }) {
    super(scope, id);
    const p = props.profile;
    this.profile = p;
    const region = Stack.of(this).region;
    // The workspace's alert manager sends what the rules fire to the same topic the CloudWatch alarms use.
    const alertManager = [
      'alertmanager_config: |',
      '  route:',
      '    receiver: page',
      '    group_by: [alertname]',
      '  receivers:',
      '    - name: page',
      '      sns_configs:',
      `        - topic_arn: ${props.paging.topic.topicArn}`,
      '          sigv4:',
      `            region: ${region}`,
      '',
    ].join('\n');
    this.workspace = new aps.CfnWorkspace(this, 'Prometheus', { alias: `apistack-${p.name}`, alertManagerDefinition: alertManager });
    props.paging.allowPublisher(new iam.ServicePrincipal('aps.amazonaws.com'));
    new aps.CfnRuleGroupsNamespace(this, 'Rules', { workspace: this.workspace.attrArn, name: 'apistack', data: renderRulesYaml(p) });
    const role = new iam.Role(this, 'GrafanaRole', { assumedBy: new iam.ServicePrincipal('grafana.amazonaws.com'), description: 'Managed Grafana reads the workspace and CloudWatch' });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['aps:QueryMetrics', 'aps:GetSeries', 'aps:GetLabels', 'aps:GetMetricMetadata', 'aps:DescribeWorkspace'], resources: [this.workspace.attrArn] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['aps:ListWorkspaces'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData', 'cloudwatch:ListMetrics', 'cloudwatch:DescribeAlarms'], resources: ['*'] }));
    acknowledge(role, [
      ['AwsSolutions-IAM5', 'Grafana browses every workspace, metric and alarm: aps:ListWorkspaces, cloudwatch:GetMetricData and cloudwatch:ListMetrics support no resource-level permissions, and cloudwatch:DescribeAlarms is meant for all alarms; the query actions are scoped to this workspace', ['Resource::*']],
    ]);
    this.grafana = new grafana.CfnWorkspace(this, 'Grafana', {
      name: `apistack-${p.name}`,
      accountAccessType: 'CURRENT_ACCOUNT',
      // Managed Grafana signs users in through IAM Identity Center, which must be enabled in the account.
      authenticationProviders: ['AWS_SSO'],
      permissionType: 'CUSTOMER_MANAGED',
      roleArn: role.roleArn,
      dataSources: ['PROMETHEUS', 'CLOUDWATCH'],
    });
  }

  /** A collector beside a task's own metrics (the API's, or nginx's exporter): scrapes 127.0.0.1 and remote-writes with SigV4. */
  addCollector(task: ecs.FargateTaskDefinition, logGroup: logs.ILogGroup, job: 'api' | 'nginx'): void {
    const p = this.profile;
    const region = Stack.of(this).region;
    const config = {
      extensions: { sigv4auth: { region, service: 'aps' } },
      receivers: { prometheus: { config: sidecarScrapeConfig(p, job) } },
      exporters: {
        prometheusremotewrite: { endpoint: `${this.workspace.attrPrometheusEndpoint}api/v1/remote_write`, auth: { authenticator: 'sigv4auth' }, external_labels: externalLabels(p, 'aws') },
      },
      service: { extensions: ['sigv4auth'], pipelines: { metrics: { receivers: ['prometheus'], exporters: ['prometheusremotewrite'] } } },
    };
    task.addContainer('collector', {
      image: privateImage('otel-collector', CONTAINER_IMAGES.otelCollector, platformOf(p)),
      // Not essential: losing metrics must not take the API down.
      essential: false,
      memoryReservationMiB: 64,
      environment: { AOT_CONFIG_CONTENT: renderYaml(config) },
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'collector' }),
      readonlyRootFilesystem: true,
    });
    task.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['aps:RemoteWrite'], resources: [this.workspace.attrArn] }));
    // cdk-nag reports one ECS2 finding per task with one reason: the API task's own acknowledgement names the collector.
    if (job === 'nginx') acknowledge(task, [['AwsSolutions-ECS2', 'AOT_CONFIG_CONTENT is the collector\'s scrape and remote-write configuration (endpoints and labels); it holds no secret, the collector signs with the task role']]);
  }
}

/**
 * Where pages go: one SNS topic, encrypted with a key of our own. CloudWatch alarms (and Amazon
 * Managed Prometheus's alert manager) cannot publish to a topic under the AWS-managed SNS key,
 * whose policy cannot grant them its use.
 */
export class Paging extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    super(scope, id);
    const p = props.profile;
    this.key = new kms.Key(this, 'Key', { description: `apistack ${p.name}: encrypts the paging topic`, enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY });
    this.topic = new sns.Topic(this, 'Topic', { displayName: `apistack ${p.name} alarms`, enforceSSL: true, masterKey: this.key });
    this.allowPublisher(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
    for (const email of p.monitoring.alarmEmails ?? []) this.topic.addSubscription(new snsSubscriptions.EmailSubscription(email));
    new CfnOutput(Stack.of(this), 'AlarmTopicArn', { value: this.topic.topicArn, description: 'Subscribe here to be paged (email, chat, incident tooling)' });
  }

  /** Let an AWS service publish to the topic: the key and the topic policy both have to say so. */
  allowPublisher(service: iam.ServicePrincipal): void {
    const account = Stack.of(this).account;
    const fromThisAccount = { StringEquals: { 'aws:SourceAccount': account } };
    this.key.addToResourcePolicy(new iam.PolicyStatement({ principals: [service], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'], conditions: fromThisAccount }));
    this.topic.addToResourcePolicy(new iam.PolicyStatement({ principals: [service], actions: ['sns:Publish', 'sns:GetTopicAttributes'], resources: [this.topic.topicArn], conditions: fromThisAccount }));
  }
}

export interface AlarmSources {
  readonly profile: ResolvedProfile;
  readonly paging: Paging;
  readonly database: rds.DatabaseInstance;
  readonly cache: elasticache.CfnReplicationGroup;
  readonly nlb?: { loadBalancer: elbv2.NetworkLoadBalancer; targetGroup: elbv2.NetworkTargetGroup; nginxLogs: logs.ILogGroup };
  readonly alb?: { loadBalancer: elbv2.ApplicationLoadBalancer; targetGroup: elbv2.ApplicationTargetGroup };
}

/** CloudWatch alarms that page even when Prometheus is down, to the paging topic. */
export class Alarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmSources) {
    super(scope, id);
    const p = props.profile;
    const a = p.monitoring.alerts;
    const alarm = (name: string, description: string, metric: cloudwatch.IMetric, threshold: number, comparison = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods = 3) => {
      const created = new cloudwatch.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: comparison,
        evaluationPeriods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new cwActions.SnsAction(props.paging.topic));
      this.alarms.push(created);
    };
    const minute = Duration.minutes(1);

    if (props.alb) {
      const lb = props.alb.loadBalancer.metrics;
      alarm('Alb5xx', 'The ALB answered 5xx (no healthy target, or target errors)', lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: minute, statistic: 'Sum' }), 10);
      alarm('Target5xx', 'API tasks answered 5xx through the ALB', lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: minute, statistic: 'Sum' }), 10);
      alarm('UnhealthyHosts', 'API tasks failing the ALB health check', props.alb.targetGroup.metrics.unhealthyHostCount({ period: minute, statistic: 'Maximum' }), 0);
    }
    if (props.nlb) {
      // nginx, not the NLB, sees HTTP: count its 5xx from its JSON access log. With the access log
      // off there is none to count; its error log still has every upstream failure behind a 502/504.
      const accessLogged = p.nginx.accessLog !== 'off';
      const filter = new logs.MetricFilter(this, accessLogged ? 'Nginx5xxFilter' : 'NginxUpstreamErrorsFilter', {
        logGroup: props.nlb.nginxLogs,
        filterPattern: accessLogged ? logs.FilterPattern.stringValue('$.status', '=', '5*') : logs.FilterPattern.allTerms('[error]', 'upstream'),
        metricNamespace: 'apistack',
        metricName: accessLogged ? `nginx-5xx-${p.name}` : `nginx-upstream-errors-${p.name}`,
        metricValue: '1',
        defaultValue: 0,
      });
      if (accessLogged) alarm('Nginx5xx', 'nginx answered 5xx (no live upstream, or API errors)', filter.metric({ period: minute, statistic: 'Sum' }), 10);
      else alarm('NginxUpstreamErrors', "nginx failed to get answers from the API (upstream errors in its error log; nginx.accessLog is off, so the API's own 5xx answers are not counted)", filter.metric({ period: minute, statistic: 'Sum' }), 10);
      alarm('UnhealthyHosts', 'nginx tasks failing the NLB health check', props.nlb.targetGroup.metrics.unHealthyHostCount({ period: minute, statistic: 'Maximum' }), 0);
    }

    const db = props.database;
    alarm('DatabaseCpu', `RDS CPU above ${a.cpuPercent}%`, db.metricCPUUtilization({ period: Duration.minutes(5) }), a.cpuPercent);
    // Below 10% of the allocated storage free.
    alarm('DatabaseStorage', 'RDS free storage below 10%', db.metricFreeStorageSpace({ period: Duration.minutes(5), statistic: 'Minimum' }), p.postgres.storageGiB * 1024 ** 3 * 0.1, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, 1);
    const maxConnections = p.derived.postgres.budgetAws.maxConnections;
    alarm('DatabaseConnections', `RDS connections above ${a.dbConnectionsPercent}% of max_connections (${maxConnections})`, db.metricDatabaseConnections({ period: minute, statistic: 'Maximum' }), Math.floor((maxConnections * a.dbConnectionsPercent) / 100));

    // ElastiCache names its nodes <replication group>-001, -002, ...; after a failover any of them is the
    // primary, so the alarm watches the fullest node.
    const nodes = p.redis.replicas + 1;
    const perNode = Object.fromEntries(
      Array.from({ length: nodes }, (_, i) => [
        `node${i + 1}`,
        new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName: 'DatabaseMemoryUsagePercentage', dimensionsMap: { CacheClusterId: `${props.cache.ref}-${String(i + 1).padStart(3, '0')}` }, period: Duration.minutes(5), statistic: 'Maximum' }),
      ]),
    );
    const memory = nodes === 1 ? perNode.node1! : new cloudwatch.MathExpression({ expression: `MAX([${Object.keys(perNode).join(', ')}])`, usingMetrics: perNode, period: Duration.minutes(5), label: 'fullest cache node' });
    alarm('CacheMemory', `Cache memory above ${CACHE_MEMORY_ALARM_PERCENT}% of maxmemory: evictions or, with noeviction, refused writes follow`, memory, CACHE_MEMORY_ALARM_PERCENT);
  }
}

/** Percent of maxmemory at which the cache alarm fires. */
export const CACHE_MEMORY_ALARM_PERCENT = 90;

