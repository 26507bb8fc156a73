/** The nginx least_conn balancer: config from the shared renderer, Deployment, LoadBalancer Service, PDB, HPA. */
import { createHash } from 'node:crypto';
import { Chart, Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import type { Construct } from 'constructs';
import { CONTAINER_PORTS, renderNginxConfig, STUB_STATUS_PATH, NGINX_HEALTH_PATH } from '../nginx/index.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { API_HEADLESS_SERVICE } from './api.ts';
import { container, emptyDir, httpProbe, IMAGES, kubernetesDefaultScaling, meta, podDisruptionBudget, preStopSleep, selectByName, serviceFor, tcpProbe, workloadProps } from './common.ts';
import { preferredTopologySpread, seccompRuntimeDefault } from './patches.ts';

/** The NLB's nodes have addresses in the cluster VPC; without awsNlbSourceCidrs, any private network. */
export const DEFAULT_NLB_SOURCE_CIDRS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;
/** The ClusterIP Service in-cluster callers use when the public Service sends PROXY protocol. */
export const NGINX_INTERNAL_SERVICE = 'nginx-internal';

export function kubernetesNginxConfig(p: ResolvedProfile): string {
  const domain = p.kubernetes.clusterDomain;
  return renderNginxConfig(p, {
    kind: 'kubernetes',
    upstreamHost: `${API_HEADLESS_SERVICE}.${p.kubernetes.namespace}.svc.${domain}`,
    upstreamPort: CONTAINER_PORTS.upstreamPort,
    resolver: `kube-dns.kube-system.svc.${domain}`,
    listenPort: CONTAINER_PORTS.listenPort,
    statusPort: CONTAINER_PORTS.statusPort,
    ipFamily: p.kubernetes.ipFamily ?? 'ipv4',
    // The AWS Load Balancer Controller's NLB with IP targets hides the client address behind its
    // own unless it sends PROXY protocol v2 (the annotations below).
    ...(p.kubernetes.awsNlbAnnotations ? { proxyProtocolFrom: p.kubernetes.awsNlbSourceCidrs ?? [...DEFAULT_NLB_SOURCE_CIDRS], internalPort: PORTS.nginxInternal } : {}),
  });
}

export class NginxChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const w = kubernetesWorkloads(p).find((x) => x.name === 'nginx')!;
    const config = kubernetesNginxConfig(p);
    const configMap = new kplus.ConfigMap(this, 'config', { metadata: meta('nginx-config', 'nginx'), data: { 'nginx.conf': config } });
    const hpa = p.derived.nginx.hpa;
    const proxy = p.kubernetes.awsNlbAnnotations;
    const probePort = proxy ? PORTS.nginxStatus : PORTS.nginx;
    const base = workloadProps('nginx');
    const deployment = new kplus.Deployment(this, 'deployment', {
      ...base,
      podMetadata: {
        ...base.podMetadata,
        // A config change changes the checksum, which rolls the pods.
        annotations: { 'apistack.dev/config-sha256': createHash('sha256').update(config).digest('hex') },
      },
      // With an HPA, it owns the replicas (cdk8s-plus leaves them out once an HPA targets the Deployment).
      ...(hpa ? {} : { replicas: p.nginx.replicasMin }),
      terminationGracePeriod: Duration.seconds(p.derived.nginx.terminationGracePeriodSeconds),
      containers: [
        container(w.containers[0]!, {
          image: `nginx:${p.nginx.imageTag}`,
          ports: [
            { name: 'http', number: PORTS.nginx },
            { name: 'status', number: PORTS.nginxStatus },
            ...(proxy ? [{ name: 'internal', number: PORTS.nginxInternal }] : []),
          ],
          // The kubelet sends no PROXY header: with one required on the public port, it asks the status port.
          liveness: httpProbe(NGINX_HEALTH_PATH, probePort, { periodSeconds: 10 }),
          readiness: httpProbe(NGINX_HEALTH_PATH, probePort, { periodSeconds: 5, failureThreshold: 2 }),
          // The Service drops the pod while it sleeps; then SIGQUIT starts nginx's graceful quit.
          lifecycle: preStopSleep(p.derived.nginx.preStopDelaySeconds),
          volumeMounts: [
            { path: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true, volume: kplus.Volume.fromConfigMap(this, 'config-volume', configMap, { name: 'config' }) },
            { path: '/tmp', volume: emptyDir(this, 'tmp') },
          ],
        }),
        container(w.containers[1]!, {
          image: IMAGES.nginxExporter,
          args: [`--nginx.scrape-uri=http://127.0.0.1:${PORTS.nginxStatus}${STUB_STATUS_PATH}`],
          ports: [{ name: 'nginx-exporter', number: PORTS.nginxExporter }],
          liveness: tcpProbe(PORTS.nginxExporter, { periodSeconds: 20 }),
          readiness: httpProbe('/metrics', PORTS.nginxExporter, { periodSeconds: 20 }),
        }),
      ],
    });
    selectByName(deployment, 'nginx');
    seccompRuntimeDefault(deployment);
    preferredTopologySpread(deployment, 'nginx', ['kubernetes.io/hostname']);

    serviceFor(this, 'service', {
      name: 'nginx',
      owner: 'nginx',
      type: kplus.ServiceType.LOAD_BALANCER,
      ports: [{ name: 'http', port: 80, targetPort: PORTS.nginx }],
      ...(p.kubernetes.awsNlbAnnotations
        ? {
            annotations: {
              'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
              'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
              'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
              // The client address for nginx's per-client limits: "*" is the only value the
              // controller takes (every port). Its health checks send the header too.
              'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*',
            },
          }
        : {}),
    });
    if (proxy) {
      // In-cluster callers (the load-test runners) do not pass the NLB and send no PROXY header.
      serviceFor(this, 'internal-service', { name: NGINX_INTERNAL_SERVICE, owner: 'nginx', ports: [{ name: 'http', port: 80, targetPort: PORTS.nginxInternal }] });
    }
    if (p.nginx.replicasMin > 1) {
      podDisruptionBudget(this, 'nginx');
    }
    if (hpa) {
      new kplus.HorizontalPodAutoscaler(this, 'hpa', {
        metadata: meta('nginx'),
        target: deployment,
        minReplicas: p.nginx.replicasMin,
        maxReplicas: p.nginx.replicasMax,
        metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(p.derived.nginx.autoscalingCpuTargetPercent))],
        // Kubernetes' own defaults, as before cdk8s-plus: no scale-up window, 5 minutes down.
        ...kubernetesDefaultScaling(0, 300),
      });
    }
  }
}
