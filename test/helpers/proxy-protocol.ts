/**
 * PROXY protocol v2, as an AWS NLB writes it in front of every connection to a target group with
 * proxy_protocol_v2.enabled: a client for tests that claims any source address over loopback.
 * Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt (section 2.2).
 */
import { connect } from 'node:net';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: PROXY with IPv4 TCP source and destination, or LOCAL (the NLB's health checks) with none. */
export function proxyV2Header(h: { command: 'PROXY'; source: string; sourcePort: number; destination: string; destinationPort: number } | { command: 'LOCAL' }): Buffer {
  if (h.command === 'LOCAL') return Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const body = Buffer.alloc(12);
  Buffer.from(h.source.split('.').map(Number)).copy(body, 0);
  Buffer.from(h.destination.split('.').map(Number)).copy(body, 4);
  body.writeUInt16BE(h.sourcePort, 8);
  body.writeUInt16BE(h.destinationPort, 10);
  // 0x21: version 2, PROXY; 0x11: TCP over IPv4; then the length of the addresses.
  return Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 12]), body]);
}

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/**
 * One HTTP/1.1 GET on a new connection to 127.0.0.1:port, optionally from `localAddress` (a
 * 127.x address: the peer nginx sees) and after a PROXY header. Status 0: closed without an answer.
 */
export function rawGet(port: number, path: string, opts: { header?: Buffer; localAddress?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer from 127.0.0.1:${port}${path} in 10 s`)));
    socket.on('connect', () => {
      socket.write(Buffer.concat([opts.header ?? Buffer.alloc(0), Buffer.from(`GET ${path} HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n`)]));
    });
    socket.on('data', (b) => (data += b.toString('latin1')));
    socket.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve({ status: 0, body: data }) : reject(e)));
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.split('\r\n\r\n').slice(1).join('\r\n\r\n') });
    });
  });
}
