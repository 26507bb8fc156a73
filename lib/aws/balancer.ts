/**
 * What the internet reaches: nginx (least_conn over the API tasks found through Cloud Map) behind
 * an NLB, or, as the AWS-native alternative, an ALB with least outstanding requests in front of
 * the API directly. With network.loadBalancerCertificateArn the public listener is TLS/HTTPS on 443.
 */
import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONTAINER_PORTS, CONTAINER_TEMP_DIR, NGINX_HEALTH_PATH, renderNginxConfig, STUB_STATUS_PATH, volumeInitCommand } from '../../nginx/render.ts';
import { CONTAINER_IMAGES, EXPORTER_RESOURCES, fargateTaskSize, PORTS, type ResolvedProfile } from '../profile/index.ts';
import type { ApiService } from './api.ts';
import { acknowledge, acknowledgeImagePull, containerHealthCheck, fargateTask, HEALTH_CHECKS, platformOf, privateImage, retention, scalingCooldowns, serviceProps, targetHealthCheck, taskSecurityGroup } from './common.ts';
import { APP_ROUTES } from '../monitoring/index.ts';
import { VPC_CIDR } from './network.ts';

/** The public listener port without a certificate: plain HTTP (TCP on the NLB). */
export const PUBLIC_PORT = 80;
/** The public listener port with network.loadBalancerCertificateArn. */
export const PUBLIC_TLS_PORT = 443;

/** Where clients reach the stack: HTTPS on 443 with a certificate, plain HTTP on 80 without. */
export function publicEndpoint(p: ResolvedProfile): { scheme: 'http' | 'https'; port: number } {
  return p.network.loadBalancerCertificateArn ? { scheme: 'https', port: PUBLIC_TLS_PORT } : { scheme: 'http', port: PUBLIC_PORT };
}

/** The geo entries of the NAT gateways' public addresses, written by the volume-init container (nginx/render.ts volumeInitCommand). */
const NAT_EXEMPT_FILE = `${CONTAINER_TEMP_DIR}/nat-gateways.geo`;
const NAT_ADDRESSES_VARIABLE = 'NAT_PUBLIC_ADDRESSES';

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** Whether the IPv4 block `outer` holds all of `inner` (IPv6 blocks hold no IPv4 block). */
export function cidrContains(outer: string, inner: string): boolean {
  const [oa, ob = '32'] = outer.split('/');
  const [ia, ib = '32'] = inner.split('/');
  if (oa!.includes(':') || ia!.includes(':') || Number(ob) > Number(ib)) return false;
  const size = 2 ** (32 - Number(ob));
  return Math.floor(ipv4ToInt(oa!) / size) === Math.floor(ipv4ToInt(ia!) / size);
}

/**
 * Callers inside the VPC (the load-test runners) reach the public NLB through the NAT gateways,
 * so nginx sees them as the NATs' public addresses: a profile that exempts the VPC's networks
 * from the per-client limits exempts those addresses too, known only once deployed.
 */
function exemptsNatGateways(p: ResolvedProfile): boolean {
  return p.derived.nginx.rateLimitExemptCidrs.some((cidr) => cidrContains(cidr, VPC_CIDR));
}

/**
 * nginx.conf for the Fargate tasks behind the NLB. The target group sends PROXY protocol v2, so
 * the client address reaches the per-client limits; only the VPC (where the NLB's nodes are) is
 * trusted to send it.
 */
export function awsNginxConfig(p: ResolvedProfile, upstreamHost: string, resolver: string): string {
  return renderNginxConfig(p, {
    kind: 'aws',
    upstreamHost,
    resolver,
    ...CONTAINER_PORTS,
    proxyProtocolFrom: [VPC_CIDR],
    ...(exemptsNatGateways(p) ? { exemptAddressesFile: NAT_EXEMPT_FILE } : {}),
  });
}

