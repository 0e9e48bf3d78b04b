// etcd's lifecycle on a node: Debian's unmodified etcd 3.4 binary, started with a static initial cluster,
// its data kept across kills, its leader found through etcd's own status API (etcdctl on the node).
import type { Node } from '../../src/backends/types.js';
import { isProcessAlive, killDaemon, readPidFile, runningDaemonPid, signalDaemon } from '../../src/daemon.js';
import type { Db } from '../../src/db.js';
import type { TestContext } from '../../src/test-context.js';
import { k8sBinaries } from '../k8s/binaries.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

/** Debian's etcd 3.4 (the package), or etcd 3.6 built from Go modules by scripts/build-k8s.sh. */
export type EtcdVersion = '3.4' | '3.6';
export const ETCD_VERSIONS: readonly EtcdVersion[] = ['3.4', '3.6'];

/** The server binary of a version on the local host; an explicit etcdBinary option wins over it. */
export function etcdBinaryOf(version: EtcdVersion): string {
  return version === '3.6' ? k8sBinaries().etcd : '/usr/bin/etcd';
}

export interface EtcdDbOptions {
  /** The etcd server binary on the node. Default: that of `version` (/usr/bin/etcd for 3.4). */
  etcdBinary?: string;
  /**
   * Which etcd: '3.4' (default, Debian's) or '3.6' (v3.6.16, Go-built into this host's cache, so on the
   * local backend only). Debian's etcdctl 3.4 still asks a 3.6 member for health and leader (same v3 API).
   */
  version?: EtcdVersion;
  /** The etcdctl binary on the node. Default /usr/bin/etcdctl (Debian's etcd-client). */
  etcdctlBinary?: string;
  /** Raft heartbeat and election timeout; etcd's defaults (100 ms, 1000 ms) unless given. */
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  /** Bound on waiting for the node (and, once all nodes are started, the cluster) to serve. */
  startTimeoutMs?: number;
}

const POLL_INTERVAL_MS = 250;
/** Two preallocated 64 MiB WAL segments plus the bbolt database's first growth. */
export const ETCD_MIN_FREE_MIB = 150;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Paths below the node's working directory: data survives kill/start, teardown removes it all. */
export function etcdPaths(node: Node): { dir: string; dataDir: string; logFile: string; pidFile: string } {
  const dir = `${node.dir}/etcd`;
  return { dir, dataDir: `${dir}/data`, logFile: `${dir}/etcd.log`, pidFile: `${dir}/etcd.pid` };
}

export function clientUrl(node: Node): string {
  return `http://${node.host}:${ETCD_CLIENT_PORT}`;
}

function peerUrl(node: Node): string {
  return `http://${node.host}:${ETCD_PEER_PORT}`;
}

/** The argv of etcd on `node` for the cluster of `nodes` (the static bootstrap Jepsen's etcd test uses). */
export function etcdArgv(node: Node, nodes: readonly Node[], clusterToken: string, options: EtcdDbOptions = {}): string[] {
  const paths = etcdPaths(node);
  const argv = [
    options.etcdBinary ?? etcdBinaryOf(options.version ?? '3.4'),
    '--name', node.name,
    '--data-dir', paths.dataDir,
    '--listen-peer-urls', peerUrl(node),
    '--initial-advertise-peer-urls', peerUrl(node),
    // Loopback too, so etcdctl on the node itself reaches its own member even when partitioned.
    '--listen-client-urls', `${clientUrl(node)},http://127.0.0.1:${ETCD_CLIENT_PORT}`,
    '--advertise-client-urls', clientUrl(node),
    '--initial-cluster', nodes.map((peer) => `${peer.name}=${peerUrl(peer)}`).join(','),
    // Ignored once the data directory exists, so a restart after a kill rejoins with its own state.
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', clusterToken,
    '--logger', 'zap',
  ];
  if (options.heartbeatIntervalMs !== undefined) argv.push('--heartbeat-interval', String(options.heartbeatIntervalMs));
  if (options.electionTimeoutMs !== undefined) argv.push('--election-timeout', String(options.electionTimeoutMs));
  return argv;
}

/** Member id and leader id of the member answering on the node, as decimal strings (uint64 exceeds JSON numbers). */
export function parseEndpointStatus(json: string): { memberId: string; leaderId: string } | undefined {
  const memberId = /"member_id":\s*"?(\d+)/.exec(json)?.[1];
  const leaderId = /"leader":\s*"?(\d+)/.exec(json)?.[1];
  if (!memberId || !leaderId || leaderId === '0') return undefined;
  return { memberId, leaderId };
}

export class EtcdDb implements Db {
  readonly clockSkewable = false;
  private readonly options: EtcdDbOptions;
  /** Nodes whose process this Db started in this run; when all have, setup waits for the whole cluster. */
  private readonly started = new Set<string>();

  constructor(options: EtcdDbOptions = {}) {
    this.options = options;
  }

  private get startTimeoutMs(): number {
    return this.options.startTimeoutMs ?? 60_000;
  }

  private etcdctl(node: Node, ...args: string[]): string[] {
    return [this.options.etcdctlBinary ?? '/usr/bin/etcdctl', '--endpoints', `http://127.0.0.1:${ETCD_CLIENT_PORT}`, '--dial-timeout', '2s', '--command-timeout', '3s', ...args];
  }

