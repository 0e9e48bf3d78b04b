// Real OpenSSH servers for tests: one sshd per network namespace on a private bridge, with generated host
// and user keys and a hashed known_hosts file. Used by the ssh backend's end-to-end tests; needs root.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';

const SSHD_PATH = '/usr/sbin/sshd';
const COMMAND_TIMEOUT_MS = 20_000;
const SSHD_READY_WAIT_MS = 15_000;
/** Every fixture sshd also listens here. */
export const ALTERNATE_PORT = 2222;

export interface SshdNode {
  name: string;
  namespace: string;
  address: string;
  configFile: string;
  hostKeyFile: string;
  /** The host key known_hosts lists for it, "ssh-ed25519 AAAA..." (the last node: its ECDSA key). */
  hostPublicKey: string;
}

export interface SshdFixture {
  /** Addresses of the sshd nodes, in order. */
  hosts: string[];
  nodes: SshdNode[];
  /** The controller's address on the bridge. */
  controllerAddress: string;
  /** known_hosts listing every node, hashed as `ssh-keygen -H` writes it. */
  knownHostsFile: string;
  /** Private key authorized for root (and for `sudoUser` when created). */
  userKeyFile: string;
  /** A scratch directory removed by close(). */
  directory: string;
  /** A non-root user with passwordless sudo, when requested and sudo is installed. */
  sudoUser: string | undefined;
  /** pid of the node's listening sshd. */
  listenerPid(index: number): number;
  /** Kills every SSH session of the node (the per-connection sshd processes), leaving the listener up. */
  killSessions(index: number): Promise<number>;
  stopSshd(index: number): Promise<void>;
  startSshd(index: number): Promise<void>;
  close(): Promise<void>;
}

export function sshdAvailable(): boolean {
  return process.getuid?.() === 0 && existsSync(SSHD_PATH) && existsSync('/usr/bin/ssh-keygen');
}

async function run(argv: string[], options: { allowFailure?: boolean; input?: string } = {}): Promise<string> {
  const result = await execa(argv[0], argv.slice(1), { reject: false, timeout: COMMAND_TIMEOUT_MS, input: options.input });
  if (result.exitCode !== 0 && !options.allowFailure) {
    throw new Error(`${argv.join(' ')} exited ${result.exitCode}: ${String(result.stderr).trim()}`);
  }
  return String(result.stdout);
}

