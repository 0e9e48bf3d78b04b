// A node's SSH connections: a few reused connections carrying many channels, reconnecting with bounded retries.
// ssh2 is CommonJS: Node's ESM loader offers only its default export (named imports work in vitest alone).
import ssh2, { type Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import { UserError } from '../../errors.js';
import { hostKeyAlgorithmsFor, hostKeyFingerprint, blobKeyType, verifyHostKey, type KnownHostEntry } from './known-hosts.js';

/**
 * What happened to a node's connections; the runner appends these to nemesis.jsonl. A type alias (not an
 * interface) so it is assignable to the contract's BackendEvent, whose index signature takes extra fields.
 */
export type SshConnectionEvent = {
  type: 'ssh-connected' | 'ssh-connect-failed' | 'ssh-connection-lost' | 'ssh-retry' | 'ssh-gave-up';
  node: string;
  host: string;
  port: number;
  /** Wall-clock time of the event, milliseconds since the epoch. */
  timeMs: number;
  /** 1-based attempt that failed or is about to be made. */
  attempt?: number;
  attemptsMax?: number;
  delayMs?: number;
  error?: string;
  /** The command being run when the event happened, shortened. */
  command?: string;
};

export type SshConnectionListener = (event: SshConnectionEvent) => void;

export interface SshEndpoint {
  node: string;
  host: string;
  port: number;
}

export interface HostKeyPolicy {
  /** false: accept any key and warn; true: only keys listed for the host in `entries`. */
  strict: boolean;
  entries: readonly KnownHostEntry[];
  /** Files the entries came from, named in errors so a user knows where to look. */
  files: readonly string[];
  /** Receives one warning per host whose key was accepted without verification. */
  warn(message: string): void;
}

export interface SshConnectSettings {
  username: string;
  privateKey?: Buffer;
  passphrase?: string;
  /** Path of ssh-agent's socket. */
  agent?: string;
  hostKey: HostKeyPolicy;
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export interface SshPoolLimits {
  connectionsMax: number;
  /** Below sshd's MaxSessions (10 by default), so opening a channel is never refused for that. */
  channelsPerConnectionMax: number;
  /** Attempts per connection (first try included) before a connect error is final. */
  connectAttemptsMax: number;
  /** Attempts per command when the connection is lost underneath it. */
  commandAttemptsMax: number;
  retryDelayMsInitial: number;
  retryDelayMsMax: number;
  /** Bound on how long a command waits for a free channel. */
  channelWaitMsMax: number;
}

/** The node's key is not the one known_hosts lists (or it is revoked, or unknown while checking is strict). */
export class SshHostKeyError extends UserError {
  override readonly name = 'SshHostKeyError';
}

/** The server refused every authentication method offered (key, agent). */
export class SshAuthenticationError extends UserError {
  override readonly name = 'SshAuthenticationError';
}

/** The connection went away before the command reported an exit status: it may or may not have run. */
export class SshConnectionLostError extends Error {
  override readonly name = 'SshConnectionLostError';
}

/** Every connect attempt to the node failed (refused, unreachable, timed out): final, not retried again. */
export class SshUnreachableError extends Error {
  override readonly name = 'SshUnreachableError';
}

/** The command ran past its timeout and was killed. */
export class SshCommandTimeoutError extends Error {
  override readonly name = 'SshCommandTimeoutError';
}

export interface RawCommandResult {
  /** null when the command ended by a signal. */
  exitCode: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** Output beyond this is dropped (and marked) so a runaway command cannot exhaust the controller's memory. */
const outputBytesMax = 64 * 1024 * 1024;
/** After a timeout, how long the channel may take to close once the remote side has been told to kill. */
const killGraceMs = 2_000;

interface PooledConnection {
  client: Client;
  ready: Promise<void>;
  state: 'connecting' | 'ready' | 'closed';
  channels: number;
  /** Set when we close it ourselves, so the close is not reported as a loss. */
  closing: boolean;
}

/** Connections to one node. All waits are bounded; `close()` ends every connection. */
export class NodeConnectionPool {
  private connections: PooledConnection[] = [];
  private channelsInUse = 0;
  private readonly waiters: Array<() => void> = [];
  private closed = false;
  private hostKeyChecked = false;

  constructor(
    readonly endpoint: SshEndpoint,
    private readonly settings: SshConnectSettings,
    private readonly limits: SshPoolLimits,
    private readonly emit: SshConnectionListener,
  ) {}

  /**
   * Runs a command line, retrying on a lost connection up to commandAttemptsMax times; each loss and retry
   * is reported. A timeout or an authentication or host-key failure is never retried.
   */
  async run(command: string, options: { stdin?: string | Buffer; timeoutMs: number }): Promise<RawCommandResult> {
    return this.withRetries(command, (connection) => runOnConnection(connection.client, command, options));
  }

  /** Runs SFTP work on a fresh SFTP session, retried like a command when the connection is lost. */
  async sftp<T>(description: string, work: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    return this.withRetries(description, (connection) => withSftp(connection.client, work));
  }

  /** Ends every connection; later calls fail. */
  close(): void {
    this.closed = true;
    for (const connection of this.connections) {
      connection.closing = true;
      connection.client.end();
    }
    this.connections = [];
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async withRetries<T>(command: string, attempt: (connection: PooledConnection) => Promise<T>): Promise<T> {
    const attemptsMax = this.limits.commandAttemptsMax;
    const shortCommand = command.length > 200 ? `${command.slice(0, 200)}...` : command;
    for (let attemptNumber = 1; ; attemptNumber++) {
      let lease: PooledConnection | undefined;
      try {
        lease = await this.acquire();
        return await attempt(lease);
      } catch (error) {
        // Give the channel back before any backoff, so waiting to retry does not hold capacity.
        if (lease) this.release(lease);
        lease = undefined;
        const retryable = error instanceof SshConnectionLostError || isChannelOpenFailure(error);
        if (!retryable || this.closed) throw error;
        const message = errorMessage(error);
        if (attemptNumber >= attemptsMax) {
          this.emit(this.event('ssh-gave-up', { attempt: attemptNumber, attemptsMax, error: message, command: shortCommand }));
          throw new SshConnectionLostError(
            `ssh ${this.describe()}: gave up after ${attemptNumber} attempts: ${message} (command: ${shortCommand})`,
          );
        }
        const delayMs = this.retryDelay(attemptNumber);
        this.emit(this.event('ssh-retry', { attempt: attemptNumber + 1, attemptsMax, delayMs, error: message, command: shortCommand }));
        await sleep(delayMs);
      } finally {
        if (lease) this.release(lease);
      }
    }
  }

  /** Reserves a channel on a ready connection, opening one if needed (bounded wait for a free channel). */
  private async acquire(): Promise<PooledConnection> {
    if (this.closed) throw new Error(`ssh ${this.describe()}: the backend was torn down`);
    const capacity = this.limits.connectionsMax * this.limits.channelsPerConnectionMax;
    const deadline = Date.now() + this.limits.channelWaitMsMax;
    while (this.channelsInUse >= capacity) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`ssh ${this.describe()}: no free channel within ${this.limits.channelWaitMsMax} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        // A waiter that timed out leaves the queue, so it cannot swallow a wake meant for a live one.
        const timer = setTimeout(() => {
          const index = this.waiters.indexOf(wake);
          if (index >= 0) this.waiters.splice(index, 1);
          resolve();
        }, remainingMs);
        this.waiters.push(wake);
      });
      if (this.closed) throw new Error(`ssh ${this.describe()}: the backend was torn down`);
    }
    this.channelsInUse++;
    const connection = this.pickConnection();
    connection.channels++;
    try {
      await connection.ready;
      return connection;
    } catch (error) {
      this.release(connection);
      throw error;
    }
  }

  private release(connection: PooledConnection): void {
    connection.channels--;
    this.channelsInUse--;
    this.waiters.shift()?.();
  }

  private pickConnection(): PooledConnection {
    this.connections = this.connections.filter((connection) => connection.state !== 'closed');
    let best: PooledConnection | undefined;
    for (const connection of this.connections) {
      if (connection.channels >= this.limits.channelsPerConnectionMax) continue;
      if (!best || connection.channels < best.channels) best = connection;
    }
    // Spread load over a second connection only once the first is busy; one idle connection is enough.
    if (!best || (best.channels > 0 && this.connections.length < this.limits.connectionsMax)) {
      best = this.openConnection();
      this.connections.push(best);
    }
    return best;
  }

  private openConnection(): PooledConnection {
    const connection: PooledConnection = {
      client: new ssh2.Client(),
      ready: Promise.resolve(),
      state: 'connecting',
      channels: 0,
      closing: false,
    };
    connection.ready = this.connectWithRetries(connection);
    // A failed connect is reported to whoever awaits `ready`; this keeps Node from calling it unhandled.
    connection.ready.catch(() => undefined);
    return connection;
  }

  private async connectWithRetries(connection: PooledConnection): Promise<void> {
    const attemptsMax = this.limits.connectAttemptsMax;
    for (let attemptNumber = 1; ; attemptNumber++) {
      try {
        await this.connectOnce(connection);
        // Torn down while the handshake ran: close() missed this client; the catch below ends it.
        if (this.closed) {
          connection.closing = true;
          throw new Error('torn down');
        }
        this.emit(this.event('ssh-connected', { attempt: attemptNumber }));
        return;
      } catch (error) {
        connection.client.end();
        if (this.closed) {
          connection.state = 'closed';
          throw new SshUnreachableError(`ssh ${this.describe()}: the backend was torn down while connecting`);
        }
        const permanent = error instanceof UserError;
        if (permanent || attemptNumber >= attemptsMax) {
          connection.state = 'closed';
          if (!permanent) {
            this.emit(this.event('ssh-gave-up', { attempt: attemptNumber, attemptsMax, error: errorMessage(error) }));
            throw new SshUnreachableError(
              `ssh ${this.describe()}: cannot connect after ${attemptNumber} attempts: ${errorMessage(error)}`,
            );
          }
          throw error;
        }
        const delayMs = this.retryDelay(attemptNumber);
        this.emit(this.event('ssh-connect-failed', { attempt: attemptNumber, attemptsMax, delayMs, error: errorMessage(error) }));
        await sleep(delayMs);
        if (this.closed) {
          connection.state = 'closed';
          throw new SshUnreachableError(`ssh ${this.describe()}: the backend was torn down while connecting`);
        }
        connection.client = new ssh2.Client();
      }
    }
  }

  private connectOnce(connection: PooledConnection): Promise<void> {
    const { host, port } = this.endpoint;
    const policy = this.settings.hostKey;
    let hostKeyRefusal: SshHostKeyError | undefined;
    const config: ConnectConfig = {
      host,
      port,
      username: this.settings.username,
      privateKey: this.settings.privateKey,
      passphrase: this.settings.passphrase,
      agent: this.settings.agent,
      readyTimeout: this.settings.readyTimeoutMs,
      keepaliveInterval: this.settings.keepaliveIntervalMs,
      keepaliveCountMax: this.settings.keepaliveCountMax,
      hostVerifier: (key: Buffer) => {
        hostKeyRefusal = this.checkHostKey(key);
        return hostKeyRefusal === undefined;
      },
    };
    const algorithms = policy.strict ? hostKeyAlgorithmsFor(policy.entries, host, port) : undefined;
    if (algorithms) config.algorithms = { serverHostKey: algorithms as ServerHostKeyAlgorithm[] };
    return new Promise<void>((resolve, reject) => {
      const client = connection.client;
      let settled = false;
      client.once('ready', () => {
        settled = true;
        // Set here, not after the await: a close arriving in between must not be overwritten by 'ready'.
        connection.state = 'ready';
        client.once('close', () => {
          const wasOpen = connection.state === 'ready';
          connection.state = 'closed';
          if (wasOpen && !connection.closing) {
            this.emit(this.event('ssh-connection-lost', { error: 'connection closed' }));
          }
        });
        resolve();
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (settled) return;
        settled = true;
        if (hostKeyRefusal) reject(hostKeyRefusal);
        else if (error.level === 'client-authentication') {
          reject(
            new SshAuthenticationError(
              `ssh ${this.describe()}: authentication as ${JSON.stringify(this.settings.username)} failed ` +
                `(offered: ${this.offeredMethods()}); check --ssh-user, --ssh-key and the node's authorized_keys`,
            ),
          );
        } else if (/passphrase|privateKey|Cannot parse privateKey/i.test(error.message)) {
          reject(new UserError(`ssh ${this.describe()}: cannot use the private key: ${error.message}`));
        } else reject(error);
      });
      client.once('close', () => {
        if (settled) return;
        settled = true;
        reject(hostKeyRefusal ?? new SshConnectionLostError('connection closed during the handshake'));
      });
      try {
        client.connect(config);
      } catch (error) {
        settled = true;
        // Synchronous throws are configuration errors (an unreadable key, say): retrying cannot help.
        reject(new UserError(`ssh ${this.describe()}: ${errorMessage(error)}`));
      }
    });
  }

  /** undefined when the key is acceptable; otherwise the error explaining the refusal. */
  private checkHostKey(key: Buffer): SshHostKeyError | undefined {
    const { host, port } = this.endpoint;
    const policy = this.settings.hostKey;
    const fingerprint = `${blobKeyType(key) ?? 'unknown-type'} ${hostKeyFingerprint(key)}`;
    const verdict = verifyHostKey(policy.entries, host, port, key);
    if (verdict.verdict === 'match') return undefined;
    if (verdict.verdict === 'revoked') {
      return new SshHostKeyError(
        `${verdict.entry.file}:${verdict.entry.line}: host key ${fingerprint} of ${this.describe()} is marked @revoked; refusing to connect`,
      );
    }
    if (!policy.strict) {
      // Warn once per node: reconnects would otherwise repeat the same line.
      if (!this.hostKeyChecked) {
        const what = verdict.verdict === 'mismatch' ? 'DOES NOT MATCH known_hosts' : 'is not in known_hosts';
        policy.warn(`ssh: host key ${fingerprint} of ${this.describe()} ${what}; accepted without verification (--ssh-strict=false)`);
      }
      this.hostKeyChecked = true;
      return undefined;
    }
    if (verdict.verdict === 'mismatch') {
      const listed = verdict.entries.map((entry) => `${entry.file}:${entry.line}`).join(', ');
      return new SshHostKeyError(
        `${listed}: host key of ${this.describe()} CHANGED: it presented ${fingerprint}, which known_hosts does not list ` +
          `for it; someone may be intercepting the connection, or the machine was reinstalled. If you trust the new key, ` +
          `remove the old one (ssh-keygen -R '${portName(host, port)}') and add the new one`,
      );
    }
    const files = policy.files.length > 0 ? policy.files.join(', ') : '(no known_hosts file found)';
    return new SshHostKeyError(
      `${files}: no host key listed for ${portName(host, port)} (it presented ${fingerprint}); after checking that ` +
        `fingerprint on the machine, add it with: ssh-keyscan -p ${port} ${host} >> ~/.ssh/known_hosts ` +
        `(or pass --ssh-known-hosts FILE; --ssh-strict=false skips the check)`,
    );
  }

  private offeredMethods(): string {
    const methods: string[] = [];
    if (this.settings.privateKey) methods.push('private key');
    if (this.settings.agent) methods.push(`agent ${this.settings.agent}`);
    return methods.length > 0 ? methods.join(', ') : 'nothing';
  }

  private retryDelay(attemptNumber: number): number {
    return Math.min(this.limits.retryDelayMsMax, this.limits.retryDelayMsInitial * 2 ** (attemptNumber - 1));
  }

  private describe(): string {
    return `${this.endpoint.node} (${portName(this.endpoint.host, this.endpoint.port)})`;
  }

  private event(type: SshConnectionEvent['type'], details: Partial<SshConnectionEvent>): SshConnectionEvent {
    const { node, host, port } = this.endpoint;
    return { type, node, host, port, timeMs: Date.now(), ...details };
  }
}

