// Where nodes live: network namespaces on this host, Docker containers, or machines over SSH.
// Everything that touches a node (targets, nemeses) goes through this interface, with argv arrays.

export interface Node {
  /** Short, stable name: n1, n2, ... */
  name: string;
  /** Address the controller and the other nodes reach this node at (an IP or hostname). */
  host: string;
  /** Working directory on the node's own filesystem: data, logs, pid files live below it. */
  dir: string;
  /**
   * libfaketime timestamp file on the node. A process started with `faketimeEnv(node)` reads its clock
   * offset from here on every call; the clock nemesis rewrites it. See src/clock.ts.
   */
  clockFile: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command and reject past this; every exec has a bound. Default 30 s. */
  timeoutMs?: number;
  /** Resolve with a non-zero exitCode instead of rejecting. */
  allowFailure?: boolean;
  /** Written to the command's standard input. */
  stdin?: string | Buffer;
  env?: Record<string, string>;
}

export interface DaemonOptions {
  /** File on the node that receives stdout and stderr (appended). */
  logFile: string;
  /** File on the node the daemon's pid is written to; used by kill/pause and by cleanup. */
  pidFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

export type BackendName = 'local' | 'docker' | 'ssh';

/**
 * Something that happened to a backend's connections (ssh: a connection lost, a retry, giving up). The
 * runner appends these to nemesis.jsonl, so a fault whose healing needed a retry shows it.
 */
export interface BackendEvent {
  type: string;
  node?: string;
  /** Wall-clock time, milliseconds since the epoch. */
  timeMs: number;
  [detail: string]: unknown;
}

export interface Backend {
  readonly name: BackendName;
  /** The run's id; every resource the backend creates carries it so `faultline cleanup` finds leftovers. */
  readonly runId: string;
  provision(count: number): Promise<Node[]>;
  /** Runs argv on the node (inside its network namespace / container / machine) and waits for it. */
  exec(node: Node, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Starts a long-running process on the node, detached from the controller (it survives a controller
   * crash, so cleanup must find it by its pid file). Resolves with its pid once started.
   */
  startDaemon(node: Node, argv: readonly string[], options: DaemonOptions): Promise<number>;
  upload(node: Node, localPath: string, remotePath: string): Promise<void>;
  download(node: Node, remotePath: string, localPath: string): Promise<void>;
  writeFile(node: Node, remotePath: string, content: string | Buffer): Promise<void>;
  /** Removes every node, network and rule this backend created for the run. Idempotent. */
  teardown(): Promise<void>;
  /**
   * Optional: what the run's output and report must tell the user (ssh: host keys accepted without
   * verification under --ssh-strict=false). Read after provision; it may grow while the run reconnects.
   */
  readonly warnings?: readonly string[];
  /** Optional: subscribes to connection events (see BackendEvent); returns the unsubscribe function. */
  onEvent?(listener: (event: BackendEvent) => void): () => void;
}
