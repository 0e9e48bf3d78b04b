// The ssh backend's options: their types, defaults, and the checks that turn flags or spec values into them.
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// ssh2 is CommonJS: Node's ESM loader offers only its default export (named imports work in vitest alone).
import ssh2 from 'ssh2';
import { UserError } from '../../errors.js';
import type { SshConnectionListener } from './pool.js';

export interface SshBackendOptions {
  /** The run's id: letters, digits, '.', '_' and '-'. Names the run's directory on every node. */
  runId: string;
  /** One machine per node: `host`, `host:port`, `user@host:port`, or `[IPv6]:port`. */
  hosts: readonly string[];
  /** Login user when a host does not name one. Default root (as Jepsen). */
  user?: string;
  /** Private key file. Default: the agent if one is running, else ~/.ssh/id_ed25519, id_ecdsa or id_rsa. */
  privateKeyPath?: string;
  /** Passphrase of an encrypted private key (an agent is the better way to use one). */
  passphrase?: string;
  /** Port when a host does not name one. Default 22. */
  port?: number;
  /** true: every command through `sudo -n --`; false: never; 'auto' (default): when the login user is not root. */
  sudo?: boolean | 'auto';
  /** ssh-agent socket; true: $SSH_AUTH_SOCK; false: no agent. Default: $SSH_AUTH_SOCK when set. */
  agent?: string | boolean;
  /** Verify host keys against known_hosts (default true). false accepts any key and records a warning. */
  strictHostKeyChecking?: boolean;
  /** known_hosts files. Default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts (those that exist). */
  knownHostsFiles?: readonly string[];
  /** Remote parent of run directories: nodes live in <remoteRoot>/<runId>/<node>. Default /var/lib/faultline. */
  remoteRoot?: string;
  /**
   * Size of the tmpfs mounted at each node's directory, in MiB, so the disk nemesis's fill-disk fills a
   * bounded volume and not the machine's own disk (as the local backend does). 0: no mount, the node's
   * directory is on the machine's filesystem. Default 256. Needs root or sudo; without, no mount and a warning.
   */
  dataVolumeMb?: number;
  /** Connections per node (each carries up to 8 commands at once). Default 2. */
  connectionsPerNode?: number;
  /** Connect attempts (first included) before a node counts as unreachable. Default 5. */
  connectAttemptsMax?: number;
  /** Attempts of one command when its connection is lost underneath it. Default 3. */
  commandAttemptsMax?: number;
  /** Bound on the SSH handshake. Default 10 s. */
  readyTimeoutMs?: number;
  /** Receives every connection loss, retry and reconnect (the runner logs them to nemesis.jsonl). */
  onEvent?: SshConnectionListener;
}

export interface SshHostAddress {
  user: string | undefined;
  host: string;
  port: number | undefined;
}

export const DEFAULT_REMOTE_ROOT = '/var/lib/faultline';

/** Parses `[user@]host[:port]` or `[user@][IPv6]:port`. */
export function parseSshHost(text: string): SshHostAddress {
  const trimmed = text.trim();
  const fail = (): never => {
    throw new UserError(`ssh backend: host ${JSON.stringify(text)}: expected host, host:port, user@host:port or [IPv6]:port`);
  };
  const at = trimmed.lastIndexOf('@');
  const user = at >= 0 ? trimmed.slice(0, at) : undefined;
  const rest = at >= 0 ? trimmed.slice(at + 1) : trimmed;
  if (user !== undefined && !/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user)) fail();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([0-9A-Fa-f:.%a-z]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) fail();
    host = parts[0];
    portText = parts[1];
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) fail();
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) fail();
  }
  return { user, host, port };
}

/** Checks a run id can be used as a directory name on a remote machine (it is also a cleanup tag). */
export function validateSshRunId(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(runId)) {
    throw new UserError(`ssh backend: run id ${JSON.stringify(runId)}: expected letters, digits, '.', '_' and '-'`);
  }
  return runId;
}

/**
 * Checks the remote root. Teardown and cleanup delete below it, so it must be an absolute, normalized path
 * at least two levels deep (never "/", "/var" or "/home").
 */
