// The ssh backend: nodes are real machines (VMs, bare metal, cloud instances) reached over SSH with ssh2.
// Commands travel as quoted command lines, files over SFTP; every command has a timeout and a retry bound.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { chainName } from '../../nemeses/common.js';
import { UserError } from '../errors.js';
import type { TestContext } from '../test-context.js';
import type { Backend, DaemonOptions, ExecOptions, ExecResult, Node } from './types.js';
import { parseKnownHosts, type KnownHostEntry } from './ssh/known-hosts.js';
import {
  agentSocketFor,
  DEFAULT_REMOTE_ROOT,
  knownHostsFilesFor,
  loadPrivateKey,
  parseSshHost,
  sshOptionsFromRecord,
  validateRemoteRoot,
  validateSshRunId,
  type SshBackendOptions,
} from './ssh/options.js';
import {
  errorMessage,
  NodeConnectionPool,
  SshCommandTimeoutError,
  SshConnectionLostError,
  SshUnreachableError,
  type SshConnectionEvent,
  type SshConnectionListener,
  type SshEndpoint,
} from './ssh/pool.js';
import { environmentWords, shellCommandLine } from './ssh/quote.js';

export { parseSshHost, sshOptionsFromRecord, DEFAULT_REMOTE_ROOT, type SshBackendOptions } from './ssh/options.js';
export {
  SshAuthenticationError,
  SshCommandTimeoutError,
  SshConnectionLostError,
  SshHostKeyError,
  SshUnreachableError,
  type SshConnectionEvent,
  type SshConnectionListener,
} from './ssh/pool.js';
export { quoteShellWord, shellCommandLine } from './ssh/quote.js';

const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
const DEFAULT_DATA_VOLUME_MB = 256;
/** Every daemon carries this variable, so teardown and cleanup find its processes by run, even restarted ones. */
export const RUN_ENVIRONMENT_NAME = 'FAULTLINE_SSH_RUN_ID';
/** Written into each run directory; cleanup deletes only directories that carry it. */
const RUN_MARKER_FILE = '.faultline-run';
/** Bound on the files one upload or download may walk (a directory tree of target binaries is far smaller). */
const TREE_ENTRIES_MAX = 100_000;

interface NodeState {
  node: Node;
  endpoint: SshEndpoint;
  user: string;
  pool: NodeConnectionPool;
  sudo: boolean;
}

/** Runs nodes on the machines listed in `hosts`, one machine per node, in list order. */
export class SshBackend implements Backend {
  readonly name = 'ssh' as const;
  readonly runId: string;
  /**
   * Things the user must be told in the run's output and report (host keys accepted without verification).
   * Additive to the Backend contract: other backends have none.
   */
  readonly warnings: string[] = [];
  private readonly options: SshBackendOptions;
  private readonly remoteRoot: string;
  private readonly listeners: SshConnectionListener[] = [];
  private readonly nodes = new Map<string, NodeState>();
  private provisioned = false;

  constructor(options: SshBackendOptions) {
    this.runId = validateSshRunId(options.runId);
    this.remoteRoot = validateRemoteRoot(options.remoteRoot ?? DEFAULT_REMOTE_ROOT);
    if (options.hosts.length === 0) throw new UserError('ssh backend: no hosts: pass --nodes host1,host2,...');
    for (const host of options.hosts) parseSshHost(host);
    this.options = options;
    if (options.onEvent) this.listeners.push(options.onEvent);
    if (options.strictHostKeyChecking === false) {
      this.warnings.push('ssh: host key checking is OFF (--ssh-strict=false): the nodes were not verified to be the machines named');
    }
  }

