/** Where a rendered nginx.conf runs; the renderer (nginx/render.ts) is a pure function of profile + target. */

export interface LocalNginxTarget {
  readonly kind: 'local';
  /** Public listen port on 127.0.0.1. */
  readonly listenPort: number;
  /** Internal stub_status port on 127.0.0.1. */
  readonly statusPort: number;
  /** Loopback ports of the API processes, one upstream server each. */
  readonly upstreamPorts: readonly number[];
  /** Directory nginx uses as its prefix (temp files, logs, pid). */
  readonly prefixDir: string;
}

/** Kubernetes and AWS: one server line by DNS name with `resolve`, re-resolved as pods/tasks change. */
export interface ResolvedNginxTarget {
  readonly kind: 'kubernetes' | 'aws';
  /** Fully qualified DNS name of the API's headless Service (or Cloud Map service). */
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** DNS resolver address nginx re-resolves with (kube-dns Service FQDN or the VPC resolver). */
  readonly resolver: string;
  readonly listenPort: number;
  readonly statusPort: number;
}

export type NginxTarget = LocalNginxTarget | ResolvedNginxTarget;
