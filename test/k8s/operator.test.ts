/**
 * With the Prometheus Operator (kube-prometheus-stack as its Helm chart installs it): its
 * Prometheus selects our monitors and rules, gets through default-deny to every metrics port,
 * and scrapes each pod exactly once, the way the operator turns monitors into targets.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile, resolveProfileLayer } from '../../lib/profile/index.ts';
import { PORTS } from '../../lib/profile/workloads.ts';
import { ingressAllowed, matches, synthObjects, workloadsOf, type K8sObject } from './synth.ts';

const operatorProfile = () => loadProfile(join(import.meta.dirname, 'fixtures', 'operator.yaml'));

/** kube-prometheus-stack installed as `helm install kube-prometheus-stack ... -n monitoring`: what its Prometheus selects and how its pods are labelled. */
const KUBE_PROMETHEUS_STACK = { selector: { release: 'kube-prometheus-stack' }, prometheusPod: { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/managed-by': 'prometheus-operator', 'operator.prometheus.io/name': 'kube-prometheus-stack-prometheus' } } };

/**
 * Scrape targets per workload pod, as the operator generates them: a PodMonitor endpoint per
 * container port of that name on each selected pod; a ServiceMonitor endpoint per port of each
 * selected Service on each pod that Service selects.
 */
function scrapesPerPod(objects: K8sObject[], prometheusSelector: Record<string, string>): Map<string, number> {
  const pods = workloadsOf(objects).map((w) => ({ id: `${w.kind}/${w.metadata.name}`, namespace: w.metadata.namespace, labels: w.spec.template.metadata.labels as Record<string, string>, ports: w.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []) as { name?: string; containerPort: number }[] }));
  const count = new Map(pods.map((p) => [p.id, 0]));
  const selected = (kind: string) => objects.filter((o) => o.kind === kind && matches(prometheusSelector, o.metadata.labels));
  for (const pm of selected('PodMonitor')) {
    for (const pod of pods.filter((p) => p.namespace === pm.metadata.namespace && matches(pm.spec.selector.matchLabels, p.labels))) {
      for (const e of pm.spec.podMetricsEndpoints) count.set(pod.id, count.get(pod.id)! + pod.ports.filter((p) => p.name === e.port).length);
    }
  }
  for (const sm of selected('ServiceMonitor')) {
    for (const svc of objects.filter((o) => o.kind === 'Service' && o.metadata.namespace === sm.metadata.namespace && matches(sm.spec.selector.matchLabels, o.metadata.labels))) {
      for (const pod of pods.filter((p) => p.namespace === svc.metadata.namespace && matches(svc.spec.selector, p.labels))) {
        for (const e of sm.spec.endpoints) count.set(pod.id, count.get(pod.id)! + (e.targetPort !== undefined ? pod.ports.filter((p) => p.containerPort === e.targetPort).length : svc.spec.ports.filter((p: any) => p.name === e.port).length));
      }
    }
  }
  return count;
}

/** Pods that export metrics: a container port named `metrics` or `*-exporter`. */
const metricsPorts = (w: K8sObject) => w.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []).filter((p: any) => p.name === 'metrics' || p.name.endsWith('-exporter'));

