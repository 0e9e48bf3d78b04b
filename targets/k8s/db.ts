// A Kubernetes control plane on each node, as kubeadm's stacked topology lays it out: an etcd 3.6 member and a
// kube-apiserver that talks to its own member over loopback, both built from Go modules by scripts/build-k8s.sh.
// Kill and pause reach the apiserver, the etcd member, both, or the apiserver's link to etcd (the fault component).
// The local backend runs the binaries from this host's build cache; docker and ssh nodes get a copy at setup.
import { createHash } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import type { Node } from '../../src/backends/types.js';
import { isProcessAlive, killDaemon, readPidFile, runningDaemonPid, signalDaemon } from '../../src/daemon.js';
import type { Db } from '../../src/db.js';
import type { TestContext } from '../../src/test-context.js';
import { k8sBinaries } from './binaries.js';
import { generatePki, type ClusterPki } from './certs.js';

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const APISERVER_PORT = 6443;

/**
 * What kill/restart and pause/resume act on:
 * - both: the apiserver and the etcd member of the node (a whole control-plane node crashes);
 * - apiserver / etcd: that process alone;
 * - apiserver-etcd-link: kill (or pause) cuts the node's apiserver off from etcd with iptables rules on
 *   the apiserver's loopback connection to etcd's client port, and restart (or resume) removes them. Clients still reach
 *   the apiserver and the etcd member stays in its raft group: the partition the issue names.
 */
export type FaultComponent = 'both' | 'apiserver' | 'etcd' | 'apiserver-etcd-link';
export const FAULT_COMPONENTS: readonly FaultComponent[] = ['both', 'apiserver', 'etcd', 'apiserver-etcd-link'];

export interface K8sDbOptions {
  faultComponent?: FaultComponent;
  /** Binaries on this host; default the build cache of scripts/build-k8s.sh (copied to docker and ssh nodes). */
  kubeApiserverBinary?: string;
  etcdBinary?: string;
  /** Bound on waiting for the control plane to serve at setup, and for a restarted process to listen. */
  startTimeoutMs?: number;
}

const POLL_INTERVAL_MS = 500;
/** A restarted apiserver listens within seconds; past this the restart is reported as failed. */
const RESTART_LISTEN_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 3000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function k8sPaths(node: Node) {
  const dir = `${node.dir}/k8s`;
  return {
    dir,
    // Beside the node's directory, not in it: that is a size-limited tmpfs on docker and ssh nodes, which the
    // binaries (about 130 MiB) would fill before etcd's write-ahead log.
    bin: `${node.dir.replace(/\/+$/, '').replace(/\/[^/]*$/, '') || ''}/k8s-bin-${node.name}`,
    pki: `${dir}/pki`,
    etcdData: `${dir}/etcd-data`,
    etcdLog: `${dir}/etcd.log`,
    etcdPid: `${dir}/etcd.pid`,
    apiserverLog: `${dir}/kube-apiserver.log`,
    apiserverPid: `${dir}/kube-apiserver.pid`,
  };
}

export function apiserverUrl(node: Node): string {
  return `https://${node.host}:${APISERVER_PORT}`;
}

function etcdPeerUrl(node: Node): string {
  return `http://${node.host}:${ETCD_PEER_PORT}`;
}

export function etcdArgv(binary: string, node: Node, nodes: readonly Node[], clusterToken: string): string[] {
  const paths = k8sPaths(node);
  return [
    binary,
    '--name', node.name,
    '--data-dir', paths.etcdData,
    '--listen-peer-urls', etcdPeerUrl(node),
    '--initial-advertise-peer-urls', etcdPeerUrl(node),
    '--listen-client-urls', `http://${node.host}:${ETCD_CLIENT_PORT},http://127.0.0.1:${ETCD_CLIENT_PORT}`,
    '--advertise-client-urls', `http://${node.host}:${ETCD_CLIENT_PORT}`,
    '--initial-cluster', nodes.map((peer) => `${peer.name}=${etcdPeerUrl(peer)}`).join(','),
    // Ignored once the data directory exists, so a restart after a kill rejoins with its own state.
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', clusterToken,
    '--logger', 'zap',
  ];
}

