/** Fargate task sizes: the smallest valid size that holds a requested CPU and memory. */
import { fargateMemoryRangeMiB, FARGATE_VCPU } from '../profile/index.ts';

export function fargateTaskSize(cpuMillicores: number, memoryMiB: number): { vcpu: number; memoryMiB: number } {
  for (const vcpu of FARGATE_VCPU) {
    if (vcpu * 1000 < cpuMillicores) continue;
    const range = fargateMemoryRangeMiB(vcpu)!;
    const options = range.fixed ?? Array.from({ length: (range.max - range.min) / range.stepMiB + 1 }, (_, i) => range.min + i * range.stepMiB);
    const fit = options.find((m) => m >= memoryMiB);
    if (fit !== undefined) return { vcpu, memoryMiB: fit };
  }
  throw new Error(`no Fargate task size holds ${cpuMillicores}m CPU and ${memoryMiB} MiB`);
}