describe('Prometheus Operator mode (kube-prometheus-stack)', () => {
  const synth = synthObjects({ profile: operatorProfile() });

  it("the monitor and the rules carry the chart's release label, which its Prometheus selects them by", () => {
    for (const kind of ['PodMonitor', 'PrometheusRule']) {
      const objects = synth.objects.filter((o) => o.kind === kind);
      expect(objects, kind).toHaveLength(1);
      expect(matches(KUBE_PROMETHEUS_STACK.selector, objects[0]!.metadata.labels), kind).toBe(true);
    }
  });

  it('scrapes every pod that exports metrics exactly once across all monitors', () => {
    const counts = scrapesPerPod(synth.objects, KUBE_PROMETHEUS_STACK.selector);
    const exporting = workloadsOf(synth.objects).filter((w) => metricsPorts(w).length > 0);
    expect(exporting.map((w) => w.metadata.name).sort()).toEqual(expect.arrayContaining(['api', 'nginx', 'postgres', 'redis']));
    for (const w of exporting) expect(counts.get(`${w.kind}/${w.metadata.name}`), `${w.kind}/${w.metadata.name}`).toBe(1);
  });

  it('the job label each pod gets is the one the rules and dashboards select (job="api", ...), as with the self-hosted Prometheus', () => {
    const pm = synth.find('PodMonitor', 'apistack');
    // The operator names the job after the pod label jobLabel names; without one it is "NAMESPACE/PODMONITOR".
    const jobOf = (w: K8sObject) => (pm.spec.jobLabel ? w.spec.template.metadata.labels[pm.spec.jobLabel] : `${pm.metadata.namespace}/${pm.metadata.name}`);
    const jobs = new Set(workloadsOf(synth.objects).filter((w) => metricsPorts(w).length > 0).map(jobOf));
    const selected = [...JSON.stringify(synth.find('PrometheusRule', 'apistack').spec).matchAll(/job=\\"([^"\\]+)\\"/g)].map((m) => m[1]);
    expect(selected.length).toBeGreaterThan(0);
    for (const job of selected) expect(jobs, `job="${job}"`).toContain(job);
  });

  it('the counting can fail: a ServiceMonitor over the API Services as well would scrape each API pod three times', () => {
    const extra: K8sObject = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'api', namespace: 'apistack', labels: { ...KUBE_PROMETHEUS_STACK.selector } }, spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'api' } }, endpoints: [{ targetPort: PORTS.apiMetrics }] } };
    expect(scrapesPerPod([...synth.objects, extra], KUBE_PROMETHEUS_STACK.selector).get('Deployment/api')).toBe(3);
  });

  it("default-deny stays, and the operator's Prometheus gets in to each metrics port and nowhere else", () => {
    const deny = synth.find('NetworkPolicy', 'default-deny');
    expect(deny.spec.podSelector).toEqual({});
    const prometheus = KUBE_PROMETHEUS_STACK.prometheusPod;
    const stranger = { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'grafana' } };
    const sameLabelsElsewhere = { namespace: 'default', labels: prometheus.labels };
    for (const w of workloadsOf(synth.objects)) {
      const to = { namespace: 'apistack', labels: w.spec.template.metadata.labels };
      for (const port of metricsPorts(w)) {
        expect(ingressAllowed(synth.objects, to, prometheus, port.containerPort), `${w.metadata.name}:${port.containerPort}`).toBe(true);
        expect(ingressAllowed(synth.objects, to, stranger, port.containerPort), `${w.metadata.name}:${port.containerPort} from another pod`).toBe(false);
        expect(ingressAllowed(synth.objects, to, sameLabelsElsewhere, port.containerPort), `${w.metadata.name}:${port.containerPort} from another namespace`).toBe(false);
      }
    }
    const api = { namespace: 'apistack', labels: synth.find('Deployment', 'api').spec.template.metadata.labels };
    expect(ingressAllowed(synth.objects, api, prometheus, PORTS.api)).toBe(false);
  });

  it('selector labels, the namespace and the pod labels of the Prometheus come from the profile', () => {
    const custom = synthObjects({
      profile: resolveProfileLayer({
        extends: 'optimized',
        monitoring: { prometheusOperator: true, operatorSelectorLabels: { release: 'monitoring-stack', team: 'platform' }, operatorPrometheusNamespace: 'observability', operatorPrometheusPodLabels: { 'app.kubernetes.io/instance': 'main' } },
      }),
    });
    const selector = { release: 'monitoring-stack', team: 'platform' };
    expect(matches(selector, custom.find('PodMonitor', 'apistack').metadata.labels)).toBe(true);
    expect(matches(selector, custom.find('PrometheusRule', 'apistack').metadata.labels)).toBe(true);
    expect(custom.find('PodMonitor', 'apistack').metadata.labels!.release).toBe('monitoring-stack');
    const api = { namespace: 'apistack', labels: custom.find('Deployment', 'api').spec.template.metadata.labels };
    expect(ingressAllowed(custom.objects, api, { namespace: 'observability', labels: { 'app.kubernetes.io/instance': 'main' } }, PORTS.apiMetrics)).toBe(true);
    expect(ingressAllowed(custom.objects, api, KUBE_PROMETHEUS_STACK.prometheusPod, PORTS.apiMetrics)).toBe(false);
  });

  it('the self-hosted Prometheus keeps its own policies (the evaluator agrees with them)', () => {
    const plain = synthObjects({ profile: loadProfile('optimized') });
    const api = { namespace: 'apistack', labels: plain.find('Deployment', 'api').spec.template.metadata.labels };
    expect(ingressAllowed(plain.objects, api, { namespace: 'apistack', labels: plain.find('StatefulSet', 'prometheus').spec.template.metadata.labels }, PORTS.apiMetrics)).toBe(true);
    expect(ingressAllowed(plain.objects, api, KUBE_PROMETHEUS_STACK.prometheusPod, PORTS.apiMetrics)).toBe(false);
  });
});