export function validateRemoteRoot(remoteRoot: string): string {
  const normalized = path.posix.normalize(remoteRoot).replace(/\/+$/, '');
  if (!remoteRoot.startsWith('/') || normalized !== remoteRoot.replace(/\/+$/, '') || normalized.split('/').length < 3 || /[\s'"$`\\]/.test(remoteRoot)) {
    throw new UserError(
      `ssh backend: remote root ${JSON.stringify(remoteRoot)}: expected an absolute path at least two levels deep, without spaces or quotes (e.g. ${DEFAULT_REMOTE_ROOT})`,
    );
  }
  return normalized;
}

/** Expands a leading `~/` as a shell would: spec files give paths the shell never saw. */
export function expandHome(file: string): string {
  return file === '~' ? os.homedir() : file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
}

/** The known_hosts files to read: the given ones (each must exist), or OpenSSH's defaults that exist. */
export function knownHostsFilesFor(givenFiles: readonly string[] | undefined): string[] {
  const given = givenFiles?.map(expandHome);
  if (given && given.length > 0) {
    for (const file of given) {
      if (!existsSync(file)) throw new UserError(`${file}: known_hosts file not found (given with --ssh-known-hosts)`);
    }
    return [...given];
  }
  return [path.join(os.homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'].filter((file) => existsSync(file));
}

/** Reads and checks the private key, so a wrong path or an encrypted key fails before any connection. */
export function loadPrivateKey(options: Pick<SshBackendOptions, 'privateKeyPath' | 'passphrase'>, agentPresent: boolean): Buffer | undefined {
  let keyPath = options.privateKeyPath === undefined ? undefined : expandHome(options.privateKeyPath);
  if (!keyPath) {
    // With an agent, let it offer its keys; otherwise use OpenSSH's default identity files, in its order.
    if (agentPresent) return undefined;
    keyPath = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => path.join(os.homedir(), '.ssh', name)).find((file) => existsSync(file));
    if (!keyPath) {
      throw new UserError('ssh backend: no private key: pass --ssh-key PATH, start ssh-agent, or create ~/.ssh/id_ed25519');
    }
  }
  let key: Buffer;
  try {
    key = readFileSync(keyPath);
  } catch (error) {
    throw new UserError(`${keyPath}: cannot read the private key (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const parsed = ssh2.utils.parseKey(key, options.passphrase);
  if (parsed instanceof Error) {
    const hint = /encrypted|passphrase/i.test(parsed.message) ? ' (load it into ssh-agent, or pass its passphrase)' : '';
    throw new UserError(`${keyPath}: not a usable private key: ${parsed.message}${hint}`);
  }
  return key;
}

/** The agent socket to use, or undefined. */
export function agentSocketFor(agent: SshBackendOptions['agent']): string | undefined {
  if (typeof agent === 'string') {
    agent = expandHome(agent);
    if (!existsSync(agent)) throw new UserError(`${agent}: ssh-agent socket not found (given with --ssh-agent)`);
    return agent;
  }
  const fromEnvironment = process.env.SSH_AUTH_SOCK;
  if (agent === true) {
    if (!fromEnvironment) throw new UserError('ssh backend: --ssh-agent given but SSH_AUTH_SOCK is not set: start ssh-agent first');
    return fromEnvironment;
  }
  if (agent === false) return undefined;
  return fromEnvironment && existsSync(fromEnvironment) ? fromEnvironment : undefined;
}

/**
 * Options from flags or a spec file, keyed as commander names them (camelCase of --ssh-user and so on) or
 * as in a spec file (ssh-user). `source` names where they came from, for error messages.
 */
export function sshOptionsFromRecord(
  record: Record<string, unknown>,
  base: { runId: string; onEvent?: SshConnectionListener },
  source = 'flags',
): SshBackendOptions {
  const get = (...names: string[]): unknown => {
    for (const name of names) {
      if (record[name] !== undefined) return record[name];
      const camel = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
      if (record[camel] !== undefined) return record[camel];
    }
    return undefined;
  };
  const bad = (field: string, expected: string, value: unknown): never => {
    throw new UserError(`${source}: ${field}: expected ${expected}, got ${JSON.stringify(value)}`);
  };
  const stringOf = (field: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') bad(field, 'a non-empty string', value);
    return value as string;
  };
  const booleanOf = (field: string, value: unknown): boolean | undefined => {
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'yes') return true;
    if (value === 'false' || value === 'no') return false;
    return bad(field, 'true or false', value);
  };
  const volumeOf = (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    const size = Number(value);
    if (!Number.isInteger(size) || size < 0 || size > 1_048_576) return bad('ssh-tmpfs-mb', 'an integer number of MiB from 0 (no tmpfs) to 1048576', value);
    return size;
  };
  const hostsValue = get('hosts', 'nodes');
  const hosts = Array.isArray(hostsValue)
    ? hostsValue
    : typeof hostsValue === 'string'
      ? hostsValue.split(',').map((host) => host.trim()).filter((host) => host !== '')
      : bad('nodes', 'a comma-separated list of hosts for --backend ssh', hostsValue);
  if (hosts.length === 0 || hosts.some((host) => typeof host !== 'string')) bad('nodes', 'a list of hosts', hostsValue);
  for (const host of hosts as string[]) parseSshHost(host);

  const portValue = get('ssh-port', 'port');
  let port: number | undefined;
  if (portValue !== undefined) {
    port = Number(portValue);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) bad('ssh-port', 'a port from 1 to 65535', portValue);
  }
  const sudoValue = get('sudo');
  const sudo = sudoValue === 'auto' ? 'auto' : booleanOf('sudo', sudoValue);
  const agentValue = get('ssh-agent', 'agent');
  const agent = typeof agentValue === 'string' && !['true', 'false', 'yes', 'no'].includes(agentValue) ? agentValue : booleanOf('ssh-agent', agentValue);
  const knownHostsValue = get('ssh-known-hosts', 'known-hosts', 'known-hosts-files');
  const knownHostsFiles = Array.isArray(knownHostsValue)
    ? knownHostsValue.map((file) => stringOf('ssh-known-hosts', file) as string)
    : typeof knownHostsValue === 'string'
      ? knownHostsValue.split(',').filter((file) => file !== '')
      : knownHostsValue === undefined
        ? undefined
        : bad('ssh-known-hosts', 'a file path', knownHostsValue);

  return {
    runId: base.runId,
    hosts: hosts as string[],
    user: stringOf('ssh-user', get('ssh-user', 'user')),
    privateKeyPath: stringOf('ssh-key', get('ssh-key', 'private-key', 'private-key-path')),
    passphrase: stringOf('ssh-passphrase', get('ssh-passphrase', 'passphrase')),
    port,
    sudo,
    agent,
    strictHostKeyChecking: booleanOf('ssh-strict', get('ssh-strict', 'strict', 'strict-host-key-checking')),
    knownHostsFiles,
    remoteRoot: stringOf('ssh-root', get('ssh-root', 'remote-root')),
    dataVolumeMb: volumeOf(get('ssh-tmpfs-mb', 'data-volume-mb')),
    onEvent: base.onEvent,
  };
}
