/**
 * Where the API finds Postgres and Redis on Kubernetes, for each way the profile runs them, without
 * credentials: the app adds DATABASE_PASSWORD and REDIS_PASSWORD (from Secrets) to these URLs.
 */
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { DATABASE, PORTS, POSTGRES_HA_CLUSTER } from '../lib/profile/workloads.ts';

export function dataConnectionUrls(p: ResolvedProfile): { DATABASE_URL: string; REDIS_URL: string } {
  const svc = (name: string) => `${name}.${p.kubernetes.namespace}.svc.${p.kubernetes.clusterDomain}`;
  const k = p.derived.kubernetes;
  // CloudNativePG's `<cluster>-rw` Service follows the primary; RDS and ElastiCache are reached over TLS.
  const postgresHost = k.postgresMode === 'external' ? p.postgres.k8sExternalHost! : svc(k.postgresMode === 'cloudnative-pg' ? `${POSTGRES_HA_CLUSTER}-rw` : 'postgres');
  const redis = k.redisMode === 'external' ? `rediss://${p.redis.k8sExternalHost!}:${PORTS.redis}` : `redis://${svc('redis')}:${PORTS.redis}`;
  return {
    DATABASE_URL: `postgres://${DATABASE.user}@${postgresHost}:${PORTS.postgres}/${DATABASE.name}${k.postgresMode === 'external' ? '?sslmode=require' : ''}`,
    REDIS_URL: redis,
  };
}