  async setup(test: TestContext, node: Node): Promise<void> {
    if (this.options.version === '3.6' && !this.options.etcdBinary && test.backend.name !== 'local') {
      throw new Error(`etcd version 3.6 is built into this host's cache (scripts/build-k8s.sh): the local backend only, not ${test.backend.name}`);
    }
    const paths = etcdPaths(node);
    await test.backend.exec(node, ['rm', '-rf', paths.dir]);
    await test.backend.exec(node, ['mkdir', '-p', paths.dir]);
    await this.checkFreeSpace(test, node);
    await this.start(test, node);
    this.started.add(node.name);
    // A member alone cannot serve until a quorum has started; the last node to start waits for the cluster.
    if (test.nodes.every((peer) => this.started.has(peer.name))) await this.waitForCluster(test);
  }

  /**
   * etcd preallocates its 64 MiB write-ahead log segment and the next one, so a smaller data volume makes it
   * die with "no space left on device" at its first commit: say so up front instead.
   */
  private async checkFreeSpace(test: TestContext, node: Node): Promise<void> {
    const result = await test.backend.exec(node, ['df', '-Pk', etcdPaths(node).dir], { allowFailure: true });
    const availableKiB = Number(result.stdout.trim().split('\n')[1]?.split(/\s+/)[3]);
    if (Number.isFinite(availableKiB) && availableKiB < ETCD_MIN_FREE_MIB * 1024) {
      throw new Error(
        `etcd on ${node.name} needs at least ${ETCD_MIN_FREE_MIB} MiB free in ${node.dir} (its WAL preallocates 2 x 64 MiB); ` +
          `only ${Math.floor(availableKiB / 1024)} MiB are: give the backend a larger data volume`,
      );
    }
  }

  async start(test: TestContext, node: Node): Promise<void> {
    const paths = etcdPaths(node);
    if ((await runningDaemonPid(test.backend, node, paths.pidFile)) !== undefined) return;
    const argv = etcdArgv(node, test.nodes, `faultline-${test.runId}`, this.options);
    await test.backend.startDaemon(node, argv, { logFile: paths.logFile, pidFile: paths.pidFile, cwd: paths.dir });
    await this.waitForListening(test, node);
  }

  /** Waits until the process listens on its peer port (it does before a quorum exists), or fails with its log. */
  private async waitForListening(test: TestContext, node: Node): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    const attempts = Math.ceil(this.startTimeoutMs / POLL_INTERVAL_MS);
    for (let attempt = 0; attempt < attempts && Date.now() < deadline; attempt++) {
      const pid = await readPidFile(test.backend, node, etcdPaths(node).pidFile);
      if (pid === undefined || !(await isProcessAlive(test.backend, node, pid))) break;
      const sockets = await test.backend.exec(node, ['sh', '-c', `ss -ltn 2>/dev/null || netstat -ltn`], { allowFailure: true });
      if (sockets.stdout.includes(`:${ETCD_PEER_PORT}`) && sockets.stdout.includes(`:${ETCD_CLIENT_PORT}`)) return;
      await sleep(POLL_INTERVAL_MS);
    }
    const log = await test.backend.exec(node, ['tail', '-n', '5', etcdPaths(node).logFile], { allowFailure: true });
    throw new Error(`etcd on ${node.name} did not start listening: ${log.stdout.trim().split('\n').slice(-3).join(' | ')}`);
  }

  /** Waits until every member reports healthy (a leader exists and each serves a quorum read). */
  async waitForCluster(test: TestContext): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    const attempts = Math.ceil(this.startTimeoutMs / POLL_INTERVAL_MS);
    let last = '';
    for (let attempt = 0; attempt < attempts && Date.now() < deadline; attempt++) {
      const results = await Promise.all(
        test.nodes.map((node) => test.backend.exec(node, this.etcdctl(node, 'endpoint', 'health'), { allowFailure: true, timeoutMs: 10_000 })),
      );
      if (results.every((result) => result.exitCode === 0)) return;
      last = results.map((result) => (result.stderr || result.stdout).trim().split('\n')[0]).join(' | ');
      await sleep(POLL_INTERVAL_MS);
    }
    throw new Error(`etcd cluster did not become healthy within ${this.startTimeoutMs} ms: ${last}`);
  }

  async kill(test: TestContext, node: Node): Promise<void> {
    await killDaemon(test.backend, node, etcdPaths(node).pidFile);
  }

  async pause(test: TestContext, node: Node): Promise<void> {
    await signalDaemon(test.backend, node, etcdPaths(node).pidFile, 'STOP');
  }

  async resume(test: TestContext, node: Node): Promise<void> {
    await signalDaemon(test.backend, node, etcdPaths(node).pidFile, 'CONT');
  }

  async teardown(test: TestContext, node: Node): Promise<void> {
    await this.resume(test, node).catch(() => undefined);
    await this.kill(test, node).catch(() => undefined);
    await test.backend.exec(node, ['rm', '-rf', etcdPaths(node).dataDir], { allowFailure: true });
    this.started.delete(node.name);
  }

  logFiles(_test: TestContext, node: Node): string[] {
    return [etcdPaths(node).logFile];
  }

  async dataFiles(test: TestContext, node: Node): Promise<string[]> {
    const result = await test.backend.exec(node, ['find', etcdPaths(node).dataDir, '-type', 'f'], { allowFailure: true });
    return result.stdout.split('\n').filter((line) => line.trim() !== '');
  }

  /** Nodes whose member is the leader its own status reports (a partitioned old leader may still think so). */
  async primaries(test: TestContext): Promise<string[]> {
    const statuses = await Promise.all(
      test.nodes.map(async (node) => {
        const result = await test.backend
          .exec(node, this.etcdctl(node, 'endpoint', 'status', '--write-out', 'json'), { allowFailure: true, timeoutMs: 10_000 })
          .catch(() => undefined);
        return { node, status: result && result.exitCode === 0 ? parseEndpointStatus(result.stdout) : undefined };
      }),
    );
    return statuses.filter(({ status }) => status && status.memberId === status.leaderId).map(({ node }) => node.name);
  }
}
