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
  /**
   * The balancer's networks, when it sends a PROXY protocol v2 header (an NLB with IP targets
   * otherwise hides the client's address behind its own). The public listener then requires the
   * header, and the client address in it is trusted only from these networks.
   * @default - no PROXY protocol: the peer address is the client's
   */
  readonly proxyProtocolFrom?: readonly string[];
  /**
   * A plain-HTTP port with the same locations and limits, for callers inside the cluster that do
   * not pass through the balancer (and so send no PROXY header). Only with proxyProtocolFrom.
   * @default - none
   */
  readonly internalPort?: number;
  /** Address family of the service's records: A (ipv4) or AAAA (ipv6) lookups, and the listen sockets. @default 'ipv4' */
  readonly ipFamily?: 'ipv4' | 'ipv6';
  /**
   * A file of `geo` entries (`203.0.113.7/32 1;`) the container writes before nginx starts, for
   * exempt addresses known only at deploy time (the NAT gateways' public addresses on AWS).
   * @default - none
   */
  readonly exemptAddressesFile?: string;
}

export type NginxTarget = LocalNginxTarget | ResolvedNginxTarget;
