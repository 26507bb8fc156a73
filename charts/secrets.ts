/**
 * The Secrets the charts read, by name and key: the one list both the charts and
 * `apistack secrets init` use, so the manifests never reference a key that init does not create.
 * The manifests name these Secrets and never contain them; init writes them once, to a file
 * outside dist/ (or the cluster), and never overwrites one.
 */
import { randomBytes } from 'node:crypto';
import { Yaml } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { POSTGRES_HA_CLUSTER } from '../lib/profile/workloads.ts';
import { labels } from './common.ts';

export const SECRET_KEYS = Object.freeze({
  /** The Postgres password of the `apistack` role: Postgres (at first start), the API, the migrations, the exporter. */
  postgresPassword: { secret: 'postgres-credentials', key: 'password', owner: 'postgres' },
  /** `requirepass` of Redis/Valkey: the server, the API, the exporter. */
  redisPassword: { secret: 'redis-credentials', key: 'password', owner: 'redis' },
  /** The API's ADMIN_TOKEN (API key management). */
  adminToken: { secret: 'api-secrets', key: 'admin-token', owner: 'api' },
  /** Grafana's admin password (only with the self-hosted Prometheus and Grafana). */
  grafanaAdminPassword: { secret: 'grafana-admin', key: 'password', owner: 'grafana' },
});

export type SecretId = keyof typeof SECRET_KEYS;

/** Which secret keys the charts of this profile read. */
export function referencedSecrets(p: ResolvedProfile): SecretId[] {
  return ['postgresPassword', 'redisPassword', 'adminToken', ...(p.monitoring.prometheusOperator ? [] : (['grafanaAdminPassword'] as const))];
}

/**
 * Where a secret value is read from. Under CloudNativePG the operator generates the database
 * owner's password into the `<cluster>-app` Secret (keys username, password, uri, ...), so the
 * charts read it there and `secrets init` does not create one.
 * @see https://cloudnative-pg.io/documentation/current/applications/#secrets
 */
export function secretSource(p: ResolvedProfile, id: SecretId): { secret: string; key: string; owner: string; createdBy: 'secrets init' | 'CloudNativePG' } {
  if (id === 'postgresPassword' && p.derived.kubernetes.postgresMode === 'cloudnative-pg') return { secret: `${POSTGRES_HA_CLUSTER}-app`, key: 'password', owner: 'postgres', createdBy: 'CloudNativePG' };
  return { ...SECRET_KEYS[id], createdBy: 'secrets init' };
}

/** The secret keys `secrets init` creates for this profile: those the charts read that no operator generates. */
export function initSecrets(p: ResolvedProfile): SecretId[] {
  return referencedSecrets(p).filter((id) => secretSource(p, id).createdBy === 'secrets init');
}

/**
 * An environment value read from a Secret the manifests do not contain. Throws when the profile's
 * Secrets do not include it, so a chart cannot read a key `secrets init` would not create.
 */
export function secretEnv(scope: Construct, p: ResolvedProfile, id: SecretId): kplus.EnvValue {
  if (!referencedSecrets(p).includes(id)) throw new Error(`secret "${id}" is read by a chart but not listed by referencedSecrets() for profile ${p.name}: add it there so secrets init creates it`);
  const { secret, key } = secretSource(p, id);
  const importId = `secret-${secret}`;
  const imported = (scope.node.tryFindChild(importId) as kplus.ISecret | undefined) ?? kplus.Secret.fromSecretName(scope, importId, secret);
  return kplus.EnvValue.fromSecretValue({ secret: imported, key });
}

export type SecretValues = Readonly<Partial<Record<SecretId, string>>>;

/** 32 random bytes per value (base64url: safe in URLs, shell arguments and redis-cli -a). */
export function generateSecretValues(p: ResolvedProfile): SecretValues {
  return Object.fromEntries(initSecrets(p).map((id) => [id, randomBytes(32).toString('base64url')]));
}

/** The Secret objects the charts reference, holding `values`, in the profile namespace. */
export function secretObjects(p: ResolvedProfile, values: SecretValues): ISecret[] {
  const bySecret = new Map<string, ISecret>();
  for (const id of initSecrets(p)) {
    const { secret, key, owner } = SECRET_KEYS[id];
    const value = values[id];
    if (value === undefined) throw new Error(`no value for secret "${id}" (${secret}/${key})`);
    const object = bySecret.get(secret) ?? { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: p.kubernetes.namespace, labels: labels(owner) }, type: 'Opaque', stringData: {} };
    object.stringData![key] = value;
    bySecret.set(secret, object);
  }
  return [...bySecret.values()];
}

/** The Secrets as one YAML file for `kubectl apply -f`. */
export function renderSecretsYaml(p: ResolvedProfile, values: SecretValues): string {
  return Yaml.stringify(...secretObjects(p, values));
}
