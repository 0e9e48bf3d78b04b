// `npm run bench:raftkv`: measures linearizable writes/s and reads/s of a real 3-node raftkv cluster on
// loopback (WAL fsync'd) with 50 concurrent keep-alive clients, and prints one JSON object.
// Environment: RAFTKV_BENCH_SECONDS (per phase, default 10), RAFTKV_BENCH_CLIENTS (default 50),
// RAFTKV_BENCH_TARGET=leader|all (send to the leader, or spread clients over every node: followers forward),
// RAFTKV_BENCH_EXTRA='--bug lazy-fsync' (extra server flags, for comparisons), RAFTKV_BENCH_DEBUG=1 (leader
// status on stderr).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { LocalCluster } from './local-cluster.js';

const phaseSeconds = Number(process.env.RAFTKV_BENCH_SECONDS ?? 10);
const clientCount = Number(process.env.RAFTKV_BENCH_CLIENTS ?? 50);
const target = process.env.RAFTKV_BENCH_TARGET === 'all' ? 'all' : 'leader';
const keyCount = 1000;
const requestTimeoutMs = 10_000;

/**
 * One keep-alive HTTP/1.1 connection with one request outstanding, written and parsed by hand: node:http's
 * client costs more CPU per request than the server does, and this box's 2 cores are shared with the cluster.
 */
class KeepAliveConnection {
  private socket: net.Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (status: number) => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, this.host);
      socket.setNoDelay(true);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => {
        if (this.socket === socket) this.socket = null;
        this.fail(new Error('connection closed'));
      });
      this.socket = socket;
      this.buffered = Buffer.alloc(0);
    });
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const head = this.buffered.subarray(0, headerEnd).toString('latin1');
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffered.length < headerEnd + 4 + length) return;
    this.buffered = this.buffered.subarray(headerEnd + 4 + length);
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) {
      clearTimeout(waiting.timer);
      waiting.resolve(Number(head.slice(9, 12)));
    }
  }

  async request(method: string, path: string, body: string | null): Promise<number> {
    const socket = await this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error('timeout'));
        socket.destroy();
      }, requestTimeoutMs);
      this.waiting = { resolve, reject, timer };
      const length = body === null ? 0 : Buffer.byteLength(body);
      socket.write(`${method} ${path} HTTP/1.1\r\nhost: raftkv\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n${body ?? ''}`);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

interface PhaseResult {
  operations: number;
  errors: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

async function runPhase(clients: KeepAliveConnection[], operation: (client: KeepAliveConnection, worker: number, sequence: number) => Promise<boolean>): Promise<PhaseResult> {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: requestTimeoutMs * 1000 * 2, numberOfSignificantValueDigits: 3 });
  let operations = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + phaseSeconds * 1000;
  await Promise.all(
    clients.map(async (client, worker) => {
      // Bounded by the deadline: each iteration waits for one request (itself bounded by its timeout).
      for (let sequence = 0; performance.now() < deadline; sequence++) {
        const begin = performance.now();
        const ok = await operation(client, worker, sequence).catch(() => false);
        if (ok) {
          operations++;
          histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
        } else {
          errors++;
        }
      }
    }),
  );
  const elapsedSeconds = (performance.now() - started) / 1000;
  const result = {
    operations,
    errors,
    perSecond: Math.round(operations / elapsedSeconds),
    latencyMs: {
      p50: histogram.getValueAtPercentile(50) / 1000,
      p99: histogram.getValueAtPercentile(99) / 1000,
      max: histogram.maxValue / 1000,
    },
  };
  histogram.destroy();
  return result;
}

async function main(): Promise<void> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'raftkv-bench-'));
  const cluster = await LocalCluster.start({ nodeCount: 3, dataRoot, extraArguments: ['--snapshot-threshold', '50000', ...(process.env.RAFTKV_BENCH_EXTRA ? process.env.RAFTKV_BENCH_EXTRA.split(' ') : [])] });
  const clients: KeepAliveConnection[] = [];
  try {
    const leader = await cluster.waitForLeader(30_000);
    for (let worker = 0; worker < clientCount; worker++) {
      const node = target === 'leader' ? cluster.node(leader) : cluster.nodes[worker % cluster.nodes.length];
      clients.push(new KeepAliveConnection('127.0.0.1', node.port));
    }
    const writes = await runPhase(clients, async (client, worker, sequence) => {
      return (await client.request('PUT', `/kv/k${(worker * 7919 + sequence) % keyCount}`, `{"value":${sequence}}`)) === 200;
    });
    const reads = await runPhase(clients, async (client, worker, sequence) => {
      return (await client.request('GET', `/kv/k${(worker * 104729 + sequence) % keyCount}`, null)) === 200;
    });
    const leaderStatus = await cluster.client(leader).status();
    if (process.env.RAFTKV_BENCH_DEBUG) process.stderr.write(`${JSON.stringify(leaderStatus)}\n`);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'raftkv',
          nodes: 3,
          clients: clientCount,
          target,
          phaseSeconds,
          fsync: true,
          client: 'one keep-alive HTTP/1.1 connection per client, one request outstanding',
          linearizableReads: true,
          writesPerSecond: writes.perSecond,
          readsPerSecond: reads.perSecond,
          writes,
          reads,
          leaderWal: { fsyncs: leaderStatus.walSyncs, records: leaderStatus.walRecords },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const client of clients) client.close();
    await cluster.close();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

await main();
