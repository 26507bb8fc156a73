/**
 * A load test against a deployed stack, as its own stack (`apistack-<profile>-loadtest`) in the
 * same app, so `cdk destroy` of it removes everything the test added and nothing else. One run is
 * one execution of a Step Functions state machine: the setup task once (it seeds users and API
 * keys and puts them into a Secrets Manager secret), then `parallelism` k6 tasks at once, each
 * with its index, its share of the load and the fixtures injected by ECS. The runners load the
 * main stack's public load balancer and, with self-hosted monitoring, remote-write to its
 * Prometheus, where the load-test dashboard computes one verdict across them.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { K6_ENV, needsSetup, renderK6Script, renderK6SetupScript, runnersOf, runSeconds } from '../loadtest/k6.ts';
import type { Scenario } from '../loadtest/scenario.ts';
import { K6_TREND_STATS_ENV } from '../monitoring/index.ts';
import { CONTAINER_IMAGES, fargateTaskSize, LOADTEST_RESOURCES, PORTS, type ResolvedProfile } from '../profile/index.ts';
import { publicEndpoint } from './balancer.ts';
import { acknowledge, fargateTask, LOGS_AND_TRACING, retention, taskSecurityGroup } from './common.ts';
import type { ApistackStack } from './stack.ts';

/**
 * The task's script arrives in K6_SCRIPT_BASE64 (it is no secret) and k6 reads it from stdin: no
 * image to build. Base64, so CloudFormation sees no `${...}` of the script's template literals.
 */
export const SCRIPT_ENV = 'K6_SCRIPT_BASE64';
const k6FromEnv = (outputs: string) => [`printf '%s' "$${SCRIPT_ENV}" | base64 -d | k6 run ${outputs}-`];
const base64 = (script: string) => Buffer.from(script, 'utf8').toString('base64');

export interface LoadTestStackProps extends StackProps {
  readonly profile: ResolvedProfile;
  readonly scenario: Scenario;
  /** The stack under test: its load balancer, cluster, subnets, admin token and Prometheus. */
  readonly target: ApistackStack;
}

