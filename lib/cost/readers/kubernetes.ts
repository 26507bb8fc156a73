/**
 * The Kubernetes target priced: pods bin-packed onto nodes (first-fit decreasing), node cost
 * allocated to workloads by their requests with OpenCost's CPU/memory split, an explicit idle
 * row, the control plane, PVCs and the LoadBalancer Service.
 */
import { UserError } from '../../errors.ts';
import { nodeAllocatable } from '../../profile/instances.ts';
import type { ResolvedProfile } from '../../profile/load.ts';
import { kubernetesWorkloads, podRequests, type WorkloadGroup } from '../../profile/workloads.ts';
import type { Catalog, PriceEntry } from '../catalog.ts';
import { commitmentFor } from '../commitment.ts';
import { BreakdownBuilder, round6, type Breakdown } from '../model.ts';
import { assertUsageInRange } from '../usage.ts';
import { addNetworkAndLogs, apiReplicasAt, assumptionFor, opt, type ReplicaPoint } from './common.ts';

/** OpenCost's default on-demand rates, used only for the CPU/memory split of a node's price. */
export const OPENCOST_CPU_HOURLY_PER_VCPU = 0.031611;
export const OPENCOST_RAM_HOURLY_PER_GIB = 0.004237;

export interface PodInput {
  readonly workload: string;
  /** The component its share of the node price goes to; EKS's own pods go to the control plane. */
  readonly group: WorkloadGroup | 'Control Plane';
  readonly cpuMillicores: number;
  readonly memoryMiB: number;
}

export interface VolumeInput {
  readonly name: string;
  readonly sizeGiB: number;
  /** The class the claim names; undefined: the cluster's default. */
  readonly storageClassName: string | undefined;
  /**
   * The EBS type it is priced at: the `type` parameter of the StorageClass when the manifests
   * carry it, else the profile's kubernetes.storageVolumeType (a class the cluster already has).
   */
  readonly volumeType: 'gp3' | 'gp2';
}

/** What runs on the cluster, as plain data: from a profile, or read from synthesized manifests. */
export interface KubernetesCostInputs {
  readonly profile: string;
  readonly region: string;
  readonly nodeInstanceType: string;
  readonly spareNodes: number;
  readonly pods: readonly PodInput[];
  readonly volumes: readonly VolumeInput[];
  readonly loadBalancerServices: number;
  readonly apiReplicas: number;
  /** The manifests ship container logs to CloudWatch Logs (a Fluent Bit DaemonSet or the EKS add-on); the charts do not. */
  readonly cloudWatchLogs?: boolean;
}

export interface NodeShape {
  readonly vcpu: number;
  readonly memoryGiB: number;
  readonly allocatableMillicores: number;
  readonly allocatableMiB: number;
}

/**
 * What EKS runs on every node before any workload: the DaemonSets' requests as the EKS add-ons set
 * them by default (kube-proxy 100m CPU; the VPC CNI's aws-node 25m; the EBS CSI driver's node pod
 * 10m and 40 MiB, its sidecars requesting nothing). The scheduler takes them off every node's
 * allocatable capacity, so pods are packed into what is left.
 */
export const EKS_NODE_DAEMONSETS: readonly { readonly name: string; readonly cpuMillicores: number; readonly memoryMiB: number }[] = [
  { name: 'kube-proxy', cpuMillicores: 100, memoryMiB: 0 },
  { name: 'VPC CNI (aws-node)', cpuMillicores: 25, memoryMiB: 0 },
  { name: 'EBS CSI node', cpuMillicores: 10, memoryMiB: 40 },
];

/**
 * EKS's cluster-wide system Deployments, bin-packed with the workloads: CoreDNS (2 replicas,
 * 100m and 70 MiB each, the EKS add-on default) and the EBS CSI controller (2 replicas, 10m and
 * 40 MiB). The AWS Load Balancer Controller the LoadBalancer Service needs runs 2 replicas that
 * request nothing by default (its chart sets no resources), so it takes no capacity here.
 */
export const EKS_SYSTEM_DEPLOYMENTS: readonly { readonly name: string; readonly replicas: number; readonly cpuMillicores: number; readonly memoryMiB: number }[] = [
  { name: 'coredns', replicas: 2, cpuMillicores: 100, memoryMiB: 70 },
  { name: 'ebs-csi-controller', replicas: 2, cpuMillicores: 10, memoryMiB: 40 },
];

