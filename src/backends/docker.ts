// The docker backend: each node is a container on a private bridge network of its run, driven through
// dockerode (the engine API), with NET_ADMIN only so iptables works inside and nothing more.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, readdir, readFile, stat, writeFile as writeLocalFile } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import type { Backend, DaemonOptions, ExecOptions, ExecResult, Node } from './types.js';

/** Labels every resource of a run carries; `cleanupDockerLeftovers` finds leftovers by the first. */
export const RUN_LABEL = 'faultline.run';
export const NODE_LABEL = 'faultline.node';
const BACKEND_LABEL = 'faultline.backend';
/** hostname/pid/start-time of the controller that created a resource; cleanup spares runs whose controller lives. */
const CONTROLLER_LABEL = 'faultline.controller';

/** Node layout inside every container. */
export const CONTAINER_DATA_DIR = '/var/lib/faultline';
const CONTAINER_CLOCK_FILE = '/run/faultline/faketime';

const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Output kept per stream of one exec; more is truncated from the front (the end says what failed). */
const EXEC_OUTPUT_LIMIT_BYTES = 8 * 1024 * 1024;
const NETWORK_CREATE_ATTEMPTS = 32;

export interface DockerBackendOptions {
  runId: string;
  /** Image every node runs, e.g. faultline/etcd:latest (see docker/builder.ts). */
  image: string;
  /** Size limit of each node's data directory (a tmpfs, so the disk nemesis can fill it). Default 256 MiB. */
  dataSizeMiB?: number;
  /** Memory limit per container. Default none. */
  memoryMiB?: number;
  docker?: Docker;
}

function shortId(): string {
  return randomBytes(3).toString('hex');
}

/** Docker accepts [a-zA-Z0-9][a-zA-Z0-9_.-]; run ids may hold other characters. */
function safeName(text: string): string {
  return text.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '').slice(0, 48) || 'run';
}

interface Ipv4Range {
  start: number;
  end: number;
}

function parseCidr(cidr: string): Ipv4Range | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!match) return undefined;
  const address = ((+match[1] << 24) | (+match[2] << 16) | (+match[3] << 8) | +match[4]) >>> 0;
  const prefix = +match[5];
  const size = prefix === 0 ? 2 ** 32 : 2 ** (32 - prefix);
  const start = address - (address % size);
  return { start, end: start + size - 1 };
}

function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.start <= b.end && b.start <= a.end;
}

/** Subnets already in use: docker networks and this host's own routes (e.g. the local backend's bridges). */
async function usedRanges(docker: Docker): Promise<Ipv4Range[]> {
  const ranges: Ipv4Range[] = [];
  const networks = await docker.listNetworks();
  for (const network of networks) {
    for (const config of network.IPAM?.Config ?? []) {
      const range = config.Subnet ? parseCidr(config.Subnet) : undefined;
      if (range) ranges.push(range);
    }
  }
  try {
    const routes = await readFile('/proc/net/route', 'utf8');
    for (const line of routes.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 8 || fields[1] === '00000000') continue;
      // /proc/net/route holds little-endian hex address and mask.
      const destination = Buffer.from(fields[1], 'hex').readUInt32LE(0);
      const mask = Buffer.from(fields[7], 'hex').readUInt32LE(0);
      const prefix = mask.toString(2).split('1').length - 1;
      const address = [destination & 255, (destination >>> 8) & 255, (destination >>> 16) & 255, destination >>> 24].join('.');
      const range = parseCidr(`${address}/${prefix}`);
      if (range) ranges.push(range);
    }
  } catch {
    // Not Linux or no procfs: docker's own networks are still checked.
  }
  return ranges;
}

/** A /24 inside 10.242.0.0/16, starting at a place derived from the run id so concurrent runs spread out. */
export function candidateSubnets(runId: string, count = 256): string[] {
  let seed = 0;
  for (const character of runId) seed = (seed * 31 + character.charCodeAt(0)) >>> 0;
  const subnets: string[] = [];
  for (let step = 0; step < Math.min(count, 256); step++) subnets.push(`10.242.${(seed + step) % 256}.0/24`);
  return subnets;
}