/** A /24 in 10.241.0.0/16 that no interface on this host uses yet. */
async function freeSubnet(): Promise<string> {
  const addresses = await run(['ip', '-o', '-4', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = 1 + Math.floor(Math.random() * 250);
    const prefix = `10.241.${third}.`;
    if (!addresses.includes(prefix)) return `10.241.${third}`;
  }
  throw new Error('no free /24 in 10.241.0.0/16');
}

/**
 * Starts `count` sshd nodes. Everything created is named flssh-<tag>-*, and close() removes it all (it is
 * also safe to call after a partial start).
 */
export async function startSshdFixture(options: {
  count: number;
  sudoUser?: boolean;
  /**
   * Directories the nodes must not see (an empty tmpfs is mounted over each in the sshd's own mount
   * namespace), so that a node behaves like another machine: nothing of the controller's checkout there.
   */
  hiddenPaths?: readonly string[];
}): Promise<SshdFixture> {
  const tag = randomBytes(2).toString('hex');
  const directory = await fs.mkdtemp(path.join(tmpdir(), `flssh-${tag}-`));
  const bridge = `flssh-${tag}-br`;
  const processes = new Map<number, ChildProcess>();
  const nodes: SshdNode[] = [];
  let forwardRule = false;
  let bridgeCreated = false;
  let sudoUser: string | undefined;
  const namespaces: string[] = [];

  const close = async (): Promise<void> => {
    for (const child of processes.values()) await stopChild(child);
    processes.clear();
    for (const namespace of namespaces) await run(['ip', 'netns', 'del', namespace], { allowFailure: true });
    if (bridgeCreated) await run(['ip', 'link', 'del', bridge], { allowFailure: true });
    if (forwardRule) await run(['iptables', '-w', '5', '-D', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT'], { allowFailure: true });
    if (sudoUser) {
      await run(['userdel', '-r', sudoUser], { allowFailure: true });
      await fs.rm(`/etc/sudoers.d/${sudoUser}`, { force: true });
    }
    // A backend that did not get to tear down leaves node tmpfs mounts below the directory; rm cannot remove those.
    const mounts = (await fs.readFile('/proc/mounts', 'utf8').catch(() => ''))
      .split('\n')
      .map((line) => line.split(' ')[1])
      .filter((mountpoint): mountpoint is string => mountpoint !== undefined && mountpoint.startsWith(`${directory}/`))
      .sort()
      .reverse();
    for (const mountpoint of mounts) await run(['umount', '-l', mountpoint], { allowFailure: true });
    await fs.rm(directory, { recursive: true, force: true });
  };

  try {
    const subnet = await freeSubnet();
    const controllerAddress = `${subnet}.254`;
    await run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    bridgeCreated = true;
    await run(['ip', 'addr', 'add', `${controllerAddress}/24`, 'dev', bridge]);
    await run(['ip', 'link', 'set', bridge, 'up']);
    // Docker sets FORWARD's policy to DROP and br_netfilter passes bridged frames through it.
    forwardRule = true;
    await run(['iptables', '-w', '5', '-I', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT']);
    // sshd refuses to start without its privilege-separation directory.
    await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    const userKeyFile = path.join(directory, 'id_ed25519');
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `flssh-${tag}`, '-f', userKeyFile]);
    const authorizedKeys = path.join(directory, 'authorized_keys');
    await fs.copyFile(`${userKeyFile}.pub`, authorizedKeys);
    // sshd reads authorized_keys as the logging-in user, so a non-root user must be able to reach it.
    await fs.chmod(directory, 0o755);
    await fs.chmod(authorizedKeys, 0o644);

    if (options.sudoUser && existsSync('/usr/bin/sudo')) {
      const name = `flssh${tag}`;
      await run(['useradd', '-m', '-s', '/bin/sh', name]);
      sudoUser = name;
      // useradd leaves the account locked ('!'), and sshd refuses locked accounts even for key logins.
      await run(['usermod', '-p', '*', name]);
      await fs.writeFile(`/etc/sudoers.d/${name}`, `${name} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    }

    const knownHostsLines: string[] = [];
    for (let index = 1; index <= options.count; index++) {
      const name = `n${index}`;
      const namespace = `flssh-${tag}-${name}`;
      const veth = `flssh-${tag}-v${index}`;
      const address = `${subnet}.${index}`;
      namespaces.push(namespace);
      await run(['ip', 'netns', 'add', namespace]);
      await run(['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
      await run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
      await run(['ip', 'link', 'set', veth, 'master', bridge]);
      await run(['ip', 'link', 'set', veth, 'up']);
      await run(['ip', 'netns', 'exec', namespace, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await run(['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'eth0', 'up']);

      const nodeDirectory = path.join(directory, name);
      await fs.mkdir(nodeDirectory);
      const hostKeyFile = path.join(nodeDirectory, 'ssh_host_ed25519_key');
      await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${name}-host`, '-f', hostKeyFile]);
      const ecdsaKeyFile = path.join(nodeDirectory, 'ssh_host_ecdsa_key');
      await run(['ssh-keygen', '-q', '-t', 'ecdsa', '-b', '256', '-N', '', '-C', `${name}-host`, '-f', ecdsaKeyFile]);
      const publicKey = async (file: string) => (await fs.readFile(`${file}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
      // Every sshd holds two host keys, as Debian's does; the last node is listed by its ECDSA key only, so
      // connecting to it proves the client asks for the key type known_hosts lists (ed25519 is preferred).
      const listed = index === options.count && options.count > 1 ? ecdsaKeyFile : hostKeyFile;
      const hostPublicKey = await publicKey(listed);
      knownHostsLines.push(`${address} ${hostPublicKey}`, `[${address}]:${ALTERNATE_PORT} ${hostPublicKey}`);
      const configFile = path.join(nodeDirectory, 'sshd_config');
      await fs.writeFile(
        configFile,
        [
          `ListenAddress ${address}:22`,
          // A second port, for host:port and --ssh-port (known_hosts names it [address]:2222).
          `ListenAddress ${address}:${ALTERNATE_PORT}`,
          `HostKey ${hostKeyFile}`,
          `HostKey ${ecdsaKeyFile}`,
          `PidFile ${path.join(nodeDirectory, 'sshd.pid')}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          'PermitRootLogin prohibit-password',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          // The scratch directory is not owned the way StrictModes demands; the keys in it are ours.
          'StrictModes no',
          'Subsystem sftp internal-sftp',
          'MaxSessions 10',
          'LogLevel ERROR',
          '',
        ].join('\n'),
      );
      nodes.push({ name, namespace, address, configFile, hostKeyFile, hostPublicKey });
    }
    const knownHostsFile = path.join(directory, 'known_hosts');
    await fs.writeFile(knownHostsFile, `${knownHostsLines.join('\n')}\n`);
    await run(['ssh-keygen', '-q', '-H', '-f', knownHostsFile]);
    await fs.rm(`${knownHostsFile}.old`, { force: true });

    const startSshd = async (index: number): Promise<void> => {
      const node = nodes[index];
      const hidden = options.hiddenPaths ?? [];
      // unshare and sh both exec in place, so the child's pid stays the listening sshd's.
      const argv =
        hidden.length === 0
          ? ['netns', 'exec', node.namespace, SSHD_PATH, '-D', '-e', '-f', node.configFile]
          : [
              'netns', 'exec', node.namespace, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
              'sshd=$1; config=$2; shift 2; for hidden in "$@"; do mount -t tmpfs -o size=1m flssh-hidden "$hidden" || exit 1; done; exec "$sshd" -D -e -f "$config"',
              'sh', SSHD_PATH, node.configFile, ...hidden,
            ];
      const child = spawn('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
      let errors = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        if (errors.length < 10_000) errors += chunk.toString();
      });
      processes.set(index, child);
      const deadline = Date.now() + SSHD_READY_WAIT_MS;
      // Ready once the node's port accepts connections; ss runs inside the namespace.
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`sshd on ${node.name} exited ${child.exitCode}: ${errors.trim()}`);
        const listening = await run(['ip', 'netns', 'exec', node.namespace, 'ss', '-Htln', `sport = :22`], { allowFailure: true });
        if (listening.includes(node.address)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`sshd on ${node.name} did not listen within ${SSHD_READY_WAIT_MS} ms: ${errors.trim()}`);
    };
    for (let index = 0; index < nodes.length; index++) await startSshd(index);

    return {
      hosts: nodes.map((node) => node.address),
      nodes,
      controllerAddress,
      knownHostsFile,
      userKeyFile,
      directory,
      sudoUser,
      listenerPid(index) {
        const pid = processes.get(index)?.pid;
        if (pid === undefined) throw new Error(`sshd on node ${index} is not running`);
        return pid;
      },
      async killSessions(index) {
        const listener = processes.get(index)?.pid;
        if (listener === undefined) return 0;
        const sessions = await childPids(listener);
        killAll(sessions);
        return sessions.length;
      },
      async stopSshd(index) {
        // Listener first (no new sessions), then the sessions it had: those keep the connections up otherwise.
        const child = processes.get(index);
        if (!child?.pid) return;
        const sessions = await childPids(child.pid);
        await stopChild(child);
        processes.delete(index);
        killAll(sessions);
      },
      startSshd,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
}

/** Children of a process: for the sshd listener (`ip netns exec` execs sshd in place), its sessions. */
async function childPids(parent: number): Promise<number[]> {
  return (await run(['ps', '-o', 'pid=', '--ppid', String(parent)], { allowFailure: true }))
    .split('\n')
    .map((text) => Number(text.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 1);
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