function portName(host: string, port: number): string {
  return port === 22 ? host : `${host}:${port}`;
}

/**
 * Runs one command line on an open connection. Resolves with the exit status; rejects with
 * SshCommandTimeoutError past timeoutMs (after signalling the remote command and closing the channel), or
 * SshConnectionLostError when the channel ends without an exit status.
 */
export function runOnConnection(
  client: Client,
  command: string,
  options: { stdin?: string | Buffer; timeoutMs: number },
): Promise<RawCommandResult> {
  return new Promise<RawCommandResult>((resolve, reject) => {
    let settled = false;
    let channel: ClientChannel | undefined;
    let exitReceived = false;
    let exitCode: number | null = null;
    let signal: string | undefined;
    const stdout = new BoundedOutput();
    const stderr = new BoundedOutput();
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      outcome();
    };
    const timeoutError = () =>
      new SshCommandTimeoutError(`command timed out after ${options.timeoutMs} ms and was killed: ${shorten(command)}`);
    const timeoutTimer = setTimeout(() => {
      if (!channel) {
        finish(() => reject(timeoutError()));
        return;
      }
      // The remote `timeout` wrapper kills the command's process group; the signal request covers servers
      // where it is missing. The grace period lets that happen before we stop waiting.
      try {
        channel.signal('KILL');
      } catch {
        // The channel may already be closing; the close below still ends our wait.
      }
      graceTimer = setTimeout(() => {
        channel?.close();
        finish(() => reject(timeoutError()));
      }, killGraceMs);
    }, options.timeoutMs);
    let channelOpened = false;
    try {
      client.exec(command, (error, openedChannel) => {
        if (error) {
          finish(() => reject(error));
          return;
        }
        channelOpened = true;
        channel = openedChannel;
        if (settled) {
          openedChannel.close();
          return;
        }
        openedChannel.on('data', (chunk: Buffer) => stdout.push(chunk));
        openedChannel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        openedChannel.on('exit', (code: number | null, signalName?: string) => {
          exitReceived = true;
          exitCode = code;
          signal = signalName ?? undefined;
        });
        openedChannel.on('close', () => {
          if (graceTimer !== undefined) {
            finish(() => reject(timeoutError()));
          } else if (exitReceived) {
            finish(() => resolve({ exitCode, signal, stdout: stdout.text(), stderr: stderr.text() }));
          } else {
            finish(() => reject(new SshConnectionLostError(`connection lost while running: ${shorten(command)}`)));
          }
        });
        openedChannel.on('error', () => undefined);
        if (options.stdin !== undefined) openedChannel.end(options.stdin);
        else openedChannel.end();
      });
    } catch (error) {
      // ssh2 throws synchronously when the connection is no longer up.
      finish(() => reject(channelOpened ? error : new SshConnectionLostError(errorMessage(error))));
    }
  });
}