export class LoadTestStack extends Stack {
  readonly stateMachine: sfn.StateMachine;
  readonly runnerTask: ecs.FargateTaskDefinition;
  readonly setupTask?: ecs.FargateTaskDefinition;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: LoadTestStackProps) {
    const p = props.profile;
    const s = props.scenario;
    const main = props.target;
    super(scope, id, { ...props, env: { region: p.region, ...props.env }, description: `apistack ${p.name}: load test "${s.name}" against ${main.stackName}` });
    const vpc = main.network.vpc;
    const runners = runnersOf(s);
    const monitoring = main.selfHostedMonitoring;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });

    const endpoint = publicEndpoint(p);
    this.securityGroup = taskSecurityGroup(this, vpc, 'k6 load-test tasks: HTTP to the public load balancer, remote write to Prometheus');
    // The load balancer is public: the tasks reach it through the NAT gateways, as clients outside would.
    // With TLS the rule is the HTTPS one every task group already has.
    if (endpoint.scheme === 'http') this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(endpoint.port), 'HTTP to the public load balancer');
    this.securityGroup.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.udp(53), 'DNS to the VPC resolver');
    this.securityGroup.addEgressRule(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(53), 'DNS to the VPC resolver');
    if (monitoring) {
      this.securityGroup.addEgressRule(monitoring.securityGroup, ec2.Port.tcp(PORTS.prometheus), 'k6 remote write to Prometheus');
      // Declared here, not through the main stack's group: the rule then lives and dies with this stack, and the main stack never refers to it.
      new ec2.CfnSecurityGroupIngress(this, 'RemoteWriteIngress', {
        groupId: monitoring.securityGroup.securityGroupId,
        sourceSecurityGroupId: this.securityGroup.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: PORTS.prometheus,
        toPort: PORTS.prometheus,
        description: 'k6 remote write from the load test',
      });
    }
    const environment = {
      [K6_ENV.targetUrl]: `${endpoint.scheme}://${main.loadBalancerDnsName}`,
      // The certificate names the user's domain, not the balancer's AWS name the runners dial: still TLS, without the name check.
      ...(endpoint.scheme === 'https' ? { K6_INSECURE_SKIP_TLS_VERIFY: 'true' } : {}),
    };
    const logging = (prefix: string) => ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: prefix });
    const size = (r: { cpuLimitMillicores: number; memoryLimitMiB: number }) => fargateTaskSize(r.cpuLimitMillicores, r.memoryLimitMiB);

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
        image: ecs.ContainerImage.fromRegistry(CONTAINER_IMAGES.k6),
        essential: true,
        entryPoint: ['sh', '-c'],
        command: k6FromEnv(''),
        environment: {
          ...environment,
          [SCRIPT_ENV]: base64(renderK6SetupScript(s, { store: 'aws-secrets-manager' })),
          [K6_ENV.fixturesSecretId]: fixtures.secretArn,
          [K6_ENV.fixturesRegion]: this.region,
        },
        secrets: { [K6_ENV.adminToken]: ecs.Secret.fromSecretsManager(main.adminToken) },
        logging: logging('setup'),
        readonlyRootFilesystem: true,
      });
      // The one AWS call the setup makes, on the one secret.
      setupTask.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: [fixtures.secretArn] }));
      acknowledge(setupTask, [['AwsSolutions-ECS2', 'The environment holds the k6 script, the target URL and the fixtures secret ARN, none of them secret; the admin token comes from Secrets Manager']]);
    }

    const runnerTask = (this.runnerTask = fargateTask(this, 'RunnerTask', p, size(LOADTEST_RESOURCES.runner)));
    const runner = runnerTask.addContainer('k6', {
      image: ecs.ContainerImage.fromRegistry(CONTAINER_IMAGES.k6),
      essential: true,
      entryPoint: ['sh', '-c'],
      command: k6FromEnv(monitoring ? '-o experimental-prometheus-rw ' : ''),
      environment: {
        ...environment,
        [SCRIPT_ENV]: base64(renderK6Script(s)),
        ...(monitoring ? { K6_PROMETHEUS_RW_SERVER_URL: `${monitoring.prometheusUrl}/api/v1/write`, K6_PROMETHEUS_RW_TREND_STATS: K6_TREND_STATS_ENV } : {}),
      },
      ...(fixtures ? { secrets: { [K6_ENV.fixtures]: ecs.Secret.fromSecretsManager(fixtures) } } : {}),
      logging: logging('runner'),
      readonlyRootFilesystem: true,
    });
    acknowledge(runnerTask, [['AwsSolutions-ECS2', 'The environment holds the k6 script, the target URL and the remote-write URL, none of them secret; the fixtures (API keys) come from Secrets Manager']]);

    const runTask = (id: string, task: ecs.FargateTaskDefinition, overrides?: tasks.ContainerOverride[]) =>
      new tasks.EcsRunTask(this, id, {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        cluster: main.cluster,
        taskDefinition: task,
        launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.LATEST }),
        subnets: main.network.appSubnets,
        securityGroups: [this.securityGroup],
        assignPublicIp: false,
        ...(overrides ? { containerOverrides: overrides } : {}),
        resultPath: sfn.JsonPath.DISCARD,
      });
    const indexes = new sfn.Pass(this, 'Runner indexes', { result: sfn.Result.fromObject({ runners: Array.from({ length: runners }, (_, i) => String(i)) }) });
    const fanOut = new sfn.Map(this, 'Runners', { itemsPath: '$.runners', maxConcurrency: runners, resultPath: sfn.JsonPath.DISCARD });
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
      ['AwsSolutions-IAM5', 'ecs:RunTask on any revision (:*) of this stack\'s own two task definition families, setup and runner, as the EcsRunTask integration grants it; no other task definition', [{ regex: '/^Resource::arn:.*"Ref":"(SetupTask|RunnerTask)[0-9A-F]{8}".*:\\*$/' }]],
    ]);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn, description: 'Start a run: aws stepfunctions start-execution --state-machine-arn <this>' });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName, description: 'k6 output of the setup and runner tasks (aws logs tail <this> --follow)' });
  }
}