/** Keeps the last EXEC_OUTPUT_LIMIT_BYTES of a stream's output. */
function collect(stream: PassThrough): { text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    while (size > EXEC_OUTPUT_LIMIT_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
  });
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}

/** One regular file as a POSIX tar archive (what the engine's archive API takes). */
export function tarOneFile(name: string, content: Buffer, mode = 0o644): Buffer {
  const header = Buffer.alloc(512, 0);
  const write = (text: string, offset: number, length: number): void => {
    header.write(text, offset, Math.min(Buffer.byteLength(text), length), 'utf8');
  };
  const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, '0') + '\0';
  if (Buffer.byteLength(name) > 100) throw new Error(`file name too long for tar: ${name}`);
  write(name, 0, 100);
  write(octal(mode & 0o7777, 8), 100, 8);
  write(octal(0, 8), 108, 8);
  write(octal(0, 8), 116, 8);
  write(octal(content.length, 12), 124, 12);
  write(octal(Math.floor(Date.now() / 1000), 12), 136, 12);
  write('        ', 148, 8);
  write('0', 156, 1);
  write('ustar\0', 257, 6);
  write('00', 263, 2);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  write(checksum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512, 0);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024, 0)]);
}

/** The first regular file of a tar archive (the engine's archive API wraps a single file in one). */
export function untarFirstFile(archive: Buffer): Buffer {
  let offset = 0;
  // Bounded by the archive's length; each step advances by at least one 512-byte header.
  while (offset + 512 <= archive.length) {
    const header = archive.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const dataStart = offset + 512;
    if (type === '0' || type === '\0') return Buffer.from(archive.subarray(dataStart, dataStart + size));
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
  throw new Error('archive holds no regular file');
}

function streamToBuffer(stream: NodeJS.ReadableStream, limitBytes: number): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        reject(new Error(`download larger than ${limitBytes} bytes`));
        (stream as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => resolvePromise(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

const DOWNLOAD_LIMIT_BYTES = 512 * 1024 * 1024;

export class DockerBackend implements Backend {
  readonly name = 'docker' as const;
  readonly runId: string;
  readonly image: string;
  private readonly docker: Docker;
  private readonly dataSizeMiB: number;
  private readonly memoryMiB: number | undefined;
  private readonly prefix: string;
  /** hostname/pid/start-time of this controller, labelled on every resource (see cleanupDockerLeftovers). */
  private controller: string | undefined;
  /** Ids of the networks this backend created (kept after teardown, so tests can prove their bridges are gone). */
  readonly createdNetworkIds: string[] = [];
  private readonly containers = new Map<string, Docker.Container>();

  constructor(options: DockerBackendOptions) {
    this.runId = options.runId;
    this.image = options.image;
    this.docker = options.docker ?? new Docker();
    this.dataSizeMiB = options.dataSizeMiB ?? 256;
    this.memoryMiB = options.memoryMiB;
    this.prefix = `faultline-${safeName(options.runId)}`;
  }

  private labels(extra: Record<string, string> = {}): Record<string, string> {
    return {
      [RUN_LABEL]: this.runId,
      [BACKEND_LABEL]: 'docker',
      ...(this.controller ? { [CONTROLLER_LABEL]: this.controller } : {}),
      ...extra,
    };
  }

  /** The container of a node (for engine-level faults such as `docker pause`). */
  container(node: Node): Docker.Container {
    const container = this.containers.get(node.name);
    if (!container) throw new Error(`docker backend: node ${node.name} is not provisioned in run ${this.runId}`);
    return container;
  }

  private async ensureEngineAndImage(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new UserError(`docker backend: no Docker engine answers (${(error as Error).message}); run scripts/setup-docker.sh as root`);
    }
    try {
      await this.docker.getImage(this.image).inspect();
    } catch {
      throw new UserError(`docker backend: image ${this.image} is missing; run \`faultline images build\``);
    }
  }

  private async createNetwork(): Promise<{ id: string; subnet: string }> {
    let lastError: unknown;
    const candidates = candidateSubnets(this.runId);
    let attempts = 0;
    let used = await usedRanges(this.docker);
    for (const subnet of candidates) {
      if (attempts >= NETWORK_CREATE_ATTEMPTS) break;
      const range = parseCidr(subnet)!;
      if (used.some((taken) => overlaps(taken, range))) continue;
      attempts++;
      try {
        const network = await this.docker.createNetwork({
          Name: `${this.prefix}-net`,
          Driver: 'bridge',
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
          Labels: this.labels(),
        });
        return { id: network.id, subnet };
      } catch (error) {
        // Another run took the subnet between our check and the create: try the next one.
        lastError = error;
        if (/already exists/i.test((error as Error).message)) {
          throw new Error(`docker backend: network ${this.prefix}-net already exists; run \`faultline cleanup\``);
        }
        if (!/overlap|in use/i.test((error as Error).message)) throw error;
        used = await usedRanges(this.docker);
      }
    }
    throw new Error(`docker backend: no free /24 in 10.242.0.0/16 (${(lastError as Error | undefined)?.message ?? 'all in use'})`);
  }

  async provision(count: number): Promise<Node[]> {
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new UserError(`docker backend: node count must be 1..64, got ${count}`);
    await this.ensureEngineAndImage();
    this.controller = await controllerIdentity();
    const network = await this.createNetwork();
    this.createdNetworkIds.push(network.id);
    let nodes: Node[] = [];
    try {
      // Nodes start in parallel: the engine handles it, and a 5-node cluster comes up in about half the time.
      const names = Array.from({ length: count }, (_, index) => `n${index + 1}`);
      // allSettled: teardown must not run while another node is still being created, or that one would leak.
      const started = await Promise.allSettled(names.map((name) => this.startNode(name, network.subnet)));
      const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      nodes = started.map((result) => (result as PromiseFulfilledResult<Node>).value);
      // Every node resolves every other by name, and the clock file exists (offset zero) before any process reads it.
      const hostsLines = nodes.map((node) => `${node.host}\t${node.name}`).join('\n');
      const prepare = `mkdir -p ${posix.dirname(CONTAINER_CLOCK_FILE)} && printf '+0s\\n' > ${CONTAINER_CLOCK_FILE} && printf '%s\\n' "$1" >> /etc/hosts`;
      await Promise.all(nodes.map((node) => this.exec(node, ['sh', '-c', prepare, 'sh', hostsLines])));
    } catch (error) {
      await this.teardown().catch(() => undefined);
      throw error;
    }
    return nodes;
  }

  /** One node: its data volume, its container on the run's network, started, with its address. */
  private async startNode(name: string, subnet: string): Promise<Node> {
    // The data directory is a size-limited tmpfs volume: the disk nemesis can fill it, and unlike a
    // --tmpfs mount the engine's archive API (upload/download) sees into it.
    const volumeName = `${this.prefix}-${name}-data`;
    await this.docker.createVolume({
      Name: volumeName,
      Driver: 'local',
      DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${this.dataSizeMiB}m,mode=0755` },
      Labels: this.labels({ [NODE_LABEL]: name }),
    });
    const container = await this.docker.createContainer({
      name: `${this.prefix}-${name}`,
      Image: this.image,
      Hostname: name,
      Cmd: ['sleep', 'infinity'],
      Labels: this.labels({ [NODE_LABEL]: name }),
      HostConfig: {
        NetworkMode: `${this.prefix}-net`,
        CapAdd: ['NET_ADMIN'],
        // A real init reaps killed daemons, so `kill -0 pid` does not see zombies as alive.
        Init: true,
        Mounts: [{ Type: 'volume', Source: volumeName, Target: CONTAINER_DATA_DIR }],
        ...(this.memoryMiB ? { Memory: this.memoryMiB * 1024 * 1024 } : {}),
      },
      NetworkingConfig: { EndpointsConfig: { [`${this.prefix}-net`]: { Aliases: [name] } } },
    });
    this.containers.set(name, container);
    await container.start();
    const info = await container.inspect();
    const host = info.NetworkSettings.Networks[`${this.prefix}-net`]?.IPAddress;
    if (!host) throw new Error(`docker backend: container ${name} got no address on ${subnet}`);
    return { name, host, dir: CONTAINER_DATA_DIR, clockFile: CONTAINER_CLOCK_FILE };
  }

  async exec(node: Node, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('docker backend: exec needs a command');
    const container = this.container(node);
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    let command = [...argv];
    let stdinFile: string | undefined;
    if (options.stdin !== undefined) {
      // Standard input goes through a file: the engine's half-closed attach is unreliable across versions.
      stdinFile = `/tmp/faultline-stdin-${shortId()}`;
      await this.writeFile(node, stdinFile, options.stdin);
      command = ['sh', '-c', 'f=$1; shift; "$@" < "$f"; status=$?; rm -f "$f"; exit $status', 'sh', stdinFile, ...argv];
    }
    const exec = await container.exec({
      Cmd: command,
      AttachStdout: true,
      AttachStderr: true,
      Env: Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out = collect(stdout);
    const err = collect(stderr);
    this.docker.modem.demuxStream(stream, stdout, stderr);
    const finished = new Promise<void>((resolvePromise, reject) => {
      stream.on('end', () => resolvePromise());
      stream.on('close', () => resolvePromise());
      stream.on('error', reject);
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolvePromise) => {
      timer = setTimeout(() => resolvePromise('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([finished.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // Kill what the exec started (its process group) so a hung command does not outlive its bound.
      const pid = (await exec.inspect().catch(() => undefined))?.Pid;
      (stream as unknown as { destroy?: () => void }).destroy?.();
      if (pid) {
        await this.killHostPid(node, pid);
      }
      throw new Error(`docker backend: ${argv.join(' ').slice(0, 200)} on ${node.name} timed out after ${timeoutMs} ms`);
    }
    // The engine may report the exit code a moment after the stream ends; poll a bounded number of times.
    let exitCode: number | null = null;
    for (let attempt = 0; attempt < 50; attempt++) {
      const inspected = await exec.inspect();
      if (!inspected.Running && inspected.ExitCode !== null) {
        exitCode = inspected.ExitCode;
        break;
      }
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 20));
    }
    const result: ExecResult = { exitCode: exitCode ?? -1, stdout: out.text(), stderr: err.text() };
    if (result.exitCode !== 0 && !options.allowFailure) {
      const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ');
      throw new Error(`docker backend: ${argv.join(' ').slice(0, 200)} on ${node.name} exited ${result.exitCode}: ${detail}`);
    }
    return result;
  }

  /**
   * An exec's Pid is a pid on the engine's host: kill it and its descendants there (the controller talks to
   * the engine over its local socket, so this is the same host). Bounded by the host's process count.
   */
  private async killHostPid(node: Node, hostPid: number): Promise<void> {
    const children = new Map<number, number[]>();
    try {
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const statLine = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
        const parent = Number.parseInt(statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
        if (Number.isInteger(parent)) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
      }
    } catch {
      // No procfs: kill the exec's own process only.
    }
    const tree: number[] = [];
    const queue = [hostPid];
    while (queue.length > 0 && tree.length < 10_000) {
      const pid = queue.shift()!;
      tree.push(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone, or a remote engine whose pids are not ours: the exec's stream is closed either way.
      }
    }
    void node;
  }

  async startDaemon(node: Node, argv: readonly string[], options: DaemonOptions): Promise<number> {
    const cwd = options.cwd ?? node.dir;
    // setsid detaches the daemon from the exec (it survives the exec ending); `$!` is its pid because a
    // background job of a non-interactive shell is not a group leader, so setsid execs in place.
    const script = [
      'log=$1; pidfile=$2; cwd=$3; shift 3',
      'mkdir -p "$(dirname "$log")" "$(dirname "$pidfile")" "$cwd"',
      'cd "$cwd"',
      'setsid "$@" >>"$log" 2>&1 </dev/null &',
      'echo $! > "$pidfile"',
      'echo $!',
    ].join('\n');
    const result = await this.exec(node, ['sh', '-c', script, 'sh', options.logFile, options.pidFile, cwd, ...argv], {
      env: options.env,
      timeoutMs: 15_000,
    });
    const pid = Number.parseInt(result.stdout.trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`docker backend: could not start ${argv[0]} on ${node.name}: ${result.stderr.trim()}`);
    return pid;
  }

  async upload(node: Node, localPath: string, remotePath: string): Promise<void> {
    const info = await stat(localPath);
    if (info.isDirectory()) {
      // A directory's contents merge into remotePath, as on the local and ssh backends: one tar, one call.
      const archive = await execa('tar', ['-C', localPath, '-cf', '-', '.'], { encoding: 'buffer', timeout: 60_000 });
      await this.exec(node, ['mkdir', '-p', remotePath]);
      await this.container(node).putArchive(Buffer.from(archive.stdout), { path: remotePath });
      return;
    }
    if (!info.isFile()) throw new Error(`docker backend: upload takes a file or a directory; ${localPath} is neither`);
    const content = await readFile(localPath);
    await this.putFile(node, remotePath, content, info.mode & 0o777);
  }

  async writeFile(node: Node, remotePath: string, content: string | Buffer): Promise<void> {
    await this.putFile(node, remotePath, typeof content === 'string' ? Buffer.from(content) : content, 0o644);
  }

  private async putFile(node: Node, remotePath: string, content: Buffer, mode: number): Promise<void> {
    const container = this.container(node);
    const directory = posix.dirname(remotePath);
    await this.exec(node, ['mkdir', '-p', directory]);
    await container.putArchive(tarOneFile(posix.basename(remotePath), content, mode), { path: directory });
  }

  async download(node: Node, remotePath: string, localPath: string): Promise<void> {
    const container = this.container(node);
    const archive = await container.getArchive({ path: remotePath });
    const content = untarFirstFile(await streamToBuffer(archive, DOWNLOAD_LIMIT_BYTES));
    await mkdir(dirname(localPath), { recursive: true });
    await writeLocalFile(localPath, content);
  }

  /** Freezes every process of the node's container (cgroup freezer), as `docker pause` does. */
  async pauseContainer(node: Node): Promise<void> {
    await this.container(node).pause();
  }

  async unpauseContainer(node: Node): Promise<void> {
    await this.container(node).unpause();
  }

  async teardown(): Promise<void> {
    const report = await removeRunResources(this.docker, this.runId);
    if (report.errors.length > 0) throw new Error(`docker backend: teardown of run ${this.runId} left ${report.errors.join('; ')}`);
    this.containers.clear();
  }
}

export interface DockerCleanupReport {
  /** One line per resource removed (or, in a dry run, that would be removed). */
  removed: string[];
  /** Runs left alone because their controller still runs. */
  skipped: string[];
  errors: string[];
}

/** Identifies this controller process, so cleanup leaves the resources of runs still in progress alone. */
async function controllerIdentity(pid: number = process.pid): Promise<string | undefined> {
  try {
    const statLine = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (start time) follows the parenthesised command; with the pid it names one process for good.
    const startTime = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[19];
    return `${hostname()}/${pid}/${startTime}`;
  } catch {
    return undefined;
  }
}

async function controllerAlive(identity: string | undefined): Promise<boolean> {
  if (!identity) return false;
  const [host, pid] = identity.split('/');
  if (host !== hostname()) return true; // Another machine's controller: not ours to judge, leave it.
  return (await controllerIdentity(Number(pid))) === identity;
}

/**
 * Removes the containers, networks and volumes labelled with `runId`, or, when `runId` is undefined, of
 * every run whose controller no longer runs.
 */
async function removeRunResources(
  docker: Docker,
  runId: string | undefined,
  dryRun = false,
): Promise<DockerCleanupReport> {
  const filter = JSON.stringify({ label: [runId === undefined ? RUN_LABEL : `${RUN_LABEL}=${runId}`] });
  const report: DockerCleanupReport = { removed: [], skipped: [], errors: [] };
  const containers = await docker.listContainers({ all: true, filters: filter });
  const networks = await docker.listNetworks({ filters: filter });
  const volumes = (await docker.listVolumes({ filters: filter })).Volumes ?? [];
  const liveRuns = new Set<string>();
  if (runId === undefined) {
    const controllers = new Map<string, string | undefined>();
    for (const resource of [...containers, ...networks, ...volumes]) {
      const labels = resource.Labels ?? {};
      const run = labels[RUN_LABEL];
      if (run !== undefined && !controllers.has(run)) controllers.set(run, labels[CONTROLLER_LABEL]);
    }
    for (const [run, identity] of controllers) {
      if (await controllerAlive(identity)) {
        liveRuns.add(run);
        report.skipped.push(`run ${run} (its controller ${identity} still runs)`);
      }
    }
  }
  const live = (labels: Record<string, string> | undefined): boolean => liveRuns.has(labels?.[RUN_LABEL] ?? '');
  const attempt = async (description: string, action: () => Promise<unknown>, missing: RegExp): Promise<void> => {
    if (dryRun) {
      report.removed.push(description);
      return;
    }
    try {
      await action();
      report.removed.push(description);
    } catch (error) {
      if (!missing.test((error as Error).message)) report.errors.push(`${description}: ${(error as Error).message}`);
    }
  };
  for (const info of containers) {
    if (live(info.Labels)) continue;
    const container = docker.getContainer(info.Id);
    await attempt(
      `container ${info.Names?.[0]?.replace(/^\//, '') ?? info.Id}`,
      async () => {
        if (info.State === 'paused') await container.unpause().catch(() => undefined);
        await container.remove({ force: true, v: true });
      },
      /no such container|already in progress/i,
    );
  }
  for (const info of networks) {
    if (live(info.Labels)) continue;
    await attempt(`network ${info.Name}`, () => docker.getNetwork(info.Id).remove(), /no such network|not found/i);
  }
  for (const info of volumes) {
    if (live(info.Labels)) continue;
    await attempt(`volume ${info.Name}`, () => docker.getVolume(info.Name).remove(), /no such volume|not found/i);
  }
  return report;
}

/**
 * Removes what killed Faultline runs left in the Docker engine: containers, networks and volumes labelled
 * faultline.run whose controller process is gone (or exactly those of `runId`). Without an engine there is
 * nothing to remove. The report has the shape of the local backend's CleanupReport.
 */
export async function cleanupDockerLeftovers(options: { runId?: string; dryRun?: boolean; docker?: Docker } = {}): Promise<DockerCleanupReport> {
  const docker = options.docker ?? new Docker();
  try {
    await docker.ping();
  } catch {
    return { removed: [], skipped: [], errors: [] };
  }
  return removeRunResources(docker, options.runId, options.dryRun ?? false);
}

/** The image a target's nodes run by default: faultline/<target>:latest when `faultline images build` made one. */
/** The host interface of a docker bridge network (the name its iptables rules refer to). */
export function bridgeInterfaceName(networkId: string): string {
  return `br-${networkId.slice(0, 12)}`;
}

export function defaultImageFor(target: string | undefined): string {
  return target === 'etcd' || target === 'raftkv' ? `faultline/${target}:latest` : 'faultline/base:latest';
}

/**
 * The registry's factory (src/backends/index.ts). Options: runId (default generated), image (default from
 * `target`, the target's name: faultline/etcd:latest, faultline/raftkv:latest, else faultline/base:latest),
 * dataSizeMiB, memoryMiB.
 */
export function createDockerBackend(options: { runId?: string; image?: unknown; target?: unknown; dataSizeMiB?: unknown; memoryMiB?: unknown }): DockerBackend {
  const runId = options.runId ?? `run-${Date.now().toString(36)}-${shortId()}`;
  const image = typeof options.image === 'string' ? options.image : defaultImageFor(typeof options.target === 'string' ? options.target : undefined);
  return new DockerBackend({
    runId,
    image,
    dataSizeMiB: typeof options.dataSizeMiB === 'number' ? options.dataSizeMiB : undefined,
    memoryMiB: typeof options.memoryMiB === 'number' ? options.memoryMiB : undefined,
  });
}