function accessLogBucket(scope: Construct, p: ResolvedProfile): s3.Bucket {
  const bucket = new s3.Bucket(scope, 'AccessLogs', {
    // Load balancer access logs support only SSE-S3 (not KMS) on the target bucket.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ expiration: Duration.days(p.derived.monitoring.logRetentionDays) }],
    // Logs outlive the stack: an audit may need them after a teardown.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  acknowledge(bucket, [['AwsSolutions-S1', 'This is the access-log bucket itself; logging its own accesses into itself would loop']]);
  return bucket;
}

export interface NginxBalancerProps {
  readonly profile: ResolvedProfile;
  /** The cluster the nginx tasks run in; its Cloud Map namespace names them. */
  readonly cluster: ecs.ICluster;
  /** Where the nginx tasks run (the private application subnets); the NLB itself is in the public ones. */
  readonly subnets: ec2.SubnetSelection;
  /** nginx with the rendered nginx.conf (awsNginxConfig) built in. */
  readonly image: ecs.ContainerImage;
  /** The API the nginx tasks proxy to: its security group admits them. */
  readonly api: ApiService;
  /** Extra containers in the task (the metrics collector in managed monitoring). */
  readonly sidecars?: (task: ecs.FargateTaskDefinition, logGroup: logs.ILogGroup) => void;
}

export class NginxBalancer extends Construct {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly service: ecs.FargateService;
  readonly securityGroup: ec2.SecurityGroup;
  readonly targetGroup: elbv2.NetworkTargetGroup;
  readonly logGroup: logs.LogGroup;
  /** Cloud Map name of the nginx tasks (Prometheus scrapes their exporters). */
  readonly dnsName: string;

  readonly task: ecs.FargateTaskDefinition;

  constructor(scope: Construct, id: string, props: NginxBalancerProps) {
    super(scope, id);
    const p = props.profile;
    const vpc = props.cluster.vpc;
    // The task is sized for nginx alone, as priced; the exporter shares it with a soft memory reservation.
    const size = fargateTaskSize(p.nginx.cpuMillicores, p.nginx.memoryMiB);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });
    this.logGroup = logGroup;
    const task = fargateTask(this, 'Task', p, size);
    // nginx writes its pid and temp files under /tmp (nginx/render.ts); the root filesystem is read-only.
    // ECS creates this volume root-owned with mode 0755, where nginx as the image's uid 101 fails
    // with `mkdir() "/tmp/client_body" failed (13: Permission denied)`. A short root container
    // hands the volume to uid 101 first, and nginx starts only after it succeeded.
    task.addVolume({ name: 'tmp' });
    const natAddresses = exemptsNatGateways(p) ? natPublicAddresses(vpc) : undefined;
    const volumeInit = task.addContainer('volume-init', {
      image: props.image,
      essential: false,
      user: '0',
      entryPoint: ['sh', '-c'],
      command: [volumeInitCommand(CONTAINER_TEMP_DIR, natAddresses ? { file: NAT_EXEMPT_FILE, variable: NAT_ADDRESSES_VARIABLE } : undefined)],
      ...(natAddresses ? { environment: { [NAT_ADDRESSES_VARIABLE]: natAddresses } } : {}),
      memoryReservationMiB: 16,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'volume-init' }),
      readonlyRootFilesystem: true,
    });
    volumeInit.addMountPoints({ containerPath: CONTAINER_TEMP_DIR, sourceVolume: 'tmp', readOnly: false });
    const nginx = task.addContainer('nginx', {
      image: props.image,
      essential: true,
      memoryLimitMiB: p.nginx.memoryMiB,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'nginx' }),
      portMappings: [{ name: 'http', containerPort: CONTAINER_PORTS.listenPort }],
      // The status port: the public one requires the NLB's PROXY header.
      healthCheck: containerHealthCheck(['CMD-SHELL', `wget -q -O /dev/null http://127.0.0.1:${CONTAINER_PORTS.statusPort}${NGINX_HEALTH_PATH} || exit 1`]),
      // nginx's graceful quit gives in-flight requests the longest a proxied request can take.
      stopTimeout: Duration.seconds(p.derived.nginx.containerStopTimeoutSeconds),
      readonlyRootFilesystem: true,
    });
    nginx.addMountPoints({ containerPath: CONTAINER_TEMP_DIR, sourceVolume: 'tmp', readOnly: false });
    nginx.addContainerDependencies({ container: volumeInit, condition: ecs.ContainerDependencyCondition.SUCCESS });
    task.addContainer('nginx-exporter', {
      image: privateImage('nginx-exporter', CONTAINER_IMAGES.nginxExporter, platformOf(p)),
      essential: false,
      memoryReservationMiB: EXPORTER_RESOURCES.nginxExporter.memoryRequestMiB,
      command: [`--nginx.scrape-uri=http://127.0.0.1:${CONTAINER_PORTS.statusPort}${STUB_STATUS_PATH}`],
      portMappings: [{ name: 'metrics', containerPort: PORTS.nginxExporter }],
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'exporter' }),
      readonlyRootFilesystem: true,
    });

    props.sidecars?.(task, logGroup);
    this.task = task;
    acknowledgeImagePull(task);
    if (natAddresses) acknowledge(task, [['AwsSolutions-ECS2', 'The one environment variable is the NAT gateways\' public addresses (not secret), which nginx exempts from the per-client limits']]);

    // No DNS rule: security groups do not filter traffic to the VPC's resolver, which nginx re-resolves Cloud Map names with.
    this.securityGroup = taskSecurityGroup(this, vpc, 'nginx tasks: HTTP from the NLB, API calls out');
    this.securityGroup.connections.allowTo(props.api.securityGroup, ec2.Port.tcp(PORTS.api), 'nginx to the API tasks');

    this.service = new ecs.FargateService(this, 'Service', {
      ...serviceProps({ cluster: props.cluster, subnets: props.subnets, securityGroup: this.securityGroup, name: 'nginx' }),
      taskDefinition: task,
      // Autoscaled: no desiredCount, or every deploy of a new task would reset it to replicasMin.
      ...(p.derived.nginx.hpa ? {} : { desiredCount: p.nginx.replicasMin }),
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });
    this.dnsName = `nginx.${props.cluster.defaultCloudMapNamespace!.namespaceName}`;
    if (p.derived.nginx.hpa) {
      const scaling = this.service.autoScaleTaskCount({ minCapacity: p.nginx.replicasMin, maxCapacity: p.nginx.replicasMax });
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: p.derived.nginx.autoscalingCpuTargetPercent, ...scalingCooldowns(p) });
    }

    const certificateArn = p.network.loadBalancerCertificateArn;
    const { port } = publicEndpoint(p);
    const lbSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', { vpc, description: 'NLB: the public listener in, nginx out', allowAllOutbound: false });
    lbSecurityGroup.connections.allowFrom(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), certificateArn ? 'the public API over TLS' : 'the public API');
    lbSecurityGroup.connections.allowTo(this.securityGroup, ec2.Port.tcp(CONTAINER_PORTS.listenPort), 'the NLB to nginx');
    acknowledge(lbSecurityGroup, [['AwsSolutions-EC23', `The public API listens on port ${port} for every client; per-client limits are nginx's job`]]);

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [lbSecurityGroup],
      crossZoneEnabled: true,
    });
    let listener: elbv2.NetworkListener;
    if (certificateArn) {
      // TLS only, no port 80: an NLB cannot redirect, so a plain listener would carry API keys in clear text.
      listener = this.loadBalancer.addListener('Listener', {
        port,
        protocol: elbv2.Protocol.TLS,
        certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      });
      this.loadBalancer.logAccessLogs(accessLogBucket(this, p), 'nlb');
    } else {
      listener = this.loadBalancer.addListener('Listener', { port, protocol: elbv2.Protocol.TCP });
      // No bucket: NLBs write access logs for TLS listeners only, so one would never receive a log.
      acknowledge(this.loadBalancer.node.defaultChild!, [['AwsSolutions-ELB2', `NLBs write access logs for TLS listeners only, and without network.loadBalancerCertificateArn this one is plain TCP; nginx's JSON access log in CloudWatch Logs (nginx.accessLog) is the access log of record`]], false);
    }
    this.targetGroup = listener.addTargets('Nginx', {
      port: CONTAINER_PORTS.listenPort,
      protocol: elbv2.Protocol.TCP,
      targets: [this.service.loadBalancerTarget({ containerName: 'nginx', containerPort: CONTAINER_PORTS.listenPort })],
      // Connections drain for as long as the app's graceful timeout gives its requests.
      deregistrationDelay: Duration.seconds(p.api.gracefulTimeoutSeconds),
      // On the traffic port: with PROXY protocol on, the NLB's health checks send the header too
      // (with the LOCAL command and no client address), which that listener expects.
      healthCheck: { protocol: elbv2.Protocol.HTTP, path: NGINX_HEALTH_PATH, ...targetHealthCheck(HEALTH_CHECKS.nlbTargets) },
    });
    // IP targets on a TCP target group see the NLB's private address, not the client's: the
    // PROXY protocol v2 header carries the client's to nginx (real_ip from the VPC only).
    this.targetGroup.setAttribute('proxy_protocol_v2.enabled', 'true');
  }
}