  /** Subscribes to connection events (losses, retries, reconnects); returns the unsubscribe function. */
  onEvent(listener: SshConnectionListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /** The run's directory on every node. */
  get runRoot(): string {
    return `${this.remoteRoot}/${this.runId}`;
  }

  async provision(count: number): Promise<Node[]> {
    const states = await this.connect(count);
    try {
      await Promise.all(states.map((state) => this.createRunDirectory(state)));
    } catch (error) {
      await this.teardown().catch(() => undefined);
      throw error;
    }
    return states.map((state) => ({ ...state.node }));
  }

  /**
   * Kills what earlier runs left on these machines and deletes their marked directories: only run `runId`
   * when given, else every faultline run. Connects to every listed host; creates nothing.
   */
  async cleanupLeftovers(runId?: string): Promise<SshCleanupReport> {
    if (runId !== undefined) validateSshRunId(runId);
    const cleaned: string[] = [];
    const chains: string[] = [];
    const errors: string[] = [];
    try {
      let states: NodeState[];
      try {
        states = await this.connect(this.options.hosts.length);
      } catch (error) {
        return { cleaned, chains, errors: [errorMessage(error)] };
      }
      await Promise.all(
        states.map(async (state) => {
          try {
            const result = await this.runCleanupScript(state, runId ?? '');
            cleaned.push(state.endpoint.host);
            for (const line of result.stdout.split('\n')) {
              const chain = /^removed chain (\S+)$/.exec(line.trim())?.[1];
              if (chain) chains.push(`iptables chain ${chain} and its jumps on ${state.endpoint.host}`);
            }
          } catch (error) {
            errors.push(`${state.endpoint.host}: ${errorMessage(error)}`);
          }
        }),
      );
    } finally {
      for (const state of this.nodes.values()) state.pool.close();
      this.nodes.clear();
    }
    return { cleaned, chains, errors };
  }

  /** Builds each node's connection pool, connects, and decides whether it needs sudo. */
  private async connect(count: number): Promise<NodeState[]> {
    if (this.provisioned) throw new Error('ssh backend: provision called twice for one run');
    const hosts = this.options.hosts;
    if (!Number.isInteger(count) || count < 1 || count > hosts.length) {
      throw new UserError(`ssh backend: ${count} nodes requested but --nodes lists ${hosts.length} host(s): ${hosts.join(',')}`);
    }
    this.provisioned = true;
    const agent = agentSocketFor(this.options.agent);
    const privateKey = loadPrivateKey(this.options, agent !== undefined);
    const strict = this.options.strictHostKeyChecking !== false;
    const knownHostsFiles = knownHostsFilesFor(this.options.knownHostsFiles);
    const entries: KnownHostEntry[] = [];
    for (const file of knownHostsFiles) {
      entries.push(...parseKnownHosts(await fs.readFile(file, 'utf8'), file).entries);
    }
    const hostKey = { strict, entries, files: knownHostsFiles, warn: (message: string) => this.warn(message) };
    const emit = (event: SshConnectionEvent) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // A faulty listener must not break the command it reports on.
        }
      }
    };
    const states: NodeState[] = hosts.slice(0, count).map((text, index) => {
      const address = parseSshHost(text);
      const name = `n${index + 1}`;
      const dir = `${this.runRoot}/${name}`;
      const endpoint = { node: name, host: address.host, port: address.port ?? this.options.port ?? 22 };
      const user = address.user ?? this.options.user ?? 'root';
      const pool = new NodeConnectionPool(
        endpoint,
        {
          username: user,
          privateKey,
          passphrase: this.options.passphrase,
          agent,
          hostKey,
          readyTimeoutMs: this.options.readyTimeoutMs ?? 10_000,
          keepaliveIntervalMs: 5_000,
          keepaliveCountMax: 3,
        },
        {
          connectionsMax: this.options.connectionsPerNode ?? 2,
          channelsPerConnectionMax: 8,
          connectAttemptsMax: this.options.connectAttemptsMax ?? 5,
          commandAttemptsMax: this.options.commandAttemptsMax ?? 3,
          retryDelayMsInitial: 250,
          retryDelayMsMax: 4_000,
          channelWaitMsMax: 120_000,
        },
        emit,
      );
      return { node: { name, host: address.host, dir, clockFile: `${dir}/faketime` }, endpoint, user, pool, sudo: false };
    });
    for (const state of states) this.nodes.set(state.node.name, state);
    try {
      await Promise.all(states.map((state) => this.decideSudo(state)));
    } catch (error) {
      for (const state of states) state.pool.close();
      this.nodes.clear();
      throw error;
    }
    return states;
  }

  /**
   * Checks the node has the tools every command relies on, then uses sudo as configured ('auto': when the
   * login user is not root) and checks it needs no password.
   */
  private async decideSudo(state: NodeState): Promise<void> {
    // Every command runs under `timeout` and daemons under setsid and nohup: name what is missing up front
    // rather than failing each command with "not found". (This one check runs without the wrapper.)
    const probe = 'for tool in timeout setsid nohup; do command -v "$tool" >/dev/null 2>&1 || printf "%s " "$tool"; done';
    const tools = await state.pool.run(shellCommandLine(['sh', '-c', probe]), { timeoutMs: 15_000 });
    if (tools.stdout.trim() !== '') {
      throw new UserError(
        `ssh backend: ${state.node.name} (${state.endpoint.host}) lacks ${tools.stdout.trim()}: install coreutils and util-linux ` +
          '(a Debian node has them)',
      );
    }
    const setting = this.options.sudo ?? 'auto';
    if (setting === 'auto') {
      const identity = await this.execRaw(state, ['id', '-u'], { timeoutMs: 15_000 });
      state.sudo = identity.stdout.trim() !== '0';
    } else {
      state.sudo = setting;
    }
    if (state.sudo) {
      const probe = await this.execRaw(state, ['true'], { timeoutMs: 15_000, allowFailure: true });
      if (probe.exitCode !== 0) {
        throw new UserError(
          `ssh backend: ${state.node.name} (${state.endpoint.host}): user ${state.user} cannot run 'sudo -n true' ` +
            `(${probe.stderr.trim().split('\n').pop() ?? ''}); allow passwordless sudo for it, or log in as root`,
        );
      }
    }
  }

  /**
   * Creates the node's directory (on a tmpfs of dataVolumeMb when it can mount one), the run marker cleanup
   * looks for, and a neutral clock file.
   */
  private async createRunDirectory(state: NodeState): Promise<void> {
    const { dir, clockFile } = state.node;
    await this.execRaw(state, ['sh', '-c', 'mkdir -p "$1" "$2" && touch "$1/$3"', 'faultline-provision', this.runRoot, dir, RUN_MARKER_FILE], {
      timeoutMs: 30_000,
    });
    const volumeMb = this.options.dataVolumeMb ?? DEFAULT_DATA_VOLUME_MB;
    if (volumeMb > 0) {
      const mounted = await this.execRaw(
        state,
        ['mount', '-t', 'tmpfs', '-o', `size=${volumeMb}m,mode=0755`, `faultline-${this.runId}-${state.node.name}`, dir],
        { timeoutMs: 30_000, allowFailure: true },
      );
      if (mounted.exitCode !== 0) {
        this.warn(
          `ssh: ${state.node.name} (${state.endpoint.host}): no ${volumeMb} MiB tmpfs at ${dir} (${mounted.stderr.trim().split('\n').pop() ?? ''}); ` +
            'its data lives on the machine\'s own disk, which a fill-disk fault would fill',
        );
      }
    }
    await this.execRaw(state, ['sh', '-c', 'printf "+0\\n" > "$1"', 'faultline-provision', clockFile], { timeoutMs: 30_000 });
  }

  private runCleanupScript(state: NodeState, runId: string): Promise<ExecResult> {
    return this.execRaw(
      state,
      ['sh', '-c', CLEANUP_SCRIPT, 'faultline-cleanup', runId, this.remoteRoot, RUN_MARKER_FILE, RUN_ENVIRONMENT_NAME, ...(runId === '' ? [] : runChains(runId))],
      { timeoutMs: 60_000 },
    );
  }

  async exec(node: Node, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.execRaw(this.stateOf(node), argv, options);
  }

  private async execRaw(state: NodeState, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    if (argv.length === 0) throw new Error('ssh backend: exec needs a command');
    const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new Error(`ssh backend: timeoutMs must be positive, got ${timeoutMs}`);
    // `timeout` on the node kills the command's whole process group even when the network is gone; the
    // controller's own timer (in the pool) bounds the wait either way.
    const words = [
      ...(state.sudo ? ['sudo', '-n', '--'] : []),
      'timeout',
      '-s',
      'KILL',
      `${(timeoutMs / 1000).toFixed(3)}s`,
      ...environmentWords(options.env),
      ...argv,
    ];
    const command = shellCommandLine(words);
    let raw;
    try {
      raw = await state.pool.run(command, { stdin: options.stdin, timeoutMs });
    } catch (error) {
      if (error instanceof SshCommandTimeoutError) {
        throw new SshCommandTimeoutError(`exec on ${state.node.name} timed out after ${timeoutMs} ms: ${argv.join(' ')}`);
      }
      // These already name the node, and callers may tell them apart (a refused host key is the user's to fix).
      if (error instanceof UserError || error instanceof SshConnectionLostError || error instanceof SshUnreachableError) throw error;
      throw new Error(`exec on ${state.node.name} failed: ${errorMessage(error)}`, { cause: error });
    }
    // A command killed by a signal has no exit code; report it as the shell would (128 + signal number).
    const exitCode = raw.exitCode ?? 128 + signalNumber(raw.signal);
    const result: ExecResult = { exitCode, stdout: raw.stdout, stderr: raw.stderr };
    if (exitCode !== 0 && !options.allowFailure) {
      const detail = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
      throw new Error(`exec on ${state.node.name} exited ${exitCode}: ${argv.join(' ')}${detail ? `: ${detail}` : ''}`);
    }
    return result;
  }

  async startDaemon(node: Node, argv: readonly string[], options: DaemonOptions): Promise<number> {
    if (argv.length === 0) throw new Error('ssh backend: startDaemon needs a command');
    const state = this.stateOf(node);
    // In a non-interactive shell a background job is not a process-group leader, so setsid needs no fork
    // and setsid, nohup and env all exec in place: $! is the daemon's own pid. The new session keeps it out
    // of the launcher's process group (which `timeout` would kill) and away from the SSH session.
    const script =
      'set -e; pidfile=$1; logfile=$2; dir=$3; shift 3; ' +
      'mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"; cd "$dir"; ' +
      'setsid nohup "$@" >>"$logfile" 2>&1 </dev/null & pid=$!; ' +
      'echo "$pid" >"$pidfile"; echo "$pid"';
    const environment = environmentWords({ ...(options.env ?? {}), [RUN_ENVIRONMENT_NAME]: this.runId });
    const result = await this.execRaw(
      state,
      ['sh', '-c', script, 'faultline-daemon', options.pidFile, options.logFile, options.cwd ?? node.dir, ...environment, ...argv],
      { timeoutMs: 30_000 },
    );
    const pid = Number(result.stdout.trim());
    if (!Number.isInteger(pid) || pid <= 1) {
      throw new Error(`ssh backend: startDaemon on ${node.name} printed no pid: ${JSON.stringify(result.stdout)}`);
    }
    return pid;
  }

  async upload(node: Node, localPath: string, remotePath: string): Promise<void> {
    const state = this.stateOf(node);
    const stats = await fs.stat(localPath);
    // Like the local backend, a directory is merged into what is there (an upload into node.dir must not
    // replace the node's data or its tmpfs), and a file replaces the file.
    if (state.sudo) {
      // SFTP runs as the login user, who cannot write below a root-owned directory: stage in /tmp, then copy.
      const staging = this.stagingPath();
      await this.uploadTree(state, localPath, staging, stats.isDirectory());
      const copy = stats.isDirectory() ? 'mkdir -p "$2" && cp -R "$1/." "$2/"' : 'mkdir -p "$(dirname "$2")" && cp "$1" "$2"';
      await this.execRaw(state, ['sh', '-c', `${copy}; status=$?; rm -rf "$1"; exit $status`, 'faultline-upload', staging, remotePath], {
        timeoutMs: 120_000,
      });
      return;
    }
    await this.execRaw(state, ['mkdir', '-p', path.posix.dirname(remotePath)], { timeoutMs: 30_000 });
    await this.uploadTree(state, localPath, remotePath, stats.isDirectory());
  }

  async download(node: Node, remotePath: string, localPath: string): Promise<void> {
    const state = this.stateOf(node);
    let source = remotePath;
    if (state.sudo) {
      // Logs and data may be readable by root only: copy them somewhere the login user may read first.
      source = this.stagingPath();
      await this.execRaw(
        state,
        ['sh', '-c', 'cp -R "$1" "$2" && chown -R "$3" "$2"', 'faultline-download', remotePath, source, state.user],
        { timeoutMs: 120_000 },
      );
    }
    try {
      await state.pool.sftp(`download ${remotePath}`, (sftp) => downloadTree(sftp, source, localPath));
    } finally {
      if (state.sudo) await this.execRaw(state, ['rm', '-rf', source], { timeoutMs: 30_000, allowFailure: true }).catch(() => undefined);
    }
  }

  async writeFile(node: Node, remotePath: string, content: string | Buffer): Promise<void> {
    const state = this.stateOf(node);
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    // Write beside the target, then rename over it: libfaketime rereads the clock file on every call and
    // must never see it half-written.
    if (state.sudo) {
      const staging = this.stagingPath();
      await state.pool.sftp(`write ${staging}`, (sftp) => sftpWriteFile(sftp, staging, data, 0o644));
      await this.execRaw(
        state,
        [
          'sh',
          '-c',
          'mkdir -p "$(dirname "$2")" && cp "$1" "$2.faultline-tmp" && mv -f "$2.faultline-tmp" "$2"; status=$?; rm -f "$1"; exit $status',
          'faultline-write',
          staging,
          remotePath,
        ],
        { timeoutMs: 30_000 },
      );
      return;
    }
    await this.execRaw(state, ['mkdir', '-p', path.posix.dirname(remotePath)], { timeoutMs: 30_000 });
    const temporary = `${remotePath}.${randomBytes(4).toString('hex')}.tmp`;
    await state.pool.sftp(`write ${remotePath}`, async (sftp) => {
      await sftpWriteFile(sftp, temporary, data, 0o644);
      await sftpRenameOver(sftp, temporary, remotePath);
    });
  }

  /**
   * Kills every process started for this run (found by its run variable, so daemons a Db restarted count
   * too), removes the run's directory on every node and closes the connections. Tries every node even when
   * one fails, then reports the failures together. Idempotent.
   */
  async teardown(): Promise<void> {
    const states = [...this.nodes.values()];
    const failures: string[] = [];
    await Promise.all(
      states.map(async (state) => {
        try {
          await this.runCleanupScript(state, this.runId);
        } catch (error) {
          failures.push(`${state.node.name} (${state.endpoint.host}): ${errorMessage(error)}`);
        } finally {
          state.pool.close();
        }
      }),
    );
    this.nodes.clear();
    if (failures.length > 0) throw new Error(`ssh backend teardown of run ${this.runId}: ${failures.join('; ')}`);
  }

  private stateOf(node: Node): NodeState {
    const state = this.nodes.get(node.name);
    if (!state) throw new Error(`ssh backend: unknown node ${node.name} (not provisioned, or torn down)`);
    return state;
  }

  private stagingPath(): string {
    return `/tmp/faultline-ssh-${this.runId}-${randomBytes(6).toString('hex')}`;
  }

  private warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  private async uploadTree(state: NodeState, localPath: string, remotePath: string, isDirectory: boolean): Promise<void> {
    await state.pool.sftp(`upload ${localPath}`, async (sftp) => {
      if (!isDirectory) {
        const mode = (await fs.stat(localPath)).mode & 0o777;
        await sftpPutFile(sftp, localPath, remotePath, mode);
        return;
      }
      let entries = 0;
      const walk = async (localDirectory: string, remoteDirectory: string): Promise<void> => {
        await sftpMkdir(sftp, remoteDirectory, (await fs.stat(localDirectory)).mode & 0o777);
        for (const entry of await fs.readdir(localDirectory, { withFileTypes: true })) {
          if (++entries > TREE_ENTRIES_MAX) throw new Error(`upload ${localPath}: more than ${TREE_ENTRIES_MAX} entries`);
          const from = path.join(localDirectory, entry.name);
          const to = `${remoteDirectory}/${entry.name}`;
          if (entry.isDirectory()) await walk(from, to);
          else if (entry.isSymbolicLink()) await sftpSymlink(sftp, await fs.readlink(from), to);
          else if (entry.isFile()) await sftpPutFile(sftp, from, to, (await fs.stat(from)).mode & 0o777);
        }
      };
      await walk(localPath, remotePath);
    });
  }
}

