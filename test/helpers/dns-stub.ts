/**
 * A small authoritative DNS responder on loopback UDP, for nginx's `resolver`: answers A (and
 * AAAA) questions from a table the test changes while nginx runs, with at most `maxAnswers`
 * records per answer, as Route 53 multivalue answers (Cloud Map) cap theirs at 8.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface DnsStub {
  readonly address: string;
  readonly port: number;
  /** name (lowercase, no trailing dot) → addresses; change it at any time. */
  readonly records: Map<string, string[]>;
  /** How many questions were asked for a name. */
  queries(name: string): number;
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i]! !== 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The answer to one query packet: NXDOMAIN for an unknown name, else up to maxAnswers records of the asked family. */
export function dnsAnswer(query: Buffer, records: ReadonlyMap<string, readonly string[]>, opts: { maxAnswers: number; ttlSeconds: number }): Buffer {
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const known = records.get(name);
  const family = qtype === 1 ? (a: string) => !a.includes(':') : qtype === 28 ? (a: string) => a.includes(':') : () => false;
  const answers = (known ?? []).filter(family).slice(0, opts.maxAnswers);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  // QR, opcode 0, AA, RD copied, RA; rcode 3 (NXDOMAIN) for a name we do not know.
  header.writeUInt16BE(0x8480 | (query.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((a) => {
    const data = qtype === 1 ? ipv4Bytes(a) : ipv6Bytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(opts.ttlSeconds, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

export async function startDnsStub(opts: { maxAnswers?: number; ttlSeconds?: number } = {}): Promise<DnsStub> {
  const records = new Map<string, string[]>();
  const counts = new Map<string, number>();
  const socket: Socket = createSocket('udp4');
  socket.on('message', (msg, peer) => {
    try {
      const { name } = readName(msg, 12);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      socket.send(dnsAnswer(msg, records, { maxAnswers: opts.maxAnswers ?? 8, ttlSeconds: opts.ttlSeconds ?? 1 }), peer.port, peer.address);
    } catch {
      // A malformed packet gets no answer, as from a real server.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return {
    address: '127.0.0.1',
    port,
    records,
    queries: (name) => counts.get(name) ?? 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