export function apiserverArgv(binary: string, node: Node): string[] {
  const pki = k8sPaths(node).pki;
  return [
    binary,
    '--advertise-address', node.host,
    '--bind-address', node.host,
    '--secure-port', String(APISERVER_PORT),
    // kubeadm's stacked etcd: each apiserver uses only its own member, over loopback.
    '--etcd-servers', `http://127.0.0.1:${ETCD_CLIENT_PORT}`,
    '--tls-cert-file', `${pki}/apiserver.crt`,
    '--tls-private-key-file', `${pki}/apiserver.key`,
    '--client-ca-file', `${pki}/ca.crt`,
    '--service-account-key-file', `${pki}/sa.pub`,
    '--service-account-signing-key-file', `${pki}/sa.key`,
    '--service-account-issuer', 'https://kubernetes.default.svc',
    // Only allocated in etcd for the `kubernetes` Service; no traffic is ever sent to it.
    '--service-cluster-ip-range', '10.96.0.0/24',
    '--authorization-mode', 'RBAC',
    // Boolean flags take their value after '=' only: a separate 'false' would be a stray argument.
    '--allow-privileged=false',
    '--profiling=false',
    // Bounded requests: an apiserver cut off from etcd answers 504 after this instead of holding clients.
    '--request-timeout', '15s',
    '--cert-dir', pki,
    '--v', '1',
  ];
}

/** A per-run iptables chain for the apiserver-etcd link cut; short enough for iptables' 28-character limit. */
export function linkChainName(runId: string): string {
  return `FL-K8SL-${createHash('sha256').update(runId).digest('hex').slice(0, 8)}`;
}

/** HTTP status of a GET with Faultline's client certificate, or undefined when nothing answered. */
function probe(url: string, pki: ClusterPki): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { ca: pki.caCertificate, cert: pki.clientCertificate, key: pki.clientKey, timeout: PROBE_TIMEOUT_MS }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

export class K8sDb implements Db {
  // Both processes are Go binaries, which read the clock through the vDSO: libfaketime cannot skew them.
  readonly clockSkewable = false;
  readonly faultComponent: FaultComponent;
  private readonly options: K8sDbOptions;
  private pkiPromise: Promise<ClusterPki> | undefined;

  constructor(options: K8sDbOptions = {}) {
    this.options = options;
    this.faultComponent = options.faultComponent ?? 'both';
  }

  private get startTimeoutMs(): number {
    // Below the runner's 120 s bound on a node's setup, so a slow start fails with this Db's own message and logs.
    return this.options.startTimeoutMs ?? 110_000;
  }

  /**
   * The binaries as the node sees them. The local backend's nodes share this host's files; docker containers and
   * ssh machines get a copy (static Go binaries, CGO off, so any x86_64 Linux runs them) in the node's directory.
   */
  private binaries(test: TestContext, node: Node): { kubeApiserver: string; etcd: string } {
    if (test.backend.name !== 'local') return { kubeApiserver: `${k8sPaths(node).bin}/kube-apiserver`, etcd: `${k8sPaths(node).bin}/etcd` };
    const built = k8sBinaries();
    return { kubeApiserver: this.options.kubeApiserverBinary ?? built.kubeApiserver, etcd: this.options.etcdBinary ?? built.etcd };
  }

  private async installBinaries(test: TestContext, node: Node): Promise<void> {
    if (test.backend.name === 'local') return;
    const built = k8sBinaries();
    const target = this.binaries(test, node);
    await test.backend.exec(node, ['mkdir', '-p', k8sPaths(node).bin]);
    await test.backend.upload(node, this.options.kubeApiserverBinary ?? built.kubeApiserver, target.kubeApiserver);
    await test.backend.upload(node, this.options.etcdBinary ?? built.etcd, target.etcd);
    await test.backend.exec(node, ['chmod', '755', target.kubeApiserver, target.etcd]);
  }

  /** The run's PKI, made once for all nodes (setup runs on every node at once). */
  pki(test: TestContext): Promise<ClusterPki> {
    this.pkiPromise ??= generatePki(test.nodes);
    return this.pkiPromise;
  }