export function createSshBackend(options: SshBackendOptions): SshBackend {
  return new SshBackend(options);
}

/**
 * The registry's factory (src/backends/index.ts): options as flags or a spec file give them (`hosts` or
 * `nodes`, `ssh-user`/`sshUser`, `ssh-key`, `ssh-port`, `sudo`, `ssh-agent`, `ssh-strict`, `ssh-known-hosts`,
 * `ssh-root`), plus `runId` (default: generated) and `onEvent`. Typed SshBackendOptions fields pass through.
 */
export function createSshBackendFromOptions(options: Record<string, unknown>): SshBackend {
  const runId = typeof options.runId === 'string' ? options.runId : randomBytes(8).toString('hex');
  const onEvent = typeof options.onEvent === 'function' ? (options.onEvent as SshConnectionListener) : undefined;
  const parsed = sshOptionsFromRecord(options, { runId, onEvent }, 'ssh backend');
  const integer = (name: keyof SshBackendOptions): number | undefined => {
    const value = options[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new UserError(`ssh backend: ${name}: expected a positive integer, got ${JSON.stringify(value)}`);
    return value;
  };
  return new SshBackend({
    ...parsed,
    connectionsPerNode: integer('connectionsPerNode'),
    connectAttemptsMax: integer('connectAttemptsMax'),
    commandAttemptsMax: integer('commandAttemptsMax'),
    readyTimeoutMs: integer('readyTimeoutMs'),
  });
}

/**
 * Removes what runs left on the given machines (after a controller crash, say): kills processes carrying
 * the run variable and deletes run directories marked as faultline's below the remote root. With `runId`,
 * only that run; without, every faultline run on those machines. Cleanup needs the host list because no
 * state on this machine records which remote machines a run used.
 */
export async function cleanupSshLeftovers(options: Omit<SshBackendOptions, 'runId'> & { runId?: string }): Promise<SshCleanupReport> {
  // One backend per host, so an unreachable machine does not stop the others' cleanup. The backend's own
  // run id only names staging files; what is cleaned is options.runId's run (or every run).
  const reports = await Promise.all(
    options.hosts.map((host) => new SshBackend({ ...options, hosts: [host], runId: 'cleanup' }).cleanupLeftovers(options.runId)),
  );
  return {
    cleaned: reports.flatMap((report) => report.cleaned),
    chains: reports.flatMap((report) => report.chains),
    errors: reports.flatMap((report) => report.errors),
  };
}

/** What a cleanup did: the hosts it cleaned, the iptables chains it removed (with where), what failed. */
export interface SshCleanupReport {
  cleaned: string[];
  chains: string[];
  errors: string[];
}

/**
 * The iptables chains the partition, packet and flap nemeses create for a run on each node (named by
 * nemeses/common.ts's chainName, from the run id alone), with jumps to them from INPUT (and OUTPUT).
 * A killed controller never healed them: on a real host they outlive the run until cleanup removes them.
 */
export function runChains(runId: string): string[] {
  // chainName reads only the run id of the context it is given.
  const context = { runId } as Pick<TestContext, 'runId'> as TestContext;
  return [chainName(context, 'PART'), chainName(context, 'LOSS'), chainName(context, 'FLAP')];
}

/**
 * Shell script run on a node by teardown and cleanup. Arguments: run id ('' for every run), remote root,
 * marker file name, run variable name, then the run's iptables chains (none for every run: then every chain
 * named as the nemeses name theirs). Kills each process whose environment carries the run variable (its
 * whole process group: the daemon was started as a session leader), deletes the marked run directories,
 * and removes the chains with every rule jumping to them, printing `removed chain NAME` for each.
 */
const CLEANUP_SCRIPT = [
  'run=$1; root=$2; marker=$3; variable=$4; self=$$',
  'shift 4; chains="$*"',
  'for environ in /proc/[0-9]*/environ; do',
  '  pid=${environ#/proc/}; pid=${pid%/environ}',
  '  [ "$pid" = "$self" ] && continue',
  '  if [ -n "$run" ]; then tr "\\000" "\\n" <"$environ" 2>/dev/null | grep -qxF "$variable=$run" || continue',
  '  else tr "\\000" "\\n" <"$environ" 2>/dev/null | grep -q "^$variable=" || continue; fi',
  '  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true',
  'done',
  // Node directories may be tmpfs mounts: unmount them (deepest first) before deleting the run directory.
  'remove_run() {',
  '  awk -v prefix="$1/" \'index($2, prefix) == 1 { print $2 }\' /proc/mounts | sort -r | while read -r mountpoint; do',
  '    umount "$mountpoint" 2>/dev/null || umount -l "$mountpoint" 2>/dev/null || true',
  '  done',
  '  rm -rf -- "$1"',
  '}',
  'if [ -n "$run" ]; then',
  '  if [ -e "$root/$run/$marker" ]; then remove_run "$root/$run"; fi',
  'else',
  '  for dir in "$root"/*/; do [ -e "$dir$marker" ] && remove_run "${dir%/}"; done',
  'fi',
  // Upload staging files: `<run>-<random>`, so run `ab` never takes run `abc`'s.
  'if [ -n "$run" ]; then rm -rf /tmp/faultline-ssh-"$run"-* 2>/dev/null; else rm -rf /tmp/faultline-ssh-* 2>/dev/null; fi',
  // Jumps first (a chain still referenced cannot be deleted); each rule is removed by its own -S spelling.
  // Bounded: at most 20 jumps per chain, 100 chains.
  'if command -v iptables >/dev/null 2>&1; then',
  '  if [ -z "$run" ]; then',
  '    chains=$(iptables -w 5 -S 2>/dev/null | awk \'$1 == "-N" && $2 ~ /^FL-(PART|LOSS|FLAP)-[0-9a-f]+$/ { print $2 }\' | head -n 100)',
  '  fi',
  '  for chain in $chains; do',
  '    iptables -w 5 -S "$chain" >/dev/null 2>&1 || continue',
  '    iptables -w 5 -S 2>/dev/null | grep -E -- "^-A [A-Za-z0-9_-]+ (.* )?-j $chain( |\\$)" | head -n 20 | while read -r rule; do',
  '      set -f; iptables -w 5 -D ${rule#-A } 2>/dev/null; set +f',
  '    done',
  '    iptables -w 5 -F "$chain" 2>/dev/null',
  '    iptables -w 5 -X "$chain" 2>/dev/null && echo "removed chain $chain"',
  '  done',
  'fi',
  'true',
].join('\n');

function signalNumber(signal: string | undefined): number {
  const numbers: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };
  return signal ? (numbers[signal.replace(/^SIG/, '')] ?? 0) : 0;
}

