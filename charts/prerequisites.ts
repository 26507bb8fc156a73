/**
 * What the cluster must already run for the manifests to serve: a pure function of the profile,
 * printed by `apistack synth --target k8s` after writing and listed, with install commands, in
 * docs/deploy-kubernetes.md. Without each, the apply succeeds and something quietly does not work.
 */
import type { ResolvedProfile } from '../lib/profile/load.ts';
import { apiImage, nodeArchitecture, operatorSelection } from './common.ts';

export interface ClusterPrerequisite {
  /** A short stable name, e.g. "load-balancer-controller". */
  readonly name: string;
  /** What must be there. */
  readonly requirement: string;
  /** What goes wrong without it. */
  readonly without: string;
  /** A command that shows whether it is there. */
  readonly check: string;
}

export function clusterPrerequisites(p: ResolvedProfile, opts: { apiImage?: string } = {}): ClusterPrerequisite[] {
  const k = p.kubernetes;
  const arch = nodeArchitecture(p);
  const list: ClusterPrerequisite[] = [];
  list.push({
    name: 'api-image',
    requirement: `the API image ${apiImage(p, opts.apiImage)} pushed to a registry the nodes can pull from, built for ${arch ?? 'the nodes\' architecture'}`,
    without: 'the API and migrations pods stay in ImagePullBackOff (or fail with "exec format error")',
    check: `docker buildx imagetools inspect ${apiImage(p, opts.apiImage)}`,
  });
  list.push({
    name: 'node-architecture',
    requirement: arch ? `nodes labelled kubernetes.io/arch=${arch} (${k.nodeInstanceType})` : `nodes that run the images' architecture (${k.nodeInstanceType} is not a type apistack knows, so the pods select none)`,
    without: 'every pod stays Pending (no node matches its nodeSelector)',
    check: 'kubectl get nodes -L kubernetes.io/arch,node.kubernetes.io/instance-type',
  });
  list.push(
    k.awsNlbAnnotations
      ? {
          name: 'load-balancer-controller',
          requirement: 'the AWS Load Balancer Controller (the nginx Service asks it for an internet-facing NLB with IP targets)',
          without: "the nginx Service's EXTERNAL-IP stays <pending>",
          check: 'kubectl -n kube-system get deployment aws-load-balancer-controller',
        }
      : {
          name: 'load-balancer',
          requirement: 'a LoadBalancer Service implementation (the cloud provider, or MetalLB and the like)',
          without: "the nginx Service's EXTERNAL-IP stays <pending>",
          check: 'kubectl -n NAMESPACE get service nginx',
        },
  );
  list.push({
    name: 'storage-class',
    requirement: `the StorageClass "${k.storageClassName}" (kubernetes.storageClassName) with a working provisioner; on EKS, the EBS CSI driver (ebs.csi.aws.com)`,
    without: 'postgres-0 (and Prometheus, and a persistent Redis) stay Pending, and every API pod answers /readyz with 503',
    check: `kubectl get storageclass ${k.storageClassName}`,
  });
  list.push({
    name: 'metrics-server',
    requirement: 'metrics-server (resource metrics for the HorizontalPodAutoscalers)',
    without: 'the HPAs show <unknown> targets and never scale',
    check: 'kubectl get apiservice v1beta1.metrics.k8s.io',
  });
  list.push({
    name: 'network-policy',
    requirement: 'NetworkPolicy enforcement: on EKS the VPC CNI with enableNetworkPolicy=true (off by default), or Calico or Cilium',
    without: 'the policies are accepted and isolate nothing',
    check: 'kubectl -n kube-system get daemonset aws-node -o jsonpath="{.spec.template.spec.containers[*].args}"',
  });
  if (p.monitoring.prometheusOperator) {
    const o = operatorSelection(p);
    const labels = Object.entries(o.selectorLabels).map(([key, value]) => `${key}=${value}`).join(',');
    const pods = Object.entries(o.prometheusPodLabels).map(([key, value]) => `${key}=${value}`).join(',');
    list.push({
      name: 'prometheus-operator',
      requirement: `the Prometheus Operator's Prometheus (kube-prometheus-stack) in namespace ${o.prometheusNamespace}, with pods labelled ${pods}, selecting PodMonitors and PrometheusRules labelled ${labels} in any namespace`,
      without: 'nothing is scraped and no rule is evaluated (or the policies keep its Prometheus out)',
      check: `kubectl -n ${o.prometheusNamespace} get prometheus -o jsonpath="{.items[*].spec.podMonitorSelector}"; kubectl -n ${o.prometheusNamespace} get pods -l ${pods}`,
    });
  } else if (p.monitoring.alertmanagerUrl) {
    list.push({
      name: 'alertmanager',
      requirement: `an Alertmanager at ${p.monitoring.alertmanagerUrl} (monitoring.alertmanagerUrl), reachable from the namespace`,
      without: 'alerts fire in Prometheus and notify nobody',
      check: `kubectl -n ${k.namespace} exec statefulset/prometheus -- wget -qO- ${p.monitoring.alertmanagerUrl.replace(/\/+$/, '')}/-/ready`,
    });
  }
  return list;
}

/** What `synth --target k8s` prints: one line per prerequisite, and the check for it. */
export function renderPrerequisites(list: readonly ClusterPrerequisite[], namespace: string): string[] {
  return ['the cluster must already run (docs/deploy-kubernetes.md has the install commands):', ...list.flatMap((x) => [`  - ${x.requirement}`, `      without it: ${x.without}`, `      check: ${x.check.replaceAll('NAMESPACE', namespace)}`])];
}
