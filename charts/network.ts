/**
 * NetworkPolicies: deny everything in the namespace, then allow exactly outside → nginx,
 * nginx → API, API → Postgres and Redis, Prometheus → metrics ports, migrations → Postgres,
 * Grafana → Prometheus, and every pod → DNS. Built with cdk8s-plus-27's NetworkPolicy and its
 * peers, selecting pods by their name label: one named policy per workload, so a reader finds
 * every flow of a workload in one place.
 */
import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { PORTS } from '../lib/profile/workloads.ts';
import { alertmanagerEndpoint } from '../lib/monitoring/index.ts';
import { meta, operatorSelection, selector } from './common.ts';
import { explicitDenyAll, policyOpenToAnyPeer } from './patches.ts';

const tcp = (...ports: number[]) => ports.map((port) => kplus.NetworkPolicyPort.tcp(port));

export class NetworkChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const ns = p.kubernetes.namespace;
    /** The pods of a workload of this namespace, by name label. */
    const pods = (name: string) => (this.node.tryFindChild(`pods-${name}`) as kplus.Pods | undefined) ?? kplus.Pods.select(this, `pods-${name}`, { labels: selector(name) });
    const allPods = kplus.Pods.all(this, 'all-pods');
    const policyProps = (name: string, podSelector: kplus.IPodSelector) => ({ metadata: { ...meta(name, 'apistack'), namespace: ns }, selector: podSelector });
    const policy = (name: string, podSelector: kplus.IPodSelector) => new kplus.NetworkPolicy(this, name, policyProps(name, podSelector));

    explicitDenyAll(
      new kplus.NetworkPolicy(this, 'default-deny', {
        metadata: { ...meta('default-deny', 'apistack'), namespace: ns },
        selector: allPods,
        ingress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
        egress: { default: kplus.NetworkPolicyTrafficDefault.DENY },
      }),
    );
    const kubeDns = kplus.Pods.select(this, 'kube-dns', { labels: { 'k8s-app': 'kube-dns' }, namespaces: kplus.Namespaces.select(this, 'kube-system', { names: ['kube-system'] }) });
    policy('allow-dns', allPods).addEgressRule(kubeDns, [kplus.NetworkPolicyPort.udp(53), kplus.NetworkPolicyPort.tcp(53)]);

    // From anywhere: the load balancer, clients outside, and in-cluster load generators.
    const nginx = policyOpenToAnyPeer(this, 'nginx', policyProps('nginx', pods('nginx')), 'ingress', [...tcp(PORTS.nginx), ...(p.kubernetes.awsNlbAnnotations ? tcp(PORTS.nginxInternal) : [])]);
    nginx.addEgressRule(pods('api'), tcp(PORTS.api));

    const api = policy('api', pods('api'));
    api.addIngressRule(pods('nginx'), tcp(PORTS.api));
    api.addEgressRule(pods('postgres'), tcp(PORTS.postgres));
    api.addEgressRule(pods('redis'), tcp(PORTS.redis));

    const postgres = policy('postgres', pods('postgres'));
    postgres.addIngressRule(pods('api'), tcp(PORTS.postgres));
    postgres.addIngressRule(pods('migrations'), tcp(PORTS.postgres));
    policy('redis', pods('redis')).addIngressRule(pods('api'), tcp(PORTS.redis));
    policy('migrations', pods('migrations')).addEgressRule(pods('postgres'), tcp(PORTS.postgres));

    const metricsPorts = [
      ['api', PORTS.apiMetrics],
      ['nginx', PORTS.nginxExporter],
      ['postgres', PORTS.postgresExporter],
      ['redis', PORTS.redisExporter],
    ] as const;
    if (p.monitoring.prometheusOperator) {
      // The operator's Prometheus, in its own namespace, scrapes every pod's metrics port; default-deny keeps everything else out.
      const operator = operatorSelection(p);
      const scraper = kplus.Pods.select(this, 'operator-prometheus', {
        labels: operator.prometheusPodLabels,
        namespaces: kplus.Namespaces.select(this, 'operator-namespace', { names: [operator.prometheusNamespace] }),
      });
      for (const [name, port] of metricsPorts) policy(`scrape-${name}`, pods(name)).addIngressRule(scraper, tcp(port));
    } else {
      for (const [name, port] of metricsPorts) policy(`scrape-${name}`, pods(name)).addIngressRule(pods('prometheus'), tcp(port));
      // The Kubernetes API for pod discovery, wherever the cluster runs it; the Alertmanager, if the profile names one.
      const alertmanagerPort = p.monitoring.alertmanagerUrl ? alertmanagerEndpoint(p.monitoring.alertmanagerUrl).port : undefined;
      const egressPorts = [...new Set([443, 6443, ...(alertmanagerPort ? [alertmanagerPort] : [])])];
      const prometheus = policyOpenToAnyPeer(this, 'prometheus', policyProps('prometheus', pods('prometheus')), 'egress', tcp(...egressPorts));
      prometheus.addIngressRule(pods('grafana'), tcp(PORTS.prometheus));
      for (const [name, port] of metricsPorts) prometheus.addEgressRule(pods(name), tcp(port));
      policy('grafana', pods('grafana')).addEgressRule(pods('prometheus'), tcp(PORTS.prometheus));
    }
  }
}
