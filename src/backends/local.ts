// The local backend: each node is a Linux network namespace on this host, joined to a bridge the run creates.
// Everything it creates is first written to a run manifest so `faultline cleanup` can undo a killed run.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.js';
import type { Backend, DaemonOptions, ExecOptions, ExecResult, Node } from './types.js';

/** Where run manifests and subnet claims live: fixed, so cleanup finds every run on this host. */
export const LOCAL_STATE_DIR = '/run/faultline/local';
const SUBNET_CLAIM_DIR = path.join(LOCAL_STATE_DIR, 'subnets');
/** Every resource name starts with this and the run's 8-hex-digit tag. */
const RESOURCE_PATTERN = /^fl-([0-9a-f]{8})-(n\d+|br|v\d+)$/;
const DEFAULT_NODE_ROOT = '/tmp/faultline';
const DEFAULT_DISK_SIZE_MB = 64;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const HOST_COMMAND_TIMEOUT_MS = 20_000;
const MAX_NODES = 200;
const PROCESS_EXIT_WAIT_MS = 5_000;
const DAEMON_LAUNCH_WAIT_MS = 5_000;

export interface LocalBackendOptions {
  /** Run id; letters, digits, '.', '_' and '-' only. Default: 16 random hex digits. */
  runId?: string;
  /** Node directories go to <nodeRoot>/<runId>/<node>/. Default /tmp/faultline. */
  nodeRoot?: string;
  /** Size of each node's tmpfs data volume (what the disk nemesis fills). Default 64 MiB. */
  diskSizeMb?: number;
}

interface ManifestNode {
  name: string;
  namespace: string;
  veth: string;
  address: string;
  dir: string;
  mountSource: string;
  mounted: boolean;
}

/** What a run created, written before each creation so a killed controller leaves a complete record. */
export interface LocalRunManifest {
  version: 1;
  runId: string;
  tag: string;
  controllerPid: number;
  /** Start time of the controller process (jiffies since boot), to tell a live controller from a reused pid. */
  controllerStartTime: string | null;
  createdAt: string;
  runDir: string;
  subnet: string | null;
  bridge: string | null;
  forwardRule: boolean;
  nodes: ManifestNode[];
  pidFiles: string[];
}

export interface CleanupReport {
  /** One line per resource removed (or, in a dry run, that would be removed). */
  removed: string[];
  /** Runs left alone because their controller still runs. */
  skipped: string[];
  errors: string[];
}

export interface CleanupOptions {
  dryRun?: boolean;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function requireRoot(): void {
  if (!isRoot()) {
    throw new UserError(
      'the local backend needs root (network namespaces, iptables, mounts): run as root, or use --backend docker',
    );
  }
}

/** The 8-hex-digit tag that names a run's namespaces, bridge and veths (interface names max 15 chars). */
export function runTag(runId: string): string {
  if (/^[0-9a-f]{8}/.test(runId)) return runId.slice(0, 8);
  return createHash('sha256').update(runId).digest('hex').slice(0, 8);
}

function validateRunId(runId: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(runId) || runId === '.' || runId === '..') {
    throw new UserError(`local backend: run id '${runId}': expected 1-64 letters, digits, '.', '_' or '-'`);
  }
  return runId;
}

