/** Postgres on RDS and Redis/Valkey on ElastiCache, sized by the profile, reachable only from the API. */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DATABASE, PORTS, type ResolvedProfile } from '../profile/index.ts';
import { acknowledge } from './common.ts';


export class Database extends Construct {
  readonly instance: rds.DatabaseInstance;
  readonly securityGroup: ec2.SecurityGroup;
  readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; vpc: ec2.IVpc; subnets: ec2.SubnetSelection; rotationSubnets: ec2.SubnetSelection }) {
    super(scope, id);
    const p = props.profile;
    const pg = p.postgres;
    const major = pg.engineVersion.split('.')[0]!;
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.of(pg.engineVersion, major) });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: 'Postgres: reachable from the API tasks only', allowAllOutbound: false });

    // max_connections set to what the connection budget was checked against, so a change of
    // RDS's default formula cannot silently break the budget (lib/profile/derive.ts).
    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `apistack ${p.name}: max_connections from the connection budget`,
      parameters: {
        max_connections: String(p.derived.postgres.budgetAws.maxConnections),
        'rds.force_ssl': '1',
        statement_timeout: '0',
        log_min_duration_statement: String(p.derived.api.statementTimeoutMs),
      },
    });

    this.instance = new rds.DatabaseInstance(this, 'Postgres', {
      engine,
      instanceType: new ec2.InstanceType(pg.instanceClass.replace(/^db\./, '')),
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      securityGroups: [this.securityGroup],
      publiclyAccessible: false,
      multiAz: pg.multiAz,
      allocatedStorage: pg.storageGiB,
      storageType: storageType(pg.storageType),
      // io1/io2 only (the profile refuses iops elsewhere); left unset CDK would provision 1,000 unpriced IOPS.
      ...(pg.iops !== undefined ? { iops: pg.iops } : {}),
      storageEncrypted: true,
      databaseName: DATABASE.name,
      // Secrets Manager generates the password; the template holds only a reference to it.
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE.user, { excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\' }),
      parameterGroup,
      backupRetention: Duration.days(pg.backupRetentionDays),
      deletionProtection: p.derived.postgres.deletionProtection,
      removalPolicy: p.derived.postgres.deletionProtection ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      enablePerformanceInsights: true,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      autoMinorVersionUpgrade: true,
      cloudwatchLogsExports: ['postgresql'],
      port: PORTS.postgres,
    });
    this.secret = this.instance.secret!;
    this.instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      // The rotation function calls Secrets Manager: it runs where there is a route out (the isolated
      // subnets have none unless the profile adds interface endpoints).
      vpcSubnets: props.rotationSubnets,
      // Not at creation: tasks starting then would read a password about to change.
      rotateImmediatelyOnUpdate: false,
    });

    acknowledge(this.instance, [
      ['AwsSolutions-RDS11', `Postgres listens on its standard port ${PORTS.postgres}: it is in isolated subnets and its security group admits only the API tasks, so a non-default port hides nothing`],
      ...(pg.multiAz ? [] : [['AwsSolutions-RDS3', `Profile ${p.name} sets postgres.multiAz false: a single-AZ instance is its priced choice (set it true for a standby)`] as const]),
      ...(p.derived.postgres.deletionProtection ? [] : [['AwsSolutions-RDS10', `Profile ${p.name} sets postgres.deletionProtection false: a throwaway environment that must be destroyable`] as const]),
    ]);
  }
}

function storageType(t: ResolvedProfile['postgres']['storageType']): rds.StorageType {
  return { gp2: rds.StorageType.GP2, gp3: rds.StorageType.GP3, io1: rds.StorageType.IO1, io2: rds.StorageType.IO2 }[t];
}

export class Cache extends Construct {
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  readonly securityGroup: ec2.SecurityGroup;
  readonly authToken: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile; vpc: ec2.IVpc; subnets: ec2.SubnetSelection }) {
    super(scope, id);
    const p = props.profile;
    const r = p.redis;
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc: props.vpc, description: `${r.engine}: reachable from the API tasks only`, allowAllOutbound: false });
    // ElastiCache AUTH tokens are 16-128 printable characters without @, " or /.
    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: `apistack ${p.name}: ${r.engine} AUTH token`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'Subnets', {
      description: `apistack ${p.name} cache subnets`,
      subnetIds: props.vpc.selectSubnets(props.subnets).subnetIds,
    });
    const parameterGroup = new elasticache.CfnParameterGroup(this, 'Parameters', {
      // The profile refuses versions without a known family, so this is always set.
      cacheParameterGroupFamily: p.derived.redis.parameterFamily!,
      description: `apistack ${p.name}: ${r.maxmemoryPolicy}`,
      properties: { 'maxmemory-policy': r.maxmemoryPolicy },
    });
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: `apistack ${p.name} cache`,
      engine: r.engine,
      engineVersion: r.engineVersion,
      cacheNodeType: r.nodeType,
      numCacheClusters: 1 + r.replicas,
      multiAzEnabled: r.multiAz,
      automaticFailoverEnabled: r.replicas > 0,
      cacheSubnetGroupName: subnetGroup.ref,
      cacheParameterGroupName: parameterGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      port: PORTS.redis,
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      // A dynamic reference: CloudFormation reads the token from Secrets Manager at deploy time.
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: r.persistence ? 1 : 0,
      autoMinorVersionUpgrade: true,
    });
    acknowledge(this.authToken, [
      ['AwsSolutions-SMG4', 'Rotating an ElastiCache AUTH token takes a ModifyReplicationGroup ROTATE then SET with both tokens live in between; no AWS-published rotation function does that, so it is rotated by a deploy'],
    ]);
    acknowledge(this.replicationGroup, [
      // cdk-nag checks the port of the redis engine only.
      ...(r.engine === 'redis' ? [['AwsSolutions-AEC5', `redis listens on its standard port ${PORTS.redis}, in isolated subnets behind a security group that admits only the API tasks`] as const] : []),
      ...(r.multiAz ? [] : [['AwsSolutions-AEC4', `Profile ${p.name} sets redis.multiAz false: the cache holds only data Postgres has, and one node is its priced choice`] as const]),
    ]);
  }

  /** rediss:// with no password: the app adds REDIS_PASSWORD from Secrets Manager. */
  get url(): string {
    return `rediss://${this.replicationGroup.attrPrimaryEndPointAddress}:${PORTS.redis}`;
  }
}