/** Per node, what the EKS DaemonSets request in all. */
export function eksNodeReservation(): { cpuMillicores: number; memoryMiB: number } {
  return EKS_NODE_DAEMONSETS.reduce((s, d) => ({ cpuMillicores: s.cpuMillicores + d.cpuMillicores, memoryMiB: s.memoryMiB + d.memoryMiB }), { cpuMillicores: 0, memoryMiB: 0 });
}

/** A node's shape with the EKS DaemonSets' requests taken off what it offers to pods. */
export function afterSystemDaemonSets(shape: NodeShape): NodeShape {
  const r = eksNodeReservation();
  return { ...shape, allocatableMillicores: shape.allocatableMillicores - r.cpuMillicores, allocatableMiB: shape.allocatableMiB - r.memoryMiB };
}

/** A node type's shape and what its kubelet leaves for pods (lib/profile: nodeAllocatable). */
export function nodeShape(entry: PriceEntry): NodeShape {
  if (entry.vcpu === undefined || entry.memoryGiB === undefined) {
    throw new UserError(`price entry "${entry.item}" has no vcpu/memoryGiB: a node type needs both to bin-pack pods; add them to the entry`);
  }
  return { vcpu: entry.vcpu, memoryGiB: entry.memoryGiB, ...nodeAllocatable({ vcpu: entry.vcpu, memoryGiB: entry.memoryGiB, ...(entry.maxPods !== undefined ? { maxPods: entry.maxPods } : {}) }) };
}

/** First-fit decreasing: returns each node's pods. A pod larger than an empty node is an error. */
export function binPack(pods: readonly PodInput[], shape: NodeShape, nodeType: string, reserved?: { cpuMillicores: number; memoryMiB: number }): PodInput[][] {
  const sorted = [...pods].sort((a, b) => b.cpuMillicores - a.cpuMillicores || b.memoryMiB - a.memoryMiB);
  const nodes: { pods: PodInput[]; cpu: number; mem: number }[] = [];
  for (const pod of sorted) {
    if (pod.cpuMillicores > shape.allocatableMillicores || pod.memoryMiB > shape.allocatableMiB) {
      const after = reserved ? `, after the EKS DaemonSets' ${reserved.cpuMillicores}m and ${reserved.memoryMiB} MiB` : '';
      throw new UserError(
        `a ${pod.workload} pod requests ${pod.cpuMillicores}m CPU and ${pod.memoryMiB} MiB, more than one ${nodeType} node offers to pods ` +
          `(${shape.allocatableMillicores}m, ${shape.allocatableMiB} MiB allocatable${after}); choose a larger kubernetes.nodeInstanceType or smaller requests`,
      );
    }
    const node = nodes.find((n) => n.cpu + pod.cpuMillicores <= shape.allocatableMillicores && n.mem + pod.memoryMiB <= shape.allocatableMiB);
    if (node) {
      node.pods.push(pod);
      node.cpu += pod.cpuMillicores;
      node.mem += pod.memoryMiB;
    } else {
      nodes.push({ pods: [pod], cpu: pod.cpuMillicores, mem: pod.memoryMiB });
    }
  }
  return nodes.map((n) => n.pods);
}

export function kubernetesInputsFromProfile(p: ResolvedProfile, replicas?: ReplicaPoint): KubernetesCostInputs {
  const apiReplicas = apiReplicasAt(p, replicas);
  const pods: PodInput[] = [];
  const volumes: VolumeInput[] = [];
  for (const w of kubernetesWorkloads(p)) {
    const count = w.name === 'api' ? apiReplicas : w.replicasMin;
    const req = podRequests(w);
    for (let i = 0; i < count; i++) {
      pods.push({ workload: w.name, group: w.group, cpuMillicores: req.cpuMillicores, memoryMiB: req.memoryMiB });
      if (w.volumeGiB !== undefined) volumes.push({ name: `${w.name}-${i}`, sizeGiB: w.volumeGiB, storageClassName: p.derived.kubernetes.storageClassName, volumeType: p.derived.kubernetes.storageVolumeType });
    }
  }
  return {
    profile: p.name,
    region: p.region,
    nodeInstanceType: p.kubernetes.nodeInstanceType,
    spareNodes: p.kubernetes.spareNodes,
    pods,
    volumes,
    loadBalancerServices: 1,
    apiReplicas,
  };
}

