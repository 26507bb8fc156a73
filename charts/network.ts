/**
 * NetworkPolicies: deny everything in the namespace, then allow exactly outside → nginx,
 * nginx → API, API → Postgres and Redis, Prometheus → metrics ports, migrations → Postgres,
 * Grafana → Prometheus, and every pod → DNS.
 */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { PORTS } from '../lib/profile/workloads.ts';
import { labels, selector, manifest } from './common.ts';

type PolicySpec = NonNullable<INetworkPolicy['spec']>;
type Rules = Pick<PolicySpec, 'ingress' | 'egress'>;
type Peer = NonNullable<NonNullable<PolicySpec['ingress']>[number]['from']>[number];
const pods = (name: string): Peer => ({ podSelector: { matchLabels: selector(name) } });
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP' as const, port }));

export class NetworkChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const policy = (name: string, podSelector: PolicySpec['podSelector'], spec: Rules) =>
      manifest(this, name, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name, labels: labels('apistack') },
        spec: { podSelector, policyTypes: [...(spec.ingress ? (['Ingress'] as const) : []), ...(spec.egress ? (['Egress'] as const) : [])], ...spec },
      });
    const match = (name: string) => ({ matchLabels: selector(name) });

    policy('default-deny', {}, { ingress: [], egress: [] });
    policy('allow-dns', {}, {
      egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP' as const, port: 53 }, ...tcp(53)] }],
    });
    policy('nginx', match('nginx'), {
      ingress: [{ ports: tcp(PORTS.nginx) }],
      egress: [{ to: [pods('api')], ports: tcp(PORTS.api) }],
    });
    policy('api', match('api'), {
      ingress: [{ from: [pods('nginx')], ports: tcp(PORTS.api) }],
      egress: [
        { to: [pods('postgres')], ports: tcp(PORTS.postgres) },
        { to: [pods('redis')], ports: tcp(PORTS.redis) },
      ],
    });
    policy('postgres', match('postgres'), { ingress: [{ from: [pods('api'), pods('migrations')], ports: tcp(PORTS.postgres) }] });
    policy('redis', match('redis'), { ingress: [{ from: [pods('api')], ports: tcp(PORTS.redis) }] });
    policy('migrations', match('migrations'), { egress: [{ to: [pods('postgres')], ports: tcp(PORTS.postgres) }] });
    if (!p.monitoring.prometheusOperator) {
      const metricsPorts = [
        ['api', PORTS.apiMetrics],
        ['nginx', PORTS.nginxExporter],
        ['postgres', PORTS.postgresExporter],
        ['redis', PORTS.redisExporter],
      ] as const;
      for (const [name, port] of metricsPorts) policy(`scrape-${name}`, match(name), { ingress: [{ from: [pods('prometheus')], ports: tcp(port) }] });
      policy('prometheus', match('prometheus'), {
        ingress: [{ from: [pods('grafana')], ports: tcp(PORTS.prometheus) }],
        egress: [
          ...metricsPorts.map(([name, port]) => ({ to: [pods(name)], ports: tcp(port) })),
          // The Kubernetes API for pod discovery.
          { ports: tcp(443, 6443) },
        ],
      });
      policy('grafana', match('grafana'), { egress: [{ to: [pods('prometheus')], ports: tcp(PORTS.prometheus) }] });
    }
  }
}