/** The NAT gateways' public addresses, space-separated, as CloudFormation resolves them (CDK names each subnet's NAT address `EIP`). */
function natPublicAddresses(vpc: ec2.IVpc): string {
  const eips = vpc.publicSubnets.map((s) => s.node.tryFindChild('EIP')).filter((c): c is ec2.CfnEIP => c instanceof ec2.CfnEIP);
  if (eips.length === 0) throw new Error('the VPC has no NAT gateway addresses to exempt');
  return Fn.join(' ', eips.map((e) => e.attrPublicIp));
}

export interface AlbBalancerProps {
  readonly profile: ResolvedProfile;
  /** The VPC whose public subnets hold the ALB. */
  readonly vpc: ec2.IVpc;
  /** The API the ALB forwards to: its security group admits the ALB, and it also scales on requests per task. */
  readonly api: ApiService;
}

export class AlbBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;

  constructor(scope: Construct, id: string, props: AlbBalancerProps) {
    super(scope, id);
    const p = props.profile;
    const certificateArn = p.network.loadBalancerCertificateArn;
    const { port } = publicEndpoint(p);
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'ALB: the public listener in, the API out', allowAllOutbound: false });
    securityGroup.connections.allowFrom(ec2.Peer.anyIpv4(), ec2.Port.tcp(PUBLIC_PORT), certificateArn ? 'redirect to HTTPS' : 'the public API');
    if (certificateArn) securityGroup.connections.allowFrom(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), 'the public API over HTTPS');
    securityGroup.connections.allowTo(props.api.securityGroup, ec2.Port.tcp(PORTS.api), 'the ALB to the API tasks');
    const ports = certificateArn ? `${port} (HTTPS) and ${PUBLIC_PORT} (a redirect to HTTPS)` : `${PUBLIC_PORT}`;
    acknowledge(securityGroup, [['AwsSolutions-EC23', `The public API listens on port ${ports} for every client; the ALB drops invalid headers and the API rate-limits per key`]]);

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup,
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(accessLogBucket(this, p), 'alb');
    // The forwarding listener keeps its ID with or without a certificate, and so does its target group.
    const listener = certificateArn
      ? this.loadBalancer.addListener('Listener', {
          port,
          protocol: elbv2.ApplicationProtocol.HTTPS,
          certificates: [elbv2.ListenerCertificate.fromArn(certificateArn)],
          sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          open: false,
        })
      : this.loadBalancer.addListener('Listener', { port, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    if (certificateArn) this.loadBalancer.addRedirect({ sourcePort: PUBLIC_PORT, sourceProtocol: elbv2.ApplicationProtocol.HTTP, targetPort: port, targetProtocol: elbv2.ApplicationProtocol.HTTPS, open: false });
    this.targetGroup = listener.addTargets('Api', {
      port: PORTS.api,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [props.api.service.loadBalancerTarget({ containerName: 'api', containerPort: PORTS.api })],
      loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
      deregistrationDelay: Duration.seconds(p.api.gracefulTimeoutSeconds),
      healthCheck: { path: APP_ROUTES.readiness, ...targetHealthCheck(HEALTH_CHECKS.albTargets) },
    });
    props.api.scaleOnRequests(this.targetGroup);
  }
}