async function withSftp<T>(client: Client, work: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
    try {
      client.sftp((error, opened) => (error ? reject(error) : resolve(opened)));
    } catch (error) {
      reject(new SshConnectionLostError(errorMessage(error)));
    }
  });
  let lost = false;
  const onClose = () => {
    lost = true;
  };
  sftp.once('close', onClose);
  try {
    return await work(sftp);
  } catch (error) {
    // SFTP reports a dropped connection as a generic failure; name it so the pool retries.
    if (lost) throw new SshConnectionLostError(`connection lost during SFTP: ${errorMessage(error)}`);
    throw error;
  } finally {
    sftp.off('close', onClose);
    sftp.end();
  }
}

class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private dropped = 0;
  push(chunk: Buffer): void {
    if (this.bytes + chunk.length > outputBytesMax) {
      this.dropped += chunk.length;
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `${text}\n[faultline: ${this.dropped} more bytes dropped]` : text;
  }
}

function isChannelOpenFailure(error: unknown): boolean {
  // sshd refuses channels past MaxSessions, and ssh2 reports a connection that went down as "Not connected"
  // or "No response from server": all are safe to retry because nothing ran.
  return error instanceof Error && /Channel open failure|Not connected|No response from server|Unable to start subsystem/i.test(error.message);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function shorten(command: string): string {
  return command.length > 200 ? `${command.slice(0, 200)}...` : command;
}

function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}
