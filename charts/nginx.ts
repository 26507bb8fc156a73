/** The nginx least_conn balancer: config from the shared renderer, Deployment, LoadBalancer Service, PDB, HPA. */
import { createHash } from 'node:crypto';
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { CONTAINER_PORTS, renderNginxConfig, STUB_STATUS_PATH, NGINX_HEALTH_PATH } from '../nginx/index.ts';
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { kubernetesWorkloads, PORTS } from '../lib/profile/workloads.ts';
import { API_HEADLESS_SERVICE } from './api.ts';
import { containerSecurityContext, IMAGES, labels, podSecurityContext, resources, selector, manifest, podDisruptionBudget } from './common.ts';

export function kubernetesNginxConfig(p: ResolvedProfile): string {
  const domain = p.kubernetes.clusterDomain;
  return renderNginxConfig(p, {
    kind: 'kubernetes',
    upstreamHost: `${API_HEADLESS_SERVICE}.${p.kubernetes.namespace}.svc.${domain}`,
    upstreamPort: CONTAINER_PORTS.upstreamPort,
    resolver: `kube-dns.kube-system.svc.${domain}`,
    listenPort: CONTAINER_PORTS.listenPort,
    statusPort: CONTAINER_PORTS.statusPort,
  });
}

export class NginxChart extends Chart {
  constructor(scope: Construct, id: string, props: { profile: ResolvedProfile }) {
    const p = props.profile;
    super(scope, id, { namespace: p.kubernetes.namespace });
    const w = kubernetesWorkloads(p).find((x) => x.name === 'nginx')!;
    const config = kubernetesNginxConfig(p);
    manifest(this, 'config', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nginx-config', labels: labels('nginx') }, data: { 'nginx.conf': config } });
    const hpa = p.derived.nginx.hpa;
    manifest(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx', labels: labels('nginx') },
      spec: {
        ...(hpa ? {} : { replicas: p.nginx.replicasMin }),
        selector: { matchLabels: selector('nginx') },
        template: {
          metadata: {
            labels: labels('nginx'),
            // A config change changes the checksum, which rolls the pods.
            annotations: { 'apistack.dev/config-sha256': createHash('sha256').update(config).digest('hex') },
          },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: p.derived.nginx.terminationGracePeriodSeconds,
            securityContext: podSecurityContext(),
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector('nginx') } }],
            containers: [
              {
                name: 'nginx',
                image: `nginx:${p.nginx.imageTag}`,
                ports: [
                  { name: 'http', containerPort: PORTS.nginx },
                  { name: 'status', containerPort: PORTS.nginxStatus },
                ],
                resources: resources(w.containers[0]!),
                livenessProbe: { httpGet: { path: NGINX_HEALTH_PATH, port: 'http' }, periodSeconds: 10 },
                readinessProbe: { httpGet: { path: NGINX_HEALTH_PATH, port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
                // The Service drops the pod while it sleeps; then SIGQUIT starts nginx's graceful quit.
                lifecycle: { preStop: { exec: { command: ['sleep', String(p.derived.nginx.preStopDelaySeconds)] } } },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'config', mountPath: '/etc/nginx/nginx.conf', subPath: 'nginx.conf', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
              {
                name: 'nginx-exporter',
                image: IMAGES.nginxExporter,
                args: [`--nginx.scrape-uri=http://127.0.0.1:${PORTS.nginxStatus}${STUB_STATUS_PATH}`],
                ports: [{ name: 'nginx-exporter', containerPort: PORTS.nginxExporter }],
                resources: resources(w.containers[1]!),
                livenessProbe: { tcpSocket: { port: 'nginx-exporter' }, periodSeconds: 20 },
                readinessProbe: { httpGet: { path: '/metrics', port: 'nginx-exporter' }, periodSeconds: 20 },
                securityContext: containerSecurityContext(),
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: 'nginx-config' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    });
    manifest(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'nginx',
        labels: labels('nginx'),
        ...(p.kubernetes.awsNlbAnnotations
          ? {
              annotations: {
                'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
                'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
                'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
              },
            }
          : {}),
      },
      spec: { type: 'LoadBalancer', selector: selector('nginx'), ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    if (p.nginx.replicasMin > 1) {
      podDisruptionBudget(this, 'nginx');
    }
    if (hpa) {
      manifest(this, 'hpa', {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: 'nginx', labels: labels('nginx') },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'nginx' },
          minReplicas: p.nginx.replicasMin,
          maxReplicas: p.nginx.replicasMax,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: p.derived.nginx.autoscalingCpuTargetPercent } } }],
        },
      });
    }
  }
}