// ---------------------------------------------------------------- SFTP, promisified

function sftpPutFile(sftp: SFTPWrapper, localPath: string, remotePath: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.fastPut(localPath, remotePath, { mode }, (error) => (error ? reject(sftpError('upload', remotePath, error)) : resolve())),
  );
}

function sftpWriteFile(sftp: SFTPWrapper, remotePath: string, data: Buffer, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.writeFile(remotePath, data, { mode }, (error) => (error ? reject(sftpError('write', remotePath, error)) : resolve())),
  );
}

function sftpRenameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  // Plain SFTP rename refuses to replace an existing file; OpenSSH's posix-rename extension replaces atomically.
  return new Promise((resolve, reject) =>
    sftp.ext_openssh_rename(from, to, (error) => (error ? reject(sftpError('rename', to, error)) : resolve())),
  );
}

function sftpMkdir(sftp: SFTPWrapper, remotePath: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    sftp.mkdir(remotePath, { mode }, (error) => {
      if (!error) return resolve();
      // Already there is fine (an upload over an existing tree).
      sftp.stat(remotePath, (statError, stats) => (!statError && stats.isDirectory() ? resolve() : reject(sftpError('mkdir', remotePath, error))));
    }),
  );
}

function sftpSymlink(sftp: SFTPWrapper, target: string, linkPath: string): Promise<void> {
  return new Promise((resolve, reject) =>
    // OpenSSH's server takes symlink's arguments in the reverse of the draft's order; ssh2 passes them as
    // OpenSSH expects when talking to OpenSSH.
    sftp.symlink(target, linkPath, (error) => (error ? reject(sftpError('symlink', linkPath, error)) : resolve())),
  );
}

