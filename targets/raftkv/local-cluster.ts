// Runs a raftkv cluster as real OS processes on 127.0.0.1 with free ports: for the multi-process tests, the
// benchmark and `faultline raftkv cluster`. Every process it starts it also stops (close() is idempotent).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RaftkvHttpClient } from './http-client.js';

/** The compiled server next to this module (dist/targets/raftkv/server.js when running from dist). */
export function defaultServerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // From sources (vitest) the compiled server lives under dist/; from dist it is a sibling.
  return here.includes(`${join('dist', 'targets', 'raftkv')}`) ? join(here, 'server.js') : resolve(here, '..', '..', 'dist', 'targets', 'raftkv', 'server.js');
}

/**
 * For tests run from sources: builds dist/ with tsc when the compiled server is missing or older than any
 * raftkv source file. tsc still emits when other folders have type errors, so only the output is checked.
 */
export function ensureBuilt(): void {
  const sourceDirectory = dirname(fileURLToPath(import.meta.url));
  const serverPath = defaultServerPath();
  if (sourceDirectory.includes(join('dist', 'targets', 'raftkv'))) return;
  const repositoryRoot = resolve(sourceDirectory, '..', '..');
  const newestSource = Math.max(
    ...readdirSync(sourceDirectory)
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
      .map((name) => statSync(join(sourceDirectory, name)).mtimeMs),
  );
  if (existsSync(serverPath) && statSync(serverPath).mtimeMs >= newestSource) return;
  try {
    execFileSync(process.execPath, [join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repositoryRoot, 'tsconfig.json')], {
      stdio: 'pipe',
      timeout: 240_000,
    });
  } catch {
    // Non-zero exit with errors elsewhere in the repository; the existence check below decides.
  }
  if (!existsSync(serverPath)) throw new Error(`build did not produce ${serverPath}`);
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolvePort(port));
    });
  });
}

export interface LocalClusterOptions {
  nodeCount: number;
  dataRoot: string;
  serverPath?: string;
  /** Extra server flags for every node (e.g. ['--snapshot-threshold', '50']). */
  extraArguments?: string[];
  /** 'files': each node's output to <dataRoot>/<id>.log; 'inherit': to this process's stdout. */
  output?: 'files' | 'inherit';
  /** Node i listens on basePort + i - 1; default: free ports chosen by the kernel. */
  basePort?: number;
}

interface ClusterNode {
  id: string;
  port: number;
  process: ChildProcess | null;
  exited: Promise<void> | null;
  logStream: WriteStream | null;
}

export class LocalCluster {
  readonly nodes: ClusterNode[] = [];
  private readonly clients = new Map<string, RaftkvHttpClient>();

  private constructor(private readonly options: LocalClusterOptions) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    for (let number = 1; number <= options.nodeCount; number++) {
      const port = options.basePort ? options.basePort + number - 1 : await freePort();
      cluster.nodes.push({ id: `n${number}`, port, process: null, exited: null, logStream: null });
    }
    try {
      for (const node of cluster.nodes) cluster.startNode(node.id);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get peersFlag(): string {
    return this.nodes.map((node) => `${node.id}=127.0.0.1:${node.port}`).join(',');
  }

  node(id: string): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  dataDirectory(id: string): string {
    return join(this.options.dataRoot, id);
  }

  client(id: string): RaftkvHttpClient {
    let client = this.clients.get(id);
    if (!client) this.clients.set(id, (client = new RaftkvHttpClient('127.0.0.1', this.node(id).port)));
    return client;
  }

  startNode(id: string, extraArguments: string[] = []): void {
    const node = this.node(id);
    if (node.process) throw new Error(`${id} is already running`);
    mkdirSync(this.options.dataRoot, { recursive: true });
    const argv = [
      this.options.serverPath ?? defaultServerPath(),
      '--id', id,
      '--listen', `127.0.0.1:${node.port}`,
      '--peers', this.peersFlag,
      '--data', this.dataDirectory(id),
      ...(this.options.extraArguments ?? []),
      ...extraArguments,
    ];
    const inherit = this.options.output === 'inherit';
    const child = spawn(process.execPath, argv, { stdio: inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
    if (!inherit) {
      node.logStream ??= createWriteStream(join(this.options.dataRoot, `${id}.log`), { flags: 'a' });
      child.stdout!.pipe(node.logStream, { end: false });
      child.stderr!.pipe(node.logStream, { end: false });
    }
    node.process = child;
    node.exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
    child.once('exit', () => {
      if (node.process === child) node.process = null;
    });
  }

  /** SIGKILL (default) or SIGTERM a node and wait for it to exit. */
  async stopNode(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    if (!child) return;
    const exited = node.exited;
    child.kill(signal);
    await Promise.race([exited, new Promise((resolveWait) => setTimeout(resolveWait, 10_000))]);
    if (node.process === child) {
      child.kill('SIGKILL');
      await exited;
    }
    node.process = null;
  }

  async statuses(): Promise<Array<Record<string, unknown> | null>> {
    return Promise.all(this.nodes.map((node) => (node.process ? this.client(node.id).status(1000).catch(() => null) : Promise.resolve(null))));
  }

  /** Waits (bounded) until one running node leads and every running node agrees on it. Returns its id. */
  async waitForLeader(timeoutMs = 20_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const statuses = (await this.statuses()).filter((status): status is Record<string, unknown> => status !== null);
      const leaders = statuses.filter((status) => status.role === 'leader');
      const running = this.nodes.filter((node) => node.process).length;
      if (leaders.length === 1 && statuses.length === running && statuses.every((status) => status.leader === leaders[0].id && status.term === leaders[0].term)) {
        return leaders[0].id as string;
      }
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify(await this.statuses())}`);
  }

  /** Stops every node (SIGKILL by default; SIGTERM lets each close its files first). */
  async close(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.stopNode(node.id, signal)));
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    for (const node of this.nodes) {
      node.logStream?.end();
      node.logStream = null;
    }
  }
}