  async setup(test: TestContext, node: Node): Promise<void> {
    const paths = k8sPaths(node);
    const pki = await this.pki(test);
    await test.backend.exec(node, ['rm', '-rf', paths.dir]);
    await test.backend.exec(node, ['mkdir', '-p', paths.pki, paths.etcdData]);
    const serving = pki.serving[node.name];
    await test.backend.writeFile(node, `${paths.pki}/ca.crt`, pki.caCertificate);
    await test.backend.writeFile(node, `${paths.pki}/apiserver.crt`, serving.certificate);
    await test.backend.writeFile(node, `${paths.pki}/apiserver.key`, serving.key);
    await test.backend.writeFile(node, `${paths.pki}/sa.key`, pki.serviceAccountKey);
    await test.backend.writeFile(node, `${paths.pki}/sa.pub`, pki.serviceAccountPublicKey);
    await this.installBinaries(test, node);
    await this.startEtcd(test, node);
    // The apiserver starts once its member serves, which needs a quorum: every node's setup runs at once.
    await this.waitFor(test, node, 'etcd healthy', () => this.etcdHealthy(test, node), this.startTimeoutMs);
    await this.startApiserver(test, node);
    await this.waitFor(test, node, 'kube-apiserver ready (/readyz)', async () => (await probe(`${apiserverUrl(node)}/readyz`, pki)) === 200, this.startTimeoutMs);
  }

  private async startEtcd(test: TestContext, node: Node): Promise<void> {
    const paths = k8sPaths(node);
    if ((await runningDaemonPid(test.backend, node, paths.etcdPid)) !== undefined) return;
    const argv = etcdArgv(this.binaries(test, node).etcd, node, test.nodes, `faultline-${test.runId}`);
    await test.backend.startDaemon(node, argv, { logFile: paths.etcdLog, pidFile: paths.etcdPid, cwd: paths.dir });
  }

  private async startApiserver(test: TestContext, node: Node): Promise<void> {
    const paths = k8sPaths(node);
    if ((await runningDaemonPid(test.backend, node, paths.apiserverPid)) !== undefined) return;
    let argv = apiserverArgv(this.binaries(test, node).kubeApiserver, node);
    // Local nodes share this host's name, and an apiserver's identity Lease is named after its host name: give
    // each its own UTS namespace and name, or the apiservers fight over one Lease as if they were one machine.
    if (test.backend.name === 'local') argv = ['unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', `faultline-${node.name}`, ...argv];
    await test.backend.startDaemon(node, argv, {
      logFile: paths.apiserverLog,
      pidFile: paths.apiserverPid,
      cwd: paths.dir,
    });
  }

  /** The member's own /health (true only with a leader and a quorum), asked from the controller as clients do. */
  async etcdHealthy(_test: TestContext, node: Node): Promise<boolean> {
    return new Promise((resolve) => {
      const req = httpGet(`http://${node.host}:${ETCD_CLIENT_PORT}/health`, { timeout: PROBE_TIMEOUT_MS }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve(/"health":\s*"true"/.test(body)));
        response.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
    });
  }

  /** Polls `ready` until true or the bound passes; then fails with the tail of the node's logs. */
  private async waitFor(test: TestContext, node: Node, what: string, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const attempts = Math.ceil(timeoutMs / POLL_INTERVAL_MS);
    for (let attempt = 0; attempt < attempts && Date.now() < deadline; attempt++) {
      if (await ready()) return;
      const paths = k8sPaths(node);
      for (const [name, pidFile] of [['etcd', paths.etcdPid], ['kube-apiserver', paths.apiserverPid]] as const) {
        const pid = await readPidFile(test.backend, node, pidFile);
        if (pid !== undefined && !(await isProcessAlive(test.backend, node, pid))) {
          throw new Error(`${name} on ${node.name} exited while waiting for ${what}: ${await this.logTail(test, node, name)}`);
        }
      }
      await sleep(POLL_INTERVAL_MS);
    }
    throw new Error(`${node.name}: no ${what} within ${timeoutMs} ms: ${await this.logTail(test, node, 'kube-apiserver')}`);
  }

  private async logTail(test: TestContext, node: Node, name: 'etcd' | 'kube-apiserver'): Promise<string> {
    const paths = k8sPaths(node);
    const log = await test.backend.exec(node, ['tail', '-n', '3', name === 'etcd' ? paths.etcdLog : paths.apiserverLog], { allowFailure: true });
    return log.stdout.trim().split('\n').join(' | ').slice(0, 600);
  }

  /** Starts what is not running (after a kill), heals a link cut, and waits until the apiserver listens. */
  async start(test: TestContext, node: Node): Promise<void> {
    await this.restoreLink(test, node);
    await this.startEtcd(test, node);
    await this.startApiserver(test, node);
    const pki = await this.pki(test);
    // /livez, not /readyz: with etcd's quorum still down the apiserver is alive but not ready, and that is
    // the system's business, not a failed restart.
    await this.waitFor(test, node, 'kube-apiserver listening (/livez)', async () => (await probe(`${apiserverUrl(node)}/livez`, pki)) !== undefined, RESTART_LISTEN_TIMEOUT_MS);
  }

