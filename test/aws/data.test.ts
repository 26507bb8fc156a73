/** The data constructs: RDS Postgres and ElastiCache as the profile sizes them, encrypted and private, with their secrets. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PORTS } from '../../lib/profile/index.ts';
import { PROFILE_NAMES, synth, only } from './fixtures.ts';

describe('data', () => {
  it.each(PROFILE_NAMES)('%s: RDS Postgres as the profile says, encrypted, private, password in Secrets Manager and rotated', (name) => {
    const s = synth(name);
    const pg = s.profile.postgres;
    s.template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: pg.engineVersion,
      DBInstanceClass: pg.instanceClass,
      AllocatedStorage: String(pg.storageGiB),
      StorageType: pg.storageType,
      MultiAZ: pg.multiAz,
      // Provisioned IOPS only where the profile gives them (io1/io2), as priced.
      Iops: pg.iops ?? Match.absent(),
      BackupRetentionPeriod: pg.backupRetentionDays,
      DeletionProtection: s.profile.derived.postgres.deletionProtection,
      StorageEncrypted: true,
      PubliclyAccessible: false,
      EnablePerformanceInsights: true,
      MasterUsername: 'apistack',
      MasterUserPassword: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['{{resolve:secretsmanager:']) ]) }),
    });
    s.template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: `postgres${pg.engineVersion.split('.')[0]}`,
      Parameters: Match.objectLike({ max_connections: String(s.profile.derived.postgres.budgetAws.maxConnections), 'rds.force_ssl': '1' }),
    });
    s.template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });

  it.each(PROFILE_NAMES)('%s: ElastiCache as the profile says, encrypted, AUTH token from Secrets Manager', (name) => {
    const s = synth(name);
    const r = s.profile.redis;
    const group = only(s, 'AWS::ElastiCache::ReplicationGroup');
    expect(group).toMatchObject({
      Engine: r.engine,
      EngineVersion: r.engineVersion,
      CacheNodeType: r.nodeType,
      NumCacheClusters: 1 + r.replicas,
      MultiAZEnabled: r.multiAz,
      AutomaticFailoverEnabled: r.replicas > 0,
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      Port: PORTS.redis,
    });
    expect(JSON.stringify(group.AuthToken)).toContain('{{resolve:secretsmanager:');
    // Family names follow no pattern across versions (redis6.x, redis7, valkey8): written out here.
    const family = ({ 'redis 7.1': 'redis7', 'valkey 8.0': 'valkey8' } as Record<string, string>)[`${r.engine} ${r.engineVersion}`];
    s.template.hasResourceProperties('AWS::ElastiCache::ParameterGroup', { CacheParameterGroupFamily: family, Properties: { 'maxmemory-policy': r.maxmemoryPolicy } });
  });
});
