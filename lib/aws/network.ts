/** The VPC: public, private and isolated subnets over the profile's AZs, NAT from the profile, flow logs, endpoints. */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AWS_INTERFACE_ENDPOINTS, type ResolvedProfile } from '../profile/index.ts';
import { acknowledge, retention } from './common.ts';

/** The VPC's address range (the same in every stack: each stack has a VPC of its own); the NLB's nodes, and every task, have addresses in it. */
export const VPC_CIDR = '10.0.0.0/16';

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Where tasks run: private, with a route out through the NAT gateways. */
  readonly appSubnets: ec2.SubnetSelection;
  readonly dataSubnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; availabilityZones: string[] }) {
    super(scope, id);
    const p = props.profile;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      availabilityZones: props.availabilityZones,
      natGateways: p.network.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: false,
    });
    this.appSubnets = { subnetGroupName: 'private' };
    this.dataSubnets = { subnetGroupName: 'isolated' };

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention: retention(p), removalPolicy: RemovalPolicy.DESTROY });
    this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.REJECT });

    // S3 is a gateway endpoint (free); ECR layers are served from S3.
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.appSubnets] });
    for (const [name, service] of p.network.interfaceEndpoints ? Object.entries(AWS_INTERFACE_ENDPOINTS) : []) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, { service: new ec2.InterfaceVpcEndpointAwsService(service), subnets: this.appSubnets, privateDnsEnabled: true });
      acknowledge(endpoint, [['CdkNagValidationFailure', 'The endpoint admits HTTPS from the VPC\'s own CIDR, a reference cdk-nag cannot read; nothing outside the VPC reaches it']]);
    }
  }
}