  async kill(test: TestContext, node: Node): Promise<void> {
    const paths = k8sPaths(node);
    switch (this.faultComponent) {
      case 'apiserver-etcd-link':
        return this.cutLink(test, node);
      case 'apiserver':
        return killDaemon(test.backend, node, paths.apiserverPid);
      case 'etcd':
        return killDaemon(test.backend, node, paths.etcdPid);
      case 'both':
        await killDaemon(test.backend, node, paths.apiserverPid);
        await killDaemon(test.backend, node, paths.etcdPid);
    }
  }

  async pause(test: TestContext, node: Node): Promise<void> {
    if (this.faultComponent === 'apiserver-etcd-link') return this.cutLink(test, node);
    for (const pidFile of this.pidFilesOfComponent(node)) await signalDaemon(test.backend, node, pidFile, 'STOP');
  }

  async resume(test: TestContext, node: Node): Promise<void> {
    if (this.faultComponent === 'apiserver-etcd-link') return this.restoreLink(test, node);
    for (const pidFile of this.pidFilesOfComponent(node)) await signalDaemon(test.backend, node, pidFile, 'CONT');
  }

  private pidFilesOfComponent(node: Node): string[] {
    const paths = k8sPaths(node);
    if (this.faultComponent === 'apiserver') return [paths.apiserverPid];
    if (this.faultComponent === 'etcd') return [paths.etcdPid];
    return [paths.apiserverPid, paths.etcdPid];
  }

  /**
   * Drops both directions of the apiserver's loopback connection to its member (established ones too): packets
   * to port 2379 and from it on `lo`. Both, because with only the requests dropped the member's watch stream
   * still arrives and the apiserver's cache keeps up. Etcd's peer traffic (2380) and the clients' traffic to
   * the apiserver pass, so the member stays in raft and clients still reach the apiserver.
   */
  async cutLink(test: TestContext, node: Node): Promise<void> {
    const chain = linkChainName(test.runId);
    const exec = (args: string[], allowFailure = false) =>
      test.backend.exec(node, ['iptables', '-w', '5', ...args], { allowFailure, timeoutMs: 15_000 });
    if ((await exec(['-S', chain], true)).exitCode !== 0) await exec(['-N', chain]);
    if ((await exec(['-C', 'OUTPUT', '-j', chain], true)).exitCode !== 0) await exec(['-I', 'OUTPUT', '1', '-j', chain]);
    await exec(['-F', chain]);
    await exec(['-A', chain, '-o', 'lo', '-p', 'tcp', '--dport', String(ETCD_CLIENT_PORT), '-j', 'DROP']);
    await exec(['-A', chain, '-o', 'lo', '-p', 'tcp', '--sport', String(ETCD_CLIENT_PORT), '-j', 'DROP']);
  }

  async restoreLink(test: TestContext, node: Node): Promise<void> {
    const chain = linkChainName(test.runId);
    const exec = (args: string[]) => test.backend.exec(node, ['iptables', '-w', '5', ...args], { allowFailure: true, timeoutMs: 15_000 });
    // Bounded: a jump added twice by a crashed cut is removed twice.
    for (let attempt = 0; attempt < 5; attempt++) if ((await exec(['-D', 'OUTPUT', '-j', chain])).exitCode !== 0) break;
    await exec(['-F', chain]);
    await exec(['-X', chain]);
  }

  async teardown(test: TestContext, node: Node): Promise<void> {
    const paths = k8sPaths(node);
    await this.restoreLink(test, node).catch(() => undefined);
    for (const pidFile of [paths.apiserverPid, paths.etcdPid]) {
      await signalDaemon(test.backend, node, pidFile, 'CONT').catch(() => undefined);
      await killDaemon(test.backend, node, pidFile).catch(() => undefined);
    }
    await test.backend.exec(node, ['rm', '-rf', paths.etcdData, paths.pki, paths.bin], { allowFailure: true });
  }

  logFiles(_test: TestContext, node: Node): string[] {
    const paths = k8sPaths(node);
    return [paths.etcdLog, paths.apiserverLog];
  }

  async dataFiles(test: TestContext, node: Node): Promise<string[]> {
    const result = await test.backend.exec(node, ['find', k8sPaths(node).etcdData, '-type', 'f'], { allowFailure: true });
    return result.stdout.split('\n').filter((line) => line.trim() !== '');
  }
}