interface HostResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a host command (argv, never a shell) with a bound; never rejects, the caller judges the exit code. */
async function host(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<HostResult> {
  const result = await execa(argv[0], argv.slice(1), {
    reject: false,
    timeout: options.timeoutMs ?? HOST_COMMAND_TIMEOUT_MS,
    input: options.input,
    stripFinalNewline: false,
  });
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  const exitCode = typeof result.exitCode === 'number' ? result.exitCode : 1;
  const reason = result.timedOut ? `timed out after ${options.timeoutMs ?? HOST_COMMAND_TIMEOUT_MS} ms` : '';
  return {
    exitCode: result.timedOut ? 124 : exitCode,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: reason || stderr || (result.failed && exitCode !== 0 ? String(result.message ?? '') : ''),
  };
}

async function hostOrThrow(argv: readonly string[], input?: string): Promise<string> {
  const result = await host(argv, { input });
  if (result.exitCode !== 0) {
    throw new Error(`${argv.join(' ')}: exit ${result.exitCode}: ${result.stderr.trim().split('\n')[0] ?? ''}`);
  }
  return result.stdout;
}

async function commandExists(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      await fs.access(path.join(dir, name), fsConstants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

// ---------------------------------------------------------------- addresses

function ipv4ToNumber(address: string): number {
  const parts = address.split('.').map(Number);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** Parses "a.b.c.d/len" (or a bare address, /32) into a numeric range [first, last]. */
function cidrRange(cidr: string): [number, number] | null {
  const match = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(cidr);
  if (!match) return null;
  const length = match[2] === undefined ? 32 : Number(match[2]);
  const base = ipv4ToNumber(match[1]);
  const size = 2 ** (32 - length);
  const first = Math.floor(base / size) * size;
  return [first, first + size - 1];
}

/** Every IPv4 prefix the host already uses (addresses and routes), to keep a run's /24 clear of them. */
async function hostPrefixesInUse(): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  const addresses = await host(['ip', '-4', '-o', 'addr', 'show']);
  for (const match of addresses.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/\d+)/g)) {
    const range = cidrRange(match[1]);
    if (range) ranges.push(range);
  }
  const routes = await host(['ip', '-4', 'route', 'show', 'table', 'all']);
  for (const line of routes.stdout.split('\n')) {
    const words = line.trim().split(/\s+/);
    const destination = ['unicast', 'local', 'broadcast', 'blackhole', 'unreachable'].includes(words[0]) ? words[1] : words[0];
    if (!destination || destination === 'default') continue;
    const range = cidrRange(destination);
    // A /0 or very wide route (e.g. a VPN's 10.0.0.0/8) would rule out everything; only specific ones count.
    if (range && range[1] - range[0] < 2 ** 24) ranges.push(range);
  }
  return ranges;
}

/**
 * Chooses a free 10.240.X.0/24 and claims it with an exclusively created file, so two runs provisioning
 * at once never pick the same one. Returns "10.240.X".
 */
async function claimSubnet(runId: string, tag: string): Promise<string> {
  await fs.mkdir(SUBNET_CLAIM_DIR, { recursive: true });
  const used = await hostPrefixesInUse();
  const start = parseInt(tag.slice(0, 2), 16);
  for (let step = 0; step < 256; step++) {
    const third = (start + step) % 256;
    const subnet = `10.240.${third}`;
    const [first, last] = cidrRange(`${subnet}.0/24`)!;
    if (used.some(([a, b]) => a <= last && first <= b)) continue;
    try {
      await fs.writeFile(path.join(SUBNET_CLAIM_DIR, subnet), runId, { flag: 'wx' });
      return subnet;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
  }
  throw new Error('local backend: no free /24 left in 10.240.0.0/16 (run `faultline cleanup` to free stale ones)');
}

// ---------------------------------------------------------------- processes

/** Field 22 of /proc/PID/stat (start time), or null when the process is gone. */
async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** A process counts as alive unless gone or a zombie (a zombie has already died; only its parent's reap is missing). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    const states = await Promise.all(alive.map(processAlive));
    alive = alive.filter((_, i) => states[i]);
    if (alive.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return alive;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Pids of the processes inside a network namespace (what `ip netns pids` lists). */
async function namespacePids(namespace: string): Promise<number[]> {
  const result = await host(['ip', 'netns', 'pids', namespace]);
  if (result.exitCode !== 0) return [];
  return result.stdout.split(/\s+/).filter(Boolean).map(Number).filter((pid) => pid > 1 && pid !== process.pid);
}

/** The network namespace inode of a process, to check a pid file's pid still belongs to our namespace. */
async function netNamespaceInode(target: string): Promise<number | null> {
  try {
    return (await fs.stat(target)).ino;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- manifest

function manifestPath(runId: string): string {
  return path.join(LOCAL_STATE_DIR, `${runId}.json`);
}

let temporaryCounter = 0;

async function writeManifest(manifest: LocalRunManifest): Promise<void> {
  await fs.mkdir(LOCAL_STATE_DIR, { recursive: true });
  const target = manifestPath(manifest.runId);
  const temporary = `${target}.${process.pid}.${++temporaryCounter}.tmp`;
  await fs.writeFile(temporary, JSON.stringify(manifest, null, 2));
  await fs.rename(temporary, target);
}

async function readManifests(): Promise<LocalRunManifest[]> {
  let names: string[];
  try {
    names = await fs.readdir(LOCAL_STATE_DIR);
  } catch {
    return [];
  }
  const manifests: LocalRunManifest[] = [];
  for (const name of names.filter((entry) => entry.endsWith('.json')).sort()) {
    try {
      const manifest = JSON.parse(await fs.readFile(path.join(LOCAL_STATE_DIR, name), 'utf8')) as LocalRunManifest;
      if (manifest && manifest.version === 1 && typeof manifest.runId === 'string') manifests.push(manifest);
    } catch {
      // a half-written or foreign file: not ours to interpret
    }
  }
  return manifests;
}

async function controllerAlive(manifest: LocalRunManifest): Promise<boolean> {
  if (manifest.controllerPid === process.pid) return true;
  // A zombie controller (killed, not yet reaped by its parent) is dead for our purposes.
  if (!(await processAlive(manifest.controllerPid))) return false;
  const startTime = await processStartTime(manifest.controllerPid);
  if (startTime === null) return false;
  return manifest.controllerStartTime === null || manifest.controllerStartTime === startTime;
}

// ---------------------------------------------------------------- undoing

interface UndoContext {
  dryRun: boolean;
  removed: string[];
  errors: string[];
}

async function undoStep(context: UndoContext, what: string, action: () => Promise<boolean>): Promise<void> {
  if (context.dryRun) {
    context.removed.push(what);
    return;
  }
  try {
    if (await action()) context.removed.push(what);
  } catch (error) {
    context.errors.push(`${what}: ${(error as Error).message}`);
  }
}

async function linkExists(name: string): Promise<boolean> {
  return (await host(['ip', 'link', 'show', 'dev', name])).exitCode === 0;
}

/**
 * Deletes a link; false when it was already gone. The kernel removes a veth whose peer's namespace was
 * deleted a moment later, so "Cannot find device" right after seeing it is success, not an error.
 */
async function deleteLink(name: string): Promise<boolean> {
  const result = await host(['ip', 'link', 'del', name]);
  if (result.exitCode === 0) return true;
  if (/Cannot find device/i.test(result.stderr) || !(await linkExists(name))) return false;
  throw new Error(`ip link del ${name}: ${result.stderr.trim()}`);
}

/** Deletes a namespace; false when another cleanup got there first. */
async function deleteNamespace(name: string): Promise<boolean> {
  const result = await host(['ip', 'netns', 'del', name]);
  if (result.exitCode === 0) return true;
  if (!(await namespaceExists(name))) return false;
  throw new Error(`ip netns del ${name}: ${result.stderr.trim()}`);
}

async function namespaceExists(name: string): Promise<boolean> {
  try {
    await fs.access(`/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

async function mountedAt(target: string): Promise<boolean> {
  const mounts = await fs.readFile('/proc/mounts', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[1] === target);
}

/** Kills every process in the namespace and every pid-file process still inside it: SIGCONT first so stopped ones die. */
async function killNamespaceProcesses(namespace: string, pidFiles: readonly string[]): Promise<number[]> {
  const pids = new Set(await namespacePids(namespace));
  const namespaceInode = await netNamespaceInode(`/run/netns/${namespace}`);
  for (const pidFile of pidFiles) {
    const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    // Only a pid whose network namespace is ours: after a reboot or reuse, the number may name a stranger.
    if (namespaceInode !== null && (await netNamespaceInode(`/proc/${pid}/ns/net`)) === namespaceInode) pids.add(pid);
  }
  // A daemon caught before `ip netns exec` entered the namespace is not in it yet: find it by its command line.
  for (const pid of await pidsLaunchingInto(namespace)) pids.add(pid);
  const list = [...pids];
  for (const pid of list) signal(pid, 'SIGCONT');
  for (const pid of list) signal(pid, 'SIGKILL');
  const survivors = await waitForExit(list, PROCESS_EXIT_WAIT_MS);
  if (survivors.length > 0) throw new Error(`processes ${survivors.join(', ')} survived SIGKILL`);
  return list;
}

/** Processes still running `ip netns exec NAMESPACE ...` (the moment between spawn and exec). */
async function pidsLaunchingInto(namespace: string): Promise<number[]> {
  const prefix = `ip\0netns\0exec\0${namespace}\0`;
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.startsWith(prefix) || commandLine.startsWith(`/usr/sbin/${prefix}`) || commandLine.startsWith(`/sbin/${prefix}`)) {
      const pid = Number(entry);
      if (pid !== process.pid) found.push(pid);
    }
  }
  return found;
}

/**
 * Waits (bounded) until a daemon spawned through `ip netns exec ... env ...` runs its own program, so that a
 * signal sent to its pid (a pause, a kill) reaches the daemon and never a half-started wrapper.
 */
async function waitUntilLaunched(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const commandLine = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
    if (commandLine === null) return;
    const program = path.basename(commandLine.split('\0')[0] ?? '');
    if (program !== 'ip' && program !== 'env') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function removeForwardRule(bridge: string): Promise<boolean> {
  if (!(await commandExists('iptables'))) return false;
  let removed = false;
  // Bounded: a rule inserted twice (a retried provision) is removed twice.
  for (let attempt = 0; attempt < 10; attempt++) {
    const result = await host(['iptables', '-w', '5', '-D', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT']);
    if (result.exitCode !== 0) break;
    removed = true;
  }
  return removed;
}

/** Undoes everything a manifest records, in reverse order of creation; every step is idempotent. */
async function undoManifest(manifest: LocalRunManifest, context: UndoContext): Promise<void> {
  const pidFilesByNode = (node: ManifestNode): string[] =>
    manifest.pidFiles.filter((file) => file.startsWith(node.dir + path.sep));
  for (const node of manifest.nodes) {
    if (!(await namespaceExists(node.namespace))) continue;
    if (context.dryRun) {
      const pids = await namespacePids(node.namespace);
      if (pids.length > 0) context.removed.push(`processes ${pids.join(', ')} in ${node.namespace}`);
    } else {
      try {
        const killed = await killNamespaceProcesses(node.namespace, pidFilesByNode(node));
        if (killed.length > 0) context.removed.push(`processes ${killed.join(', ')} in ${node.namespace}`);
      } catch (error) {
        context.errors.push(`processes in ${node.namespace}: ${(error as Error).message}`);
      }
    }
    await undoStep(context, `namespace ${node.namespace}`, () => deleteNamespace(node.namespace));
  }
  for (const node of manifest.nodes) {
    if (await linkExists(node.veth)) await undoStep(context, `veth ${node.veth}`, () => deleteLink(node.veth));
  }
  if (manifest.bridge) {
    const bridge = manifest.bridge;
    if (await linkExists(bridge)) await undoStep(context, `bridge ${bridge}`, () => deleteLink(bridge));
    if (manifest.forwardRule) {
      if (context.dryRun) {
        if (await forwardRuleExists(bridge)) context.removed.push(`iptables FORWARD rule for ${bridge}`);
      } else {
        await undoStep(context, `iptables FORWARD rule for ${bridge}`, () => removeForwardRule(bridge));
      }
    }
  }
  for (const node of manifest.nodes) {
    if (await mountedAt(node.dir)) {
      await undoStep(context, `mount ${node.dir}`, async () => {
        const result = await host(['umount', node.dir]);
        // A process that escaped the kill may still hold it: detach lazily rather than leave it mounted.
        if (result.exitCode !== 0) await hostOrThrow(['umount', '-l', node.dir]);
        return true;
      });
    }
  }
  if (manifest.runDir && (await pathExists(manifest.runDir))) {
    await undoStep(context, `directory ${manifest.runDir}`, async () => {
      // Guard: only a directory named after this run, never a configured root itself.
      if (path.basename(manifest.runDir) !== manifest.runId) throw new Error('refusing: not a run directory');
      await fs.rm(manifest.runDir, { recursive: true, force: true, maxRetries: 3 });
      return true;
    });
  }
  if (manifest.subnet) {
    const claim = path.join(SUBNET_CLAIM_DIR, manifest.subnet);
    const owner = await fs.readFile(claim, 'utf8').catch(() => null);
    if (owner === manifest.runId) {
      await undoStep(context, `subnet claim ${manifest.subnet}.0/24`, async () => {
        await fs.rm(claim, { force: true });
        return true;
      });
    }
  }
  if (!context.dryRun && context.errors.length === 0) await fs.rm(manifestPath(manifest.runId), { force: true });
}

async function forwardRuleExists(bridge: string): Promise<boolean> {
  if (!(await commandExists('iptables'))) return false;
  return (await host(['iptables', '-w', '5', '-C', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'])).exitCode === 0;
}

async function pathExists(target: string): Promise<boolean> {
  try {
    await fs.access(target);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes what killed local runs left behind: runs whose manifest names a controller that is gone, and
 * namespaces, links, FORWARD rules and mounts that match the naming pattern but belong to no live run.
 * Live runs (their controller still runs) are left alone and reported as skipped.
 */
export async function cleanupLocalLeftovers(options: CleanupOptions = {}): Promise<CleanupReport> {
  if (!isRoot()) {
    return { removed: [], skipped: ['local backend: not root, so namespaces, bridges and mounts were not inspected'], errors: [] };
  }
  // One cleanup at a time on this host: two undoing the same run would trip over each other's half-done steps.
  const release = await acquireCleanupLock();
  try {
    return await cleanupLocked(options);
  } finally {
    await release();
  }
}

const CLEANUP_LOCK = path.join(LOCAL_STATE_DIR, 'cleanup.lock');
const CLEANUP_LOCK_WAIT_MS = 120_000;

async function acquireCleanupLock(): Promise<() => Promise<void>> {
  await fs.mkdir(LOCAL_STATE_DIR, { recursive: true });
  const deadline = Date.now() + CLEANUP_LOCK_WAIT_MS;
  const token = `${process.pid} ${await processStartTime(process.pid)}`;
  for (;;) {
    try {
      await fs.writeFile(CLEANUP_LOCK, token, { flag: 'wx' });
      return async () => {
        if ((await fs.readFile(CLEANUP_LOCK, 'utf8').catch(() => '')) === token) await fs.rm(CLEANUP_LOCK, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await fs.readFile(CLEANUP_LOCK, 'utf8').catch(() => '');
    const [holderPid, holderStart] = holder.split(' ');
    const holderAlive = Number(holderPid) > 0 && (await processStartTime(Number(holderPid))) === holderStart;
    if (!holderAlive) {
      // Left by a cleanup that was killed: take it over (only if nobody else has meanwhile).
      if ((await fs.readFile(CLEANUP_LOCK, 'utf8').catch(() => '')) === holder) await fs.rm(CLEANUP_LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another faultline cleanup (pid ${holderPid}) has held ${CLEANUP_LOCK} for over ${CLEANUP_LOCK_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function cleanupLocked(options: CleanupOptions): Promise<CleanupReport> {
  const context: UndoContext = { dryRun: options.dryRun === true, removed: [], errors: [] };
  const skipped: string[] = [];
  const liveTags = new Set<string>();
  for (const manifest of await readManifests()) {
    if (await controllerAlive(manifest)) {
      liveTags.add(manifest.tag);
      skipped.push(`run ${manifest.runId}: its controller (pid ${manifest.controllerPid}) still runs`);
      continue;
    }
    const before = context.removed.length;
    await undoManifest(manifest, context);
    if (context.removed.length === before && !context.dryRun) {
      // Nothing was left but the manifest itself.
      context.removed.push(`manifest of run ${manifest.runId}`);
    } else if (context.dryRun) {
      context.removed.push(`manifest of run ${manifest.runId}`);
    }
  }
  await cleanupOrphans(liveTags, context);
  return { removed: context.removed, skipped, errors: context.errors };
}

/** Resources named like ours with no manifest (e.g. the manifest was deleted by hand): found by name. */
async function cleanupOrphans(liveTags: Set<string>, context: UndoContext): Promise<void> {
  // Manifests are re-read right before each decision: a run that started after this cleanup began has
  // written its manifest before creating anything, so its resources are never taken for orphans.
  const orphanOf = async (name: string): Promise<boolean> => {
    const match = RESOURCE_PATTERN.exec(name);
    if (match === null || liveTags.has(match[1])) return false;
    return !(await readManifests()).some((manifest) => manifest.tag === match[1]);
  };
  const filterOrphans = async (names: string[]): Promise<string[]> => {
    const verdicts = await Promise.all(names.map(orphanOf));
    return names.filter((_, i) => verdicts[i]);
  };
  const namespaces = await filterOrphans(
    (await host(['ip', 'netns', 'list'])).stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? ''),
  );
  for (const namespace of namespaces) {
    if (context.dryRun) {
      context.removed.push(`namespace ${namespace}`);
      continue;
    }
    try {
      const killed = await killNamespaceProcesses(namespace, []);
      if (killed.length > 0) context.removed.push(`processes ${killed.join(', ')} in ${namespace}`);
    } catch (error) {
      context.errors.push(`processes in ${namespace}: ${(error as Error).message}`);
    }
    await undoStep(context, `namespace ${namespace}`, () => deleteNamespace(namespace));
  }
  const links = await filterOrphans(
    (await host(['ip', '-o', 'link', 'show'])).stdout.split('\n').map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? ''),
  );
  // veths first: deleting a bridge first would leave them as loose links anyway.
  for (const link of links.sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')))) {
    await undoStep(context, `link ${link}`, () => deleteLink(link));
  }
  if (await commandExists('iptables')) {
    const rules = (await host(['iptables', '-w', '5', '-S', 'FORWARD'])).stdout.split('\n');
    const bridges = new Set<string>();
    for (const rule of rules) {
      const match = /-i (fl-[0-9a-f]{8}-br) -o \1 -j ACCEPT/.exec(rule);
      if (match && (await orphanOf(match[1]))) bridges.add(match[1]);
    }
    for (const bridge of bridges) {
      await undoStep(context, `iptables FORWARD rule for ${bridge}`, () => removeForwardRule(bridge));
    }
  }
  const mounts = (await fs.readFile('/proc/mounts', 'utf8')).split('\n').map((line) => line.split(' '));
  for (const [source, target, type] of mounts) {
    if (type !== 'tmpfs' || !source || !target || !(await orphanOf(source))) continue;
    await undoStep(context, `mount ${target}`, async () => {
      const result = await host(['umount', target]);
      if (result.exitCode !== 0) await hostOrThrow(['umount', '-l', target]);
      return true;
    });
  }
  // Claims whose run has no manifest any more (the run was removed by hand): free the subnet.
  const manifests = new Set((await readManifests()).map((manifest) => manifest.runId));
  for (const claim of await fs.readdir(SUBNET_CLAIM_DIR).catch(() => [] as string[])) {
    const owner = (await fs.readFile(path.join(SUBNET_CLAIM_DIR, claim), 'utf8').catch(() => '')).trim();
    if (owner && manifests.has(owner)) continue;
    await undoStep(context, `subnet claim ${claim}.0/24`, async () => {
      await fs.rm(path.join(SUBNET_CLAIM_DIR, claim), { force: true });
      return true;
    });
  }
}

// ---------------------------------------------------------------- the backend

export class LocalBackend implements Backend {
  readonly name = 'local' as const;
  readonly runId: string;
  readonly tag: string;
  private readonly nodeRoot: string;
  private readonly diskSizeMb: number;
  private manifest: LocalRunManifest | null = null;
  /** Manifest writes in order: concurrent startDaemon calls must not let an older copy land last. */
  private manifestWrites: Promise<void> = Promise.resolve();
  private readonly namespaces = new Map<string, string>();

  constructor(options: LocalBackendOptions = {}) {
    this.runId = validateRunId(options.runId ?? randomBytes(8).toString('hex'));
    this.tag = runTag(this.runId);
    this.nodeRoot = path.resolve(options.nodeRoot ?? DEFAULT_NODE_ROOT);
    this.diskSizeMb = options.diskSizeMb ?? DEFAULT_DISK_SIZE_MB;
    if (!Number.isInteger(this.diskSizeMb) || this.diskSizeMb < 1 || this.diskSizeMb > 65_536) {
      throw new UserError(`local backend: diskSizeMb: expected an integer from 1 to 65536, got ${options.diskSizeMb}`);
    }
  }

  /** The network namespace a node lives in (for tests and tools that want `ip netns exec` themselves). */
  namespaceOf(node: Node): string {
    const namespace = this.namespaces.get(node.name);
    if (!namespace) throw new Error(`local backend: unknown node ${node.name}`);
    return namespace;
  }

  /** The bridge's name and the controller's address on it, once provisioned. */
  get network(): { bridge: string; controllerAddress: string; subnet: string } | null {
    if (!this.manifest?.bridge || !this.manifest.subnet) return null;
    return { bridge: this.manifest.bridge, controllerAddress: `${this.manifest.subnet}.254`, subnet: `${this.manifest.subnet}.0/24` };
  }

  async provision(count: number): Promise<Node[]> {
    requireRoot();
    if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) {
      throw new UserError(`local backend: nodes: expected an integer from 1 to ${MAX_NODES}, got ${count}`);
    }
    if (this.manifest) throw new Error('local backend: provision called twice for one run');
    for (const command of ['ip', 'iptables', 'mount']) {
      if (!(await commandExists(command))) {
        throw new UserError(`local backend: '${command}' is missing: run scripts/setup.sh as root (apt-get install iproute2 iptables)`);
      }
    }
    const runDir = path.join(this.nodeRoot, this.runId);
    this.manifest = {
      version: 1,
      runId: this.runId,
      tag: this.tag,
      controllerPid: process.pid,
      controllerStartTime: await processStartTime(process.pid),
      createdAt: new Date().toISOString(),
      runDir,
      subnet: null,
      bridge: null,
      forwardRule: false,
      nodes: [],
      pidFiles: [],
    };
    try {
      await writeManifest(this.manifest);
      return await this.createNetworkAndNodes(count, runDir);
    } catch (error) {
      // Leave nothing half-built behind; the original error is the one worth reporting.
      await this.teardown().catch(() => undefined);
      throw error;
    }
  }

  private async createNetworkAndNodes(count: number, runDir: string): Promise<Node[]> {
    const manifest = this.manifest!;
    manifest.subnet = await claimSubnet(this.runId, this.tag);
    const bridge = `fl-${this.tag}-br`;
    manifest.bridge = bridge;
    await writeManifest(manifest);
    await hostOrThrow(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    await hostOrThrow(['ip', 'addr', 'add', `${manifest.subnet}.254/24`, 'dev', bridge]);
    await hostOrThrow(['ip', 'link', 'set', bridge, 'up']);
    // Docker sets FORWARD's policy to DROP and br_netfilter sends bridged frames through it.
    manifest.forwardRule = true;
    await writeManifest(manifest);
    await hostOrThrow(['iptables', '-w', '5', '-I', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT']);

    const nodes: Node[] = [];
    for (let index = 1; index <= count; index++) {
      const name = `n${index}`;
      const entry: ManifestNode = {
        name,
        namespace: `fl-${this.tag}-${name}`,
        veth: `fl-${this.tag}-v${index}`,
        address: `${manifest.subnet}.${index}`,
        dir: path.join(runDir, name),
        mountSource: `fl-${this.tag}-${name}`,
        mounted: false,
      };
      manifest.nodes.push(entry);
      await writeManifest(manifest);
      await hostOrThrow(['ip', 'netns', 'add', entry.namespace]);
      const inside = ['ip', 'netns', 'exec', entry.namespace];
      await hostOrThrow([...inside, 'ip', 'link', 'set', 'lo', 'up']);
      await hostOrThrow(['ip', 'link', 'add', entry.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', entry.namespace]);
      await hostOrThrow(['ip', 'link', 'set', entry.veth, 'master', bridge]);
      await hostOrThrow(['ip', 'link', 'set', entry.veth, 'up']);
      await hostOrThrow([...inside, 'ip', 'addr', 'add', `${entry.address}/24`, 'dev', 'eth0']);
      await hostOrThrow([...inside, 'ip', 'link', 'set', 'eth0', 'up']);

      await fs.mkdir(entry.dir, { recursive: true });
      entry.mounted = true;
      await writeManifest(manifest);
      await hostOrThrow(['mount', '-t', 'tmpfs', '-o', `size=${this.diskSizeMb}m,mode=0755`, entry.mountSource, entry.dir]);
      // Beside the node's volume, not on it: a disk filled to ENOSPC must not stop a clock reset.
      const clockFile = path.join(runDir, `${name}.faketime`);
      await fs.writeFile(clockFile, '+0\n');
      this.namespaces.set(name, entry.namespace);
      nodes.push({ name, host: entry.address, dir: entry.dir, clockFile });
    }
    return nodes;
  }

  async exec(node: Node, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('local backend: exec needs a command');
    const namespace = this.namespaceOf(node);
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const environment = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`);
    // `env` sets variables for the command alone (not for `ip` itself, which matters for LD_PRELOAD).
    const command = ['netns', 'exec', namespace, ...(environment.length > 0 ? ['env', ...environment] : []), ...argv];
    const result = await execa('ip', command, {
      reject: false,
      timeout: timeoutMs,
      input: options.stdin,
      stripFinalNewline: false,
      encoding: 'utf8',
    });
    if (result.timedOut) {
      throw new Error(`exec on ${node.name} timed out after ${timeoutMs} ms: ${argv.join(' ')}`);
    }
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : 127;
    const outcome: ExecResult = {
      exitCode,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? (result.failed ? result.message : '')),
    };
    if (exitCode !== 0 && !options.allowFailure) {
      const detail = outcome.stderr.trim().split('\n').slice(-1)[0] ?? '';
      throw new Error(`exec on ${node.name} exited ${exitCode}: ${argv.join(' ')}${detail ? `: ${detail}` : ''}`);
    }
    return outcome;
  }

  async startDaemon(node: Node, argv: readonly string[], options: DaemonOptions): Promise<number> {
    if (argv.length === 0) throw new Error('local backend: startDaemon needs a command');
    const namespace = this.namespaceOf(node);
    const manifest = this.manifest!;
    if (!manifest.pidFiles.includes(options.pidFile)) {
      manifest.pidFiles.push(options.pidFile);
      await this.saveManifest();
    }
    await fs.mkdir(path.dirname(options.logFile), { recursive: true });
    await fs.mkdir(path.dirname(options.pidFile), { recursive: true });
    const log = await fs.open(options.logFile, 'a');
    try {
      const environment = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`);
      // detached: the child calls setsid() itself, so it survives the controller; `ip netns exec` and `env`
      // both exec() in place, so the pid we get is the daemon's own.
      const child = spawn('ip', ['netns', 'exec', namespace, 'env', ...environment, ...argv], {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        cwd: options.cwd ?? node.dir,
      });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.unref();
      await fs.writeFile(options.pidFile, `${pid}\n`);
      await waitUntilLaunched(pid, DAEMON_LAUNCH_WAIT_MS);
      return pid;
    } finally {
      await log.close();
    }
  }

  async upload(_node: Node, localPath: string, remotePath: string): Promise<void> {
    await fs.mkdir(path.dirname(remotePath), { recursive: true });
    await fs.cp(localPath, remotePath, { recursive: true, force: true });
  }

  async download(_node: Node, remotePath: string, localPath: string): Promise<void> {
    await fs.mkdir(path.dirname(localPath), { recursive: true });
    await fs.cp(remotePath, localPath, { recursive: true, force: true });
  }

  async writeFile(_node: Node, remotePath: string, content: string | Buffer): Promise<void> {
    await fs.mkdir(path.dirname(remotePath), { recursive: true });
    // Write then rename: a reader (libfaketime rereads the clock file on every call) never sees it half-written.
    const temporary = `${remotePath}.${process.pid}.${++temporaryCounter}.tmp`;
    try {
      await fs.writeFile(temporary, content);
      await fs.rename(temporary, remotePath);
    } catch (error) {
      await fs.rm(temporary, { force: true });
      // A full volume (the disk nemesis) has no room for a second copy; rewriting in place may still fit.
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      await fs.writeFile(remotePath, content);
    }
  }

  private saveManifest(): Promise<void> {
    const manifest = this.manifest!;
    this.manifestWrites = this.manifestWrites.catch(() => undefined).then(() => writeManifest(manifest));
    return this.manifestWrites;
  }

  async teardown(): Promise<void> {
    const manifest = this.manifest;
    if (!manifest) return;
    const context: UndoContext = { dryRun: false, removed: [], errors: [] };
    await undoManifest(manifest, context);
    if (context.errors.length > 0) {
      throw new Error(`local backend teardown of run ${this.runId}: ${context.errors.join('; ')}`);
    }
    this.namespaces.clear();
  }
}

export function createLocalBackend(options: LocalBackendOptions = {}): LocalBackend {
  return new LocalBackend(options);
}