async function downloadTree(sftp: SFTPWrapper, remotePath: string, localPath: string): Promise<void> {
  let entries = 0;
  const walk = async (from: string, to: string): Promise<void> => {
    const stats = await new Promise<import('ssh2').Stats>((resolve, reject) =>
      sftp.stat(from, (error, result) => (error ? reject(sftpError('stat', from, error)) : resolve(result))),
    );
    if (++entries > TREE_ENTRIES_MAX) throw new Error(`download ${remotePath}: more than ${TREE_ENTRIES_MAX} entries`);
    if (stats.isDirectory()) {
      await fs.mkdir(to, { recursive: true });
      const list = await new Promise<import('ssh2').FileEntry[]>((resolve, reject) =>
        sftp.readdir(from, (error, result) => (error ? reject(sftpError('readdir', from, error)) : resolve(result))),
      );
      for (const entry of list) await walk(`${from}/${entry.filename}`, path.join(to, entry.filename));
      return;
    }
    await fs.mkdir(path.dirname(to), { recursive: true });
    await new Promise<void>((resolve, reject) =>
      sftp.fastGet(from, to, (error) => (error ? reject(sftpError('download', from, error)) : resolve())),
    );
    // fastGet creates the file with default permissions; keep the remote mode (an executable stays one).
    await fs.chmod(to, stats.mode & 0o777);
  };
  await walk(remotePath, localPath);
}

function sftpError(action: string, remotePath: string, error: Error): Error {
  return new Error(`sftp ${action} ${remotePath}: ${error.message}`, { cause: error });
}
