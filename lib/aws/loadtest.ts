/**
 * A load test against a deployed stack, as its own stack (`apistack-<profile>-loadtest`) in the
 * same app, so `cdk destroy` of it removes everything the test added and nothing else. One run is
 * one execution of a Step Functions state machine: the setup task once (it seeds users and API
 * keys and puts them into a Secrets Manager secret), then `parallelism` k6 tasks at once, each
 * with its index, its share of the load and the fixtures injected by ECS. The runners load the
 * main stack's public load balancer and, with self-hosted monitoring, remote-write to its
 * Prometheus, where the load-test dashboard shows them together.
 *
 * The main stack never depends on this one: it always publishes what a load test needs as SSM
 * parameters (LoadTestTarget), which this stack reads at its own deploy time. No CloudFormation
 * export ties the two, so the main stack deploys, changes or switches profile with or without a
 * load-test stack beside it (an export that another stack imports can be neither removed nor changed).
 */
import { Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { K6_ENV, needsSetup, renderK6Script, renderK6SetupScript, runnersOf, runSeconds } from '../loadtest/k6.ts';
import type { Scenario } from '../loadtest/scenario.ts';
import { K6_NATIVE_HISTOGRAM_ENV, K6_TREND_STATS_ENV } from '../monitoring/index.ts';
import { CONTAINER_IMAGES, fargateTaskSize, LOADTEST_RESOURCES, PORTS, type ResolvedProfile } from '../profile/index.ts';
import { UserError } from '../errors.ts';
import { publicEndpoint } from './balancer.ts';
import { acknowledge, acknowledgeImagePull, fargateTask, LOGS_AND_TRACING, platformOf, privateImage, retention, SERVICE_NAMESPACE, taskSecurityGroup } from './common.ts';
import { prometheusUrl } from './monitoring.ts';
import { VPC_CIDR } from './network.ts';

/**
 * The task's script arrives in K6_SCRIPT_BASE64 (it is no secret) and k6 reads it from stdin: no
 * image to build. Base64, so CloudFormation sees no `${...}` of the script's template literals.
 */
export const SCRIPT_ENV = 'K6_SCRIPT_BASE64';
const k6FromEnv = (outputs: string) => [`printf '%s' "$${SCRIPT_ENV}" | base64 -d | k6 run ${outputs}-`];
const base64 = (script: string) => Buffer.from(script, 'utf8').toString('base64');

/**
 * Runners one run starts together. Fargate launches at most 100 tasks at once (its task launch
 * bucket; 20 a second after that) and the scenario schema allows 100 runners, so every runner of
 * any scenario starts in the first burst. An inline Map would run at most 40 at once and start
 * the rest in waves, mixing them in one verdict; a Distributed Map runs up to 10,000.
 * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 */
export const MAX_RUNNERS_AT_ONCE = 100;

/** What a load test needs of the main stack, each an SSM parameter the main stack always publishes. */
export const LOAD_TEST_TARGET = Object.freeze({
  vpcId: 'vpc-id',
  /** The private (task) subnets, comma-separated, one per availability zone in the profile's order. */
  subnetIds: 'subnet-ids',
  clusterName: 'cluster-name',
  adminTokenArn: 'admin-token-arn',
  loadBalancerDnsName: 'load-balancer-dns-name',
  /** Self-hosted monitoring only. */
  prometheusSecurityGroupId: 'prometheus-security-group-id',
});
export type LoadTestTargetKey = keyof typeof LOAD_TEST_TARGET;

export function loadTestTargetParameterName(p: ResolvedProfile, key: LoadTestTargetKey): string {
  return `/apistack/${p.name}/load-test-target/${LOAD_TEST_TARGET[key]}`;
}

export interface LoadTestTargetProps {
  readonly profile: ResolvedProfile;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly cluster: ecs.ICluster;
  readonly adminToken: secretsmanager.ISecret;
  readonly loadBalancerDnsName: string;
  /** Prometheus's group, with self-hosted monitoring. @default - managed monitoring: no Prometheus to write to */
  readonly prometheusSecurityGroup?: ec2.ISecurityGroup;
}

/**
 * In the main stack, with or without a load test: the parameters a load-test stack reads. They
 * are plain resources of the main stack, so a load-test stack reading them pins nothing, and a
 * changed value reaches the load test at its next deploy.
 */
export class LoadTestTarget extends Construct {
  constructor(scope: Construct, id: string, props: LoadTestTargetProps) {
    super(scope, id);
    const p = props.profile;
    const values: Record<LoadTestTargetKey, string | undefined> = {
      vpcId: props.vpc.vpcId,
      subnetIds: Fn.join(',', props.vpc.selectSubnets(props.subnets).subnetIds),
      clusterName: props.cluster.clusterName,
      adminTokenArn: props.adminToken.secretArn,
      loadBalancerDnsName: props.loadBalancerDnsName,
      prometheusSecurityGroupId: props.prometheusSecurityGroup?.securityGroupId,
    };
    for (const [key, value] of Object.entries(values) as [LoadTestTargetKey, string | undefined][]) {
      if (value === undefined) continue;
      new ssm.StringParameter(this, key, { parameterName: loadTestTargetParameterName(p, key), stringValue: value, description: `apistack ${p.name}: ${key} for a load-test stack` });
    }
  }
}

export interface LoadTestStackProps extends StackProps {
  readonly profile: ResolvedProfile;
  readonly scenario: Scenario;
  /** The name of the stack under test (its LoadTestTarget parameters are read by name, not by reference). */
  readonly targetStackName: string;
}

export class LoadTestStack extends Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly runnerTask: ecs.FargateTaskDefinition;
  readonly setupTask?: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: LoadTestStackProps) {
    const p = props.profile;
    const s = props.scenario;
    const runners = runnersOf(s);
    if (runners > MAX_RUNNERS_AT_ONCE) {
      throw new UserError(`load test ${s.name}: ${runners} runners, but Fargate starts at most ${MAX_RUNNERS_AT_ONCE} tasks at once, and a run whose runners start in waves has no single verdict; set --parallelism (or the scenario's parallelism) to ${MAX_RUNNERS_AT_ONCE} or fewer and give each runner more virtual users`);
    }
    super(scope, id, { ...props, env: { region: p.region, ...props.env }, description: `apistack ${p.name}: load test "${s.name}" against ${props.targetStackName}` });
    const target = (key: LoadTestTargetKey) => ssm.StringParameter.valueForStringParameter(this, loadTestTargetParameterName(p, key));
    const zones = [...(p.derived.network.availabilityZoneNames ?? [])];
    const subnetIds = Fn.split(',', target('subnetIds'), zones.length);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: target('vpcId'), vpcCidrBlock: VPC_CIDR, availabilityZones: zones, privateSubnetIds: subnetIds });
    // The tasks only run in these subnets; nothing here routes, so their route tables are never asked for.
    Annotations.of(vpc).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'RunTask needs the subnet IDs only');
    const cluster = ecs.Cluster.fromClusterAttributes(this, 'Cluster', { clusterName: target('clusterName'), vpc, securityGroups: [] });
    const loadBalancerDnsName = target('loadBalancerDnsName');
    const selfHosted = p.monitoring.mode === 'self-hosted';
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });

    const endpoint = publicEndpoint(p);
    this.securityGroup = taskSecurityGroup(this, vpc, 'k6 load-test tasks: HTTP to the public load balancer, remote write to Prometheus');
    // The load balancer is public: the tasks reach it through the NAT gateways, as clients outside would.
    // With TLS the rule is the HTTPS one every task group already has.
    if (endpoint.scheme === 'http') this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(endpoint.port), 'HTTP to the public load balancer');
    this.securityGroup.addEgressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.udp(53), 'DNS to the VPC resolver');
    this.securityGroup.addEgressRule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(53), 'DNS to the VPC resolver');
    if (selfHosted) {
      const prometheusGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'PrometheusSecurityGroup', target('prometheusSecurityGroupId'), { mutable: false });
      this.securityGroup.addEgressRule(prometheusGroup, ec2.Port.tcp(PORTS.prometheus), 'k6 remote write to Prometheus');
      // Declared here, not through the main stack's group: the rule then lives and dies with this stack, and the main stack never refers to it.
      new ec2.CfnSecurityGroupIngress(this, 'RemoteWriteIngress', {
        groupId: prometheusGroup.securityGroupId,
        sourceSecurityGroupId: this.securityGroup.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: PORTS.prometheus,
        toPort: PORTS.prometheus,
        description: 'k6 remote write from the load test',
      });
    }
    const environment = {
      [K6_ENV.targetUrl]: `${endpoint.scheme}://${loadBalancerDnsName}`,
      // The certificate names the user's domain, not the balancer's AWS name the runners dial: still TLS, without the name check.
      ...(endpoint.scheme === 'https' ? { K6_INSECURE_SKIP_TLS_VERIFY: 'true' } : {}),
    };
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: prefix });
    const size = (r: { cpuLimitMillicores: number; memoryLimitMiB: number }) => fargateTaskSize(r.cpuLimitMillicores, r.memoryLimitMiB);
    const k6Image = privateImage('k6', CONTAINER_IMAGES.k6, platformOf(p));

    let fixtures: secretsmanager.Secret | undefined;
    if (needsSetup(s)) {
      fixtures = new secretsmanager.Secret(this, 'Fixtures', {
        description: `apistack ${p.name} load test ${s.name}: user id ranges and API keys the setup task seeded for the runners`,
        // A placeholder until the setup task of the first run puts the fixtures.
        generateSecretString: { passwordLength: 16, excludePunctuation: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      acknowledge(fixtures, [['AwsSolutions-SMG4', 'The setup task replaces the whole value at the start of every run; rotation would only break the run in progress, and the keys die with the test data']]);
      const setupTask = (this.setupTask = fargateTask(this, 'SetupTask', p, size(LOADTEST_RESOURCES.setup)));
      setupTask.addContainer('k6', {
        image: k6Image,
        essential: true,
        entryPoint: ['sh', '-c'],
        command: k6FromEnv(''),
        environment: {
          ...environment,
          [SCRIPT_ENV]: base64(renderK6SetupScript(s, { store: 'aws-secrets-manager' })),
          [K6_ENV.fixturesSecretId]: fixtures.secretArn,
          [K6_ENV.fixturesRegion]: this.region,
        },
        secrets: { [K6_ENV.adminToken]: ecs.Secret.fromSecretsManager(secretsmanager.Secret.fromSecretCompleteArn(this, 'AdminToken', target('adminTokenArn'))) },
        logging: logging('setup'),
        readonlyRootFilesystem: true,
      });
      // The one AWS call the setup makes, on the one secret.
      setupTask.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: [fixtures.secretArn] }));
      acknowledge(setupTask, [['AwsSolutions-ECS2', 'The environment holds the k6 script, the target URL and the fixtures secret ARN, none of them secret; the admin token comes from Secrets Manager']]);
      acknowledgeImagePull(setupTask);
    }

    const runnerTask = (this.runnerTask = fargateTask(this, 'RunnerTask', p, size(LOADTEST_RESOURCES.runner)));
    const runner = runnerTask.addContainer('k6', {
      image: k6Image,
      essential: true,
      entryPoint: ['sh', '-c'],
      command: k6FromEnv(selfHosted ? '-o experimental-prometheus-rw ' : ''),
      environment: {
        ...environment,
        [SCRIPT_ENV]: base64(renderK6Script(s)),
        ...(selfHosted ? { K6_PROMETHEUS_RW_SERVER_URL: `${prometheusUrl(SERVICE_NAMESPACE)}/api/v1/write`, K6_PROMETHEUS_RW_TREND_STATS: K6_TREND_STATS_ENV, ...K6_NATIVE_HISTOGRAM_ENV } : {}),
      },
      ...(fixtures ? { secrets: { [K6_ENV.fixtures]: ecs.Secret.fromSecretsManager(fixtures) } } : {}),
      logging: logging('runner'),
      readonlyRootFilesystem: true,
    });
    acknowledge(runnerTask, [['AwsSolutions-ECS2', 'The environment holds the k6 script, the target URL and the remote-write URL, none of them secret; the fixtures (API keys) come from Secrets Manager']]);
    acknowledgeImagePull(runnerTask);

    const runTask = (id: string, task: ecs.FargateTaskDefinition, overrides?: tasks.ContainerOverride[]) => {
      const run = new tasks.EcsRunTask(this, id, {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        cluster,
        taskDefinition: task,
        launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.LATEST }),
        subnets: { subnets: vpc.privateSubnets },
        securityGroups: [this.securityGroup],
        assignPublicIp: false,
        ...(overrides ? { containerOverrides: overrides } : {}),
        resultPath: sfn.JsonPath.DISCARD,
      });
      // RunTask takes 20 calls a second: runners beyond the first second's share are throttled, and start a moment later.
      run.addRetry({ errors: ['ECS.AmazonECSException', 'ECS.ThrottlingException'], interval: Duration.seconds(1), backoffRate: 1.5, maxAttempts: 8, jitterStrategy: sfn.JitterType.FULL });
      return run;
    };
    const indexes = new sfn.Pass(this, 'Runner indexes', { result: sfn.Result.fromObject({ runners: Array.from({ length: runners }, (_, i) => String(i)) }) });
    // A Distributed Map starts every runner together (MAX_RUNNERS_AT_ONCE); each child is a standard
    // workflow, the kind that can wait for a task to stop (.sync).
    const fanOut = new sfn.DistributedMap(this, 'Runners', { itemsPath: '$.runners', maxConcurrency: runners, mapExecutionType: sfn.StateMachineType.STANDARD, resultPath: sfn.JsonPath.DISCARD });
    fanOut.itemProcessor(runTask('Runner', runnerTask, [{ containerDefinition: runner, environment: [{ name: K6_ENV.runnerIndex, value: sfn.JsonPath.stringAt('$') }] }]));
    const chain = this.setupTask ? indexes.next(runTask('Setup', this.setupTask)).next(fanOut) : indexes.next(fanOut);

    const machineLogs = new logs.LogGroup(this, 'StateMachineLogs', { logGroupName: `/aws/vendedlogs/states/${id}`, retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });
    const seconds = runSeconds(s);
    this.stateMachine = new sfn.StateMachine(this, 'Run', {
      stateMachineName: id,
      definitionBody: sfn.DefinitionBody.fromChainable(chain),
      logs: { destination: machineLogs, level: sfn.LogLevel.ALL },
      tracingEnabled: true,
      // The setup, task starts (image pulls) and the run; unbounded scenarios stop at a day.
      timeout: seconds === undefined ? Duration.hours(24) : Duration.seconds(Math.ceil(seconds) + 3600),
    });
    acknowledge(this.stateMachine, [
      ['AwsSolutions-IAM5', `The .sync integration's ecs:StopTask and ecs:DescribeTasks act on tasks whose ARNs exist only once a run starts; and, as Step Functions requires, ${LOGS_AND_TRACING}; RunTask is scoped to the two task definitions`, ['Resource::*']],
      // The construct grants RunTask on every revision of each family, so a new revision never needs a new policy.
      // The Distributed Map runs each runner as a child execution of this state machine.
      ['AwsSolutions-IAM5', 'states:DescribeExecution and states:StopExecution on the executions of this state machine only (execution:<its name>:*), and states:RedriveExecution on their Distributed Map child executions (/*:*), as the Distributed Map state needs to watch and stop its runners', [{ regex: '/^Resource::arn:<AWS::Partition>:states:[a-z0-9-]+:<AWS::AccountId>:execution:\\{"Fn::Select":\\[6,\\{"Fn::Split":\\[":",\\{"Ref":"Run[0-9A-F]{8}"\\}\\]\\}\\]\\}(/\\*)?:\\*$/' }]],
      ['AwsSolutions-IAM5', 'ecs:RunTask on any revision (:*) of this stack\'s own two task definition families, setup and runner, as the EcsRunTask integration grants it; no other task definition', [{ regex: '/^Resource::arn:.*"Ref":"(SetupTask|RunnerTask)[0-9A-F]{8}".*:\\*$/' }]],
    ]);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'Start a run: aws stepfunctions start-execution --state-machine-arn <this>' });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName, description: 'k6 output of the setup and runner tasks (aws logs tail <this> --follow)' });
  }
}
