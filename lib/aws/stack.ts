/** One stack per profile: network, data, the API, the balancer, monitoring and alarms. */
import { CfnOutput, RemovalPolicy, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { assertDeployableOn, PORTS, profileData, PROFILE_METADATA_KEY, type ResolvedProfile } from '../profile/index.ts';
import { ApiService } from './api.ts';
import { AlbBalancer, awsNginxConfig, NginxBalancer } from './balancer.ts';
import { acknowledge, platformOf, renderedContext, retention, SERVICE_NAMESPACE } from './common.ts';
import { Cache, Database } from './data.ts';
import { LoadTestTarget } from './loadtest.ts';
import { Alarms, ManagedMonitoring, Paging, SelfHostedMonitoring } from './monitoring.ts';
import { Network } from './network.ts';
import { RedeployOnRotation } from './rotation.ts';

/** The repository root: the API image builds from it (app/Dockerfile), the nginx image from nginx/Dockerfile. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export { SERVICE_NAMESPACE } from './common.ts';
/** The VPC's DNS resolver: the base of the VPC CIDR plus two, also at this fixed address in every VPC. */
export const VPC_RESOLVER = '169.254.169.253';

export interface ApistackStackProps extends StackProps {
  readonly profile: ResolvedProfile;
}

export class ApistackStack extends Stack {
  readonly profile: ResolvedProfile;
  readonly network: Network;
  readonly api: ApiService;
  readonly cluster: ecs.Cluster;
  /** The API's admin token (the load-test setup creates API keys with it). */
  readonly adminToken: secretsmanager.Secret;
  /** The public load balancer (NLB in front of nginx, or the ALB). */
  readonly loadBalancerDnsName: string;
  /** Self-hosted Prometheus and Grafana, when the profile runs them. */
  readonly selfHostedMonitoring?: SelfHostedMonitoring;

  constructor(scope: Construct, id: string, props: ApistackStackProps) {
    const p = props.profile;
    // The profile's AWS checks (lib/profile/invariants.ts) ran when it was loaded for every target
    // or for AWS; one loaded for Kubernetes only is checked here, in the same words.
    assertDeployableOn(p, 'aws');
    super(scope, id, { ...props, env: { region: p.region, ...props.env }, description: `apistack ${p.name}: ${p.description}` });
    this.profile = p;
    Tags.of(this).add('apistack:profile', p.name);
    // What a template cannot say (expected traffic, purchase option), for `apistack cost --from-template`.
    this.templateOptions.metadata = { [PROFILE_METADATA_KEY]: profileData(p) };

    // Named zones keep the template the same without an account lookup (lib/profile/instances.ts).
    const zones = p.derived.network.availabilityZoneNames!;
    this.network = new Network(this, 'Network', { profile: p, availabilityZones: [...zones] });
    const vpc = this.network.vpc;
    const database = new Database(this, 'Database', { profile: p, vpc, subnets: this.network.dataSubnets, rotationSubnets: this.network.appSubnets });
    const cache = new Cache(this, 'Cache', { profile: p, vpc, subnets: this.network.dataSubnets });

    // Self-hosted Prometheus and Grafana take ECS Exec sessions (SSM port forwards): what is run in them is kept here.
    const execSessionLogs = p.monitoring.mode === 'self-hosted' ? new logs.LogGroup(this, 'ExecSessionLogs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY }) : undefined;
    const cluster = (this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      defaultCloudMapNamespace: { name: SERVICE_NAMESPACE, vpc, useForServiceConnect: false },
      ...(execSessionLogs ? { executeCommandConfiguration: { logging: ecs.ExecuteCommandLogging.OVERRIDE, logConfiguration: { cloudWatchLogGroup: execSessionLogs } } } : {}),
    }));
    const adminToken = (this.adminToken = new secretsmanager.Secret(this, 'AdminToken', {
      description: `apistack ${p.name}: the API's admin token (POST /api/events needs it)`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    }));
    acknowledge(adminToken, [['AwsSolutions-SMG4', 'The admin token is read by the API at task start; rotate it by putting a new value and forcing a new deployment (docs/deploy-aws.md: Secrets on AWS)']]);

    const paging = new Paging(this, 'Paging', { profile: p });
    const managed = p.monitoring.mode === 'managed' ? new ManagedMonitoring(this, 'ManagedMonitoring', { profile: p, paging }) : undefined;
    const platform = platformOf(p);
    const apiImage = ecs.ContainerImage.fromAsset(REPO_ROOT, {
      file: 'app/Dockerfile',
      platform,
      // The image needs the lockfile and app/ only; everything else stays out of the build context.
      exclude: ['*', '!package.json', '!package-lock.json', '!app'],
    });
    this.api = new ApiService(this, 'Api', {
      profile: p,
      cluster,
      subnets: this.network.appSubnets,
      image: apiImage,
      database,
      cache,
      adminToken: ecs.Secret.fromSecretsManager(adminToken),
      ...(managed ? { sidecars: (task, logs) => managed.addCollector(task, logs, 'api') } : {}),
    });

    new RedeployOnRotation(this, 'RedeployOnRotation', { profile: p, secret: database.secret, service: this.api.service });

    let alarmSources: ConstructorParameters<typeof Alarms>[2] = { profile: p, paging, database: database.instance, cache: cache.replicationGroup };
    let nginx: NginxBalancer | undefined;
    if (p.network.loadBalancer === 'nlb') {
      const nginxConf = awsNginxConfig(p, this.api.dnsName, VPC_RESOLVER);
      const context = renderedContext('nginx', { 'nginx.conf': nginxConf }, { Dockerfile: join(REPO_ROOT, 'nginx', 'Dockerfile') });
      nginx = new NginxBalancer(this, 'Nginx', {
        profile: p,
        cluster,
        subnets: this.network.appSubnets,
        image: ecs.ContainerImage.fromAsset(context, { platform, buildArgs: { NGINX_VERSION: p.nginx.imageTag, NGINX_CONF: 'nginx.conf' } }),
        api: this.api,
        ...(managed ? { sidecars: (task, logs) => managed.addCollector(task, logs, 'nginx') } : {}),
      });
      alarmSources = { ...alarmSources, nlb: { loadBalancer: nginx.loadBalancer, targetGroup: nginx.targetGroup, nginxLogs: nginx.logGroup } };
      this.loadBalancerDnsName = nginx.loadBalancer.loadBalancerDnsName;
    } else {
      const alb = new AlbBalancer(this, 'Alb', { profile: p, vpc, api: this.api });
      this.loadBalancerDnsName = alb.loadBalancer.loadBalancerDnsName;
      alarmSources = { ...alarmSources, alb: { loadBalancer: alb.loadBalancer, targetGroup: alb.targetGroup } };
    }

    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.loadBalancerDnsName, description: 'Point your domain here (CNAME or alias); with network.loadBalancerCertificateArn, the domain the certificate names' });

    if (!managed) {
      const monitoring = (this.selfHostedMonitoring = new SelfHostedMonitoring(this, 'Monitoring', {
        profile: p,
        cluster,
        subnets: this.network.appSubnets,
        apiDnsName: this.api.dnsName,
        ...(nginx ? { nginxDnsName: nginx.dnsName } : {}),
      }));
      const scraped = [[this.api.securityGroup, PORTS.apiMetrics, 'the API']] as [ec2.SecurityGroup, number, string][];
      if (nginx) scraped.push([nginx.securityGroup, PORTS.nginxExporter, 'the nginx exporter']);
      for (const [group, port, name] of scraped) {
        monitoring.securityGroup.connections.allowTo(group, ec2.Port.tcp(port), `Prometheus scrapes ${name}`);
      }
    }
    new Alarms(this, 'Alarms', alarmSources);
    // Published with or without a load test, so that one coming or going never changes this stack.
    new LoadTestTarget(this, 'LoadTestTarget', {
      profile: p,
      vpc,
      subnets: this.network.appSubnets,
      cluster,
      adminToken,
      loadBalancerDnsName: this.loadBalancerDnsName,
      ...(this.selfHostedMonitoring ? { prometheusSecurityGroup: this.selfHostedMonitoring.securityGroup } : {}),
    });
  }
}