/** The EBS type a StorageClass provisions: its `type` parameter (the EBS CSI driver's default is gp3). */
export function storageClassVolumeType(parameters: Readonly<Record<string, string>> | undefined, className: string): 'gp3' | 'gp2' {
  const type = parameters?.type ?? 'gp3';
  if (type === 'gp3' || type === 'gp2') return type;
  throw new UserError(`StorageClass ${className} provisions EBS ${type} volumes, which have no price here; use gp3 or gp2 (kubernetes.storageVolumeType)`);
}

export function priceKubernetes(inputs: KubernetesCostInputs, p: ResolvedProfile, catalog: Catalog, opts: { hoursPerMonth: number }): Breakdown {
  assertUsageInRange(p);
  const builder = new BreakdownBuilder(catalog, inputs.region, opts.hoursPerMonth);
  const nodeEntry = builder.price(`ec2.${inputs.nodeInstanceType}`);
  const shape = nodeShape(nodeEntry);
  // Workloads and EKS's own Deployments share what the DaemonSets leave on each node.
  const systemPods: PodInput[] = EKS_SYSTEM_DEPLOYMENTS.flatMap((d) => Array.from({ length: d.replicas }, () => ({ workload: d.name, group: 'Control Plane' as const, cpuMillicores: d.cpuMillicores, memoryMiB: d.memoryMiB })));
  const packed = binPack([...inputs.pods, ...systemPods], afterSystemDaemonSets(shape), inputs.nodeInstanceType, eksNodeReservation());
  const nodeCount = packed.length + inputs.spareNodes;
  const commitment = commitmentFor(p, builder, 'ec2');
  const nodeHourly = nodeEntry.usd * (1 - (commitment?.discount ?? 0));
  const label = commitment ? `, ${commitment.label}${commitment.upfrontShare > 0 ? ', upfront amortized' : ''}` : '';
  // Node-priced lines carry the node price's source, and its flag or the commitment's.
  const nodePrice = { priceItem: nodeEntry.item, source: nodeEntry.source, asOf: nodeEntry.asOf, ...(nodeEntry.uncertain || commitment?.uncertain ? { uncertain: true } : {}) };

  // OpenCost split: the node price divided into a CPU part and a memory part by default rates.
  const cpuWeight = (shape.vcpu * OPENCOST_CPU_HOURLY_PER_VCPU) / (shape.vcpu * OPENCOST_CPU_HOURLY_PER_VCPU + shape.memoryGiB * OPENCOST_RAM_HOURLY_PER_GIB);
  const cpuRatePerMillicore = (nodeHourly * cpuWeight) / (shape.vcpu * 1000);
  const memRatePerMiB = (nodeHourly * (1 - cpuWeight)) / (shape.memoryGiB * 1024);

  let allocated = 0;
  const byWorkload = new Map<string, PodInput[]>();
  for (const pod of [...inputs.pods, ...systemPods]) byWorkload.set(pod.workload, [...(byWorkload.get(pod.workload) ?? []), pod]);
  for (const [workload, pods] of byWorkload) {
    const pod = pods[0]!;
    const podHourly = round6(pod.cpuMillicores * cpuRatePerMillicore + pod.memoryMiB * memRatePerMiB);
    builder.add(pod.group, {
      name: `${workload} pods (${pods.length} × ${pod.cpuMillicores}m CPU, ${pod.memoryMiB} MiB requested on ${inputs.nodeInstanceType}${label})`,
      quantity: pods.length * opts.hoursPerMonth,
      unit: 'pod-hour',
      unitPrice: podHourly,
      period: 'hourly',
      ...nodePrice,
    });
    allocated += pods.length * opts.hoursPerMonth * podHourly;
  }
  // Every node, spare ones too, runs the DaemonSets.
  const reserved = eksNodeReservation();
  const daemonSetHourly = round6(reserved.cpuMillicores * cpuRatePerMillicore + reserved.memoryMiB * memRatePerMiB);
  builder.add('Control Plane', {
    name: `EKS DaemonSets on every node (${nodeCount} × ${reserved.cpuMillicores}m CPU, ${reserved.memoryMiB} MiB requested: ${EKS_NODE_DAEMONSETS.map((d) => d.name).join(', ')}${label})`,
    quantity: nodeCount * opts.hoursPerMonth,
    unit: 'node-hour',
    unitPrice: daemonSetHourly,
    period: 'hourly',
    ...nodePrice,
  });
  allocated += nodeCount * opts.hoursPerMonth * daemonSetHourly;
  builder.assume(
    `every node runs EKS's DaemonSets with their default requests (${EKS_NODE_DAEMONSETS.map((d) => `${d.name} ${d.cpuMillicores}m${d.memoryMiB ? `/${d.memoryMiB} MiB` : ''}`).join(', ')}), taken off what each node offers to pods; ` +
      `the cluster runs ${EKS_SYSTEM_DEPLOYMENTS.map((d) => `${d.name} (${d.replicas} × ${d.cpuMillicores}m/${d.memoryMiB} MiB)`).join(' and ')}, packed with the workloads; the AWS Load Balancer Controller requests nothing by default`,
    'kubernetes.nodeInstanceType',
  );
  const nodesMonthly = nodeCount * opts.hoursPerMonth * nodeHourly;
  // Idle: the node-hours no request accounts for (reserved capacity, fragmentation, spare nodes).
  const idleNodeHours = (nodesMonthly - allocated) / nodeHourly;
  builder.add('Idle Capacity', {
    name: `unrequested capacity of ${nodeCount} ${inputs.nodeInstanceType} nodes (${inputs.spareNodes} spare${label})`,
    quantity: Math.round(idleNodeHours * 100) / 100,
    unit: 'node-hour',
    unitPrice: round6(nodeHourly),
    period: 'hourly',
    ...nodePrice,
  });
  builder.hourly('Control Plane', 'EKS control plane', 'eks.cluster', 1);
  for (const v of inputs.volumes) builder.usage('Storage', `PVC ${v.name} (${v.volumeType})`, `ebs.${v.volumeType}`, v.sizeGiB);
  if (inputs.loadBalancerServices > 0) {
    builder.hourly('Load Balancer', `Network Load Balancer (${inputs.loadBalancerServices} LoadBalancer Service)`, 'nlb.hour', inputs.loadBalancerServices);
    builder.usage('Load Balancer', 'NLB capacity units (1 NLCU-hour per GB processed)', 'nlb.nlcu', p.derived.usage.dataTransferOutGBPerMonth, opt(assumptionFor(p, 'dataTransferOutGBPerMonth')));
  }
  addNetworkAndLogs(p, builder, 'Monitoring', p.network.natGateways, inputs.loadBalancerServices * p.network.availabilityZones, { cloudWatchLogs: inputs.cloudWatchLogs === true });
  builder.notIncluded(`the nodes' root volumes (EBS, 20 GiB gp3 each in an EKS managed node group by default) and snapshots of the PVCs`);
  const k = p.derived.kubernetes;
  if (k.postgresMode === 'cloudnative-pg') builder.notIncluded('the CloudNativePG operator (one small pod in cnpg-system, shared by every Cluster on the nodes)');
  // An endpoint outside the cluster runs no pod here: its own bill is the AWS target's RDS or ElastiCache line.
  if (k.postgresMode === 'external') builder.notIncluded(`the external Postgres at ${p.postgres.k8sExternalHost} (price it with --target aws: RDS ${p.postgres.instanceClass}${p.postgres.multiAz ? ' Multi-AZ' : ''})`);
  if (k.redisMode === 'external') builder.notIncluded(`the external Redis at ${p.redis.k8sExternalHost} (price it with --target aws: ElastiCache ${p.redis.nodeType})`);
  return builder.build({ profile: inputs.profile, target: 'k8s', apiReplicas: inputs.apiReplicas });
}

export function priceKubernetesProfile(p: ResolvedProfile, catalog: Catalog, opts: { hoursPerMonth: number; replicas?: ReplicaPoint }): Breakdown {
  return priceKubernetes(kubernetesInputsFromProfile(p, opts.replicas), p, catalog, opts);
}
