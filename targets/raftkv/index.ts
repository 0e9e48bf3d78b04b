// The raftkv target for Faultline: RaftkvDb runs the bundled server on each node through the Backend, and
// RaftkvClient speaks the register, set, list-append and counter ops over HTTP keep-alive.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import { faketimeEnv } from '../../src/clock.js';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Target, WorkloadName } from '../../src/target.js';
import type { TestContext } from '../../src/test-context.js';
import { RaftkvHttpClient, RaftkvRequestError, type RaftkvResponse } from './http-client.js';
import { installServer, uploadedServerDirectory, type InstalledServer } from './install.js';
import { bugSwitches, type BugSwitch } from './server.js';
import { invokeBank, invokeLock, invokeQueue, LockClientState } from './commands/clients.js';

export { RaftkvHttpClient, RaftkvRequestError } from './http-client.js';
export { bugSwitches, type BugSwitch } from './server.js';
export { installServer, raftkvServerClosure, stageServer, type InstalledServer, type ServerClosure } from './install.js';

export const RAFTKV_DEFAULT_PORT = 7700;
const pollIntervalMs = 200;

export interface RaftkvDbOptions {
  /**
   * Node binary on the node. Default: this controller's own (process.execPath) when the node has that path,
   * else `node` from the node's PATH.
   */
  nodeBinary?: string;
  /**
   * The compiled server on the node. Default: <repo>/dist/targets/raftkv/server.js when the node has it
   * (local, docker), else a copy of its compiled import closure uploaded into <node.dir>/raftkv-server (ssh).
   */
  serverPath?: string;
  /** Port every node listens on (at its own host). */
  port?: number;
  bug?: BugSwitch;
  /** Extra server flags, e.g. ['--snapshot-threshold', '100']. */
  serverArguments?: string[];
  /** Bound on waiting for a node to answer, and for the cluster to elect a leader. */
  startTimeoutMs?: number;
  /** Run the server under libfaketime so the clock nemesis can skew it. Default true. */
  faketime?: boolean;
}

export interface RaftkvClientOptions {
  port?: number;
  /** Bound on one operation; past it the op completes as info. Default 6000 (above the server's 5000). */
  operationTimeoutMs?: number;
}

export function defaultServerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromDist = here.includes(join('dist', 'targets', 'raftkv'));
  return fromDist ? join(here, 'server.js') : resolve(here, '..', '..', 'dist', 'targets', 'raftkv', 'server.js');
}

function sleep(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms));
}

/** Paths below the node's working directory: data survives kill/start; teardown removes them all. */
export function raftkvPaths(node: Node): { directory: string; dataDirectory: string; logFile: string; pidFile: string } {
  const directory = `${node.dir}/raftkv`;
  return { directory, dataDirectory: `${directory}/data`, logFile: `${directory}/raftkv.log`, pidFile: `${directory}/raftkv.pid` };
}

/** The server's argv on `node` for a cluster of `nodes`. */
export function raftkvArgv(node: Node, nodes: readonly Node[], options: RaftkvDbOptions = {}): string[] {
  const port = options.port ?? RAFTKV_DEFAULT_PORT;
  const argv = [
    options.nodeBinary ?? process.execPath,
    options.serverPath ?? defaultServerPath(),
    '--id', node.name,
    '--listen', `${node.host}:${port}`,
    '--peers', nodes.map((peer) => `${peer.name}=${peer.host}:${port}`).join(','),
    '--data', raftkvPaths(node).dataDirectory,
  ];
  if (options.bug) argv.push('--bug', options.bug);
  argv.push(...(options.serverArguments ?? []));
  return argv;
}

export class RaftkvDb implements Db {
  readonly clockSkewable = true;
  private readonly started = new Set<string>();
  /** Per node, how the server is run there (decided in setup: it may have been uploaded). */
  private readonly installed = new Map<string, InstalledServer>();
  private readonly statusClients = new Map<string, RaftkvHttpClient>();

  constructor(private readonly options: RaftkvDbOptions = {}) {
    if (options.bug !== undefined && !(bugSwitches as readonly string[]).includes(options.bug)) {
      throw new Error(`raftkv: bug must be one of ${bugSwitches.join(', ')}, got ${String(options.bug)}`);
    }
  }

  private get startTimeoutMs(): number {
    return this.options.startTimeoutMs ?? 30_000;
  }

  private statusClient(node: Node): RaftkvHttpClient {
    let client = this.statusClients.get(node.name);
    if (!client) this.statusClients.set(node.name, (client = new RaftkvHttpClient(node.host, this.options.port ?? RAFTKV_DEFAULT_PORT, { maxSockets: 2 })));
    return client;
  }

  private async pid(test: TestContext, node: Node): Promise<number | undefined> {
    const result = await test.backend.exec(node, ['cat', raftkvPaths(node).pidFile], { allowFailure: true });
    const pid = Number.parseInt(result.stdout.trim(), 10);
    return result.exitCode === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  private async alive(test: TestContext, node: Node, pid: number): Promise<boolean> {
    const result = await test.backend.exec(node, ['kill', '-0', String(pid)], { allowFailure: true });
    if (result.exitCode !== 0) return false;
    // A zombie still answers kill -0; its state in /proc tells it apart (and a process reaped meanwhile is gone).
    const state = await test.backend.exec(node, ['cat', `/proc/${pid}/stat`], { allowFailure: true });
    return state.exitCode === 0 && !/^\d+ \(.*\) Z/.test(state.stdout);
  }

  async setup(test: TestContext, node: Node): Promise<void> {
    const paths = raftkvPaths(node);
    await test.backend.exec(node, ['rm', '-rf', paths.directory]);
    await test.backend.exec(node, ['mkdir', '-p', paths.dataDirectory]);
    this.installed.set(node.name, await this.install(test, node));
    await this.start(test, node);
    this.started.add(node.name);
    // One node cannot elect a leader alone: the last node to start waits for the whole cluster.
    if (test.nodes.every((peer) => this.started.has(peer.name))) await this.waitForLeader(test);
  }

  private install(test: TestContext, node: Node): Promise<InstalledServer> {
    return installServer(test, node, {
      serverPath: this.options.serverPath ?? defaultServerPath(),
      serverPathGiven: this.options.serverPath !== undefined,
      nodeBinary: this.options.nodeBinary,
    });
  }

  async start(test: TestContext, node: Node): Promise<void> {
    const paths = raftkvPaths(node);
    const existing = await this.pid(test, node);
    if (existing !== undefined && (await this.alive(test, node, existing))) return;
    // faketimeEnv leaves the monotonic clock alone, so skew moves only the lease's wall clock, never the
    // election and heartbeat timers.
    const env = this.options.faketime === false ? undefined : faketimeEnv(node);
    let installed = this.installed.get(node.name);
    if (!installed) this.installed.set(node.name, (installed = await this.install(test, node)));
    const argv = raftkvArgv(node, test.nodes, { ...this.options, nodeBinary: installed.nodeBinary, serverPath: installed.serverPath });
    await test.backend.startDaemon(node, argv, { logFile: paths.logFile, pidFile: paths.pidFile, env, cwd: paths.directory });
    await this.waitForAnswer(test, node);
  }

  /** Waits until the node's HTTP endpoint answers /status, or fails with the tail of its log. */
  private async waitForAnswer(test: TestContext, node: Node): Promise<void> {
    const deadline = performance.now() + this.startTimeoutMs;
    const attempts = Math.ceil(this.startTimeoutMs / pollIntervalMs);
    for (let attempt = 0; attempt < attempts && performance.now() < deadline; attempt++) {
      try {
        await this.statusClient(node).status(1000);
        return;
      } catch {
        const pid = await this.pid(test, node);
        if (pid !== undefined && !(await this.alive(test, node, pid))) break;
      }
      await sleep(pollIntervalMs);
    }
    const log = await test.backend.exec(node, ['tail', '-n', '5', raftkvPaths(node).logFile], { allowFailure: true });
    throw new Error(`raftkv on ${node.name} did not answer within ${this.startTimeoutMs} ms: ${log.stdout.trim().split('\n').slice(-3).join(' | ')}`);
  }

  /** Waits until every node reports the same leader in the same term. */
  async waitForLeader(test: TestContext): Promise<string> {
    const deadline = performance.now() + this.startTimeoutMs;
    const attempts = Math.ceil(this.startTimeoutMs / pollIntervalMs);
    let last = '';
    for (let attempt = 0; attempt < attempts && performance.now() < deadline; attempt++) {
      const statuses = await Promise.all(test.nodes.map((node) => this.statusClient(node).status(1000).catch(() => null)));
      const leader = statuses.find((status) => status?.role === 'leader');
      if (leader && statuses.every((status) => status !== null && status.leader === leader.id && status.term === leader.term)) return leader.id as string;
      last = statuses.map((status, index) => `${test.nodes[index].name}:${status ? `${String(status.role)}/term ${String(status.term)}` : 'no answer'}`).join(' ');
      await sleep(pollIntervalMs);
    }
    throw new Error(`raftkv cluster elected no agreed leader within ${this.startTimeoutMs} ms: ${last}`);
  }

  async teardown(test: TestContext, node: Node): Promise<void> {
    const pid = await this.pid(test, node);
    if (pid !== undefined) {
      await test.backend.exec(node, ['kill', '-CONT', String(pid)], { allowFailure: true });
      await test.backend.exec(node, ['kill', '-KILL', String(pid)], { allowFailure: true });
      await this.waitForExit(test, node, pid);
    }
    await test.backend.exec(node, ['rm', '-rf', raftkvPaths(node).directory], { allowFailure: true });
    if (this.installed.get(node.name)?.uploaded) await test.backend.exec(node, ['rm', '-rf', uploadedServerDirectory(node)], { allowFailure: true });
    this.installed.delete(node.name);
    this.started.delete(node.name);
    this.statusClients.get(node.name)?.close();
    this.statusClients.delete(node.name);
  }

  async kill(test: TestContext, node: Node): Promise<void> {
    const pid = await this.pid(test, node);
    if (pid === undefined) return;
    await test.backend.exec(node, ['kill', '-KILL', String(pid)], { allowFailure: true });
    await this.waitForExit(test, node, pid);
  }

  private async waitForExit(test: TestContext, node: Node, pid: number): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (!(await this.alive(test, node, pid))) return;
      await sleep(100);
    }
  }

  async pause(test: TestContext, node: Node): Promise<void> {
    const pid = await this.pid(test, node);
    if (pid !== undefined) await test.backend.exec(node, ['kill', '-STOP', String(pid)], { allowFailure: true });
  }

  async resume(test: TestContext, node: Node): Promise<void> {
    const pid = await this.pid(test, node);
    if (pid !== undefined) await test.backend.exec(node, ['kill', '-CONT', String(pid)], { allowFailure: true });
  }

  logFiles(_test: TestContext, node: Node): string[] {
    return [raftkvPaths(node).logFile];
  }

  async dataFiles(test: TestContext, node: Node): Promise<string[]> {
    const { dataDirectory } = raftkvPaths(node);
    const listing = await test.backend.exec(node, ['ls', '-1', dataDirectory], { allowFailure: true });
    return listing.stdout
      .split('\n')
      .map((name) => name.trim())
      .filter((name) => name === 'wal.log' || name === 'snapshot.json')
      .map((name) => `${dataDirectory}/${name}`);
  }

  async primaries(test: TestContext): Promise<string[]> {
    const statuses = await Promise.all(test.nodes.map((node) => this.statusClient(node).status(1000).catch(() => null)));
    return test.nodes.filter((_node, index) => statuses[index]?.role === 'leader').map((node) => node.name);
  }
}

type Completion = (type: Op['type'], value: unknown, error?: string) => Op;

/** Whether a failed request certainly had no effect: only then may a write complete as fail. */
function definiteFailure(response: RaftkvResponse): boolean {
  return response.body.definite === true;
}

function errorText(response: RaftkvResponse): string {
  return `${response.status} ${String(response.body.error ?? 'error')}`;
}

export class RaftkvClient implements Client {
  private http: RaftkvHttpClient | null = null;
  /** lock workload: the lease this client holds, if any (a fresh client, after an info, holds none). */
  private readonly lockState = new LockClientState();
  private readonly owner = `client-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    private readonly workload: WorkloadName,
    private readonly options: RaftkvClientOptions = {},
  ) {}

  private get timeoutMs(): number {
    return this.options.operationTimeoutMs ?? 6000;
  }

  async open(_test: TestContext, node: Node): Promise<Client> {
    const client = new RaftkvClient(this.workload, this.options);
    client.http = new RaftkvHttpClient(node.host, this.options.port ?? RAFTKV_DEFAULT_PORT, { maxSockets: 1 });
    return client;
  }

  async close(_test: TestContext): Promise<void> {
    this.http?.close();
    this.http = null;
  }

  async invoke(_test: TestContext, op: Op): Promise<Op> {
    const completion: Completion = (type, value, error) => ({ ...op, type, value, ...(error === undefined ? {} : { error }) });
    const http = this.http;
    if (!http) return completion('fail', op.value, 'client not open');
    // Reads change nothing, so any failed read certainly "did not happen": fail, never info.
    const isTransactional = this.workload === 'list-append' || this.workload === 'rw-register';
    const isRead = op.f === 'read' || (isTransactional && Array.isArray(op.value) && (op.value as unknown[][]).every((micro) => micro[0] === 'r'));
    try {
      switch (this.workload) {
        case 'register':
          return await this.invokeRegister(http, op, completion, isRead);
        case 'set':
          return await this.invokeSet(http, op, completion, isRead);
        case 'list-append':
          return await this.invokeListAppend(http, op, completion, isRead);
        case 'rw-register':
          return await this.invokeReadWriteRegister(http, op, completion, isRead);
        case 'counter':
          return await this.invokeCounter(http, op, completion, isRead);
        case 'bank':
          return await invokeBank(http, op, completion, (response) => this.failed(response, op, completion, isRead), this.timeoutMs);
        case 'queue':
          return await invokeQueue(http, op, completion, (response) => this.failed(response, op, completion, isRead), this.timeoutMs);
        case 'lock':
          return await invokeLock(http, op, this.lockState, completion, (response) => this.failed(response, op, completion, isRead), this.timeoutMs, this.owner);
        default:
          return completion('fail', op.value, `raftkv client does not speak workload ${this.workload}`);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const definite = error instanceof RaftkvRequestError && error.definite;
      return completion(isRead || definite ? 'fail' : 'info', op.value, message);
    }
  }

  private failed(response: RaftkvResponse, op: Op, completion: Completion, isRead: boolean): Op {
    return completion(isRead || definiteFailure(response) ? 'fail' : 'info', op.value, errorText(response));
  }

  private async invokeRegister(http: RaftkvHttpClient, op: Op, completion: Completion, isRead: boolean): Promise<Op> {
    const key = `register-${String(op.key ?? 'default')}`;
    switch (op.f) {
      case 'read': {
        const response = await http.request('GET', `/kv/${encodeURIComponent(key)}`, undefined, this.timeoutMs);
        return response.status === 200 ? completion('ok', response.body.value ?? null) : this.failed(response, op, completion, isRead);
      }
      case 'write': {
        const response = await http.request('PUT', `/kv/${encodeURIComponent(key)}`, { value: op.value }, this.timeoutMs);
        return response.status === 200 ? completion('ok', op.value) : this.failed(response, op, completion, isRead);
      }
      case 'cas': {
        if (!Array.isArray(op.value) || op.value.length !== 2) return completion('fail', op.value, 'cas expects [expected, new]');
        const [expected, next] = op.value as [unknown, unknown];
        const response = await http.request('POST', '/cas', { key, expected, value: next }, this.timeoutMs);
        if (response.status === 200) return completion('ok', op.value);
        if (response.status === 409) return completion('fail', op.value, 'value differed');
        return this.failed(response, op, completion, isRead);
      }
      default:
        return completion('fail', op.value, `unknown register function ${op.f}`);
    }
  }

  private async invokeSet(http: RaftkvHttpClient, op: Op, completion: Completion, isRead: boolean): Promise<Op> {
    const key = `set-${String(op.key ?? 'default')}`;
    switch (op.f) {
      case 'add': {
        // The set is one list: an add appends its element in a transaction (atomic, exactly where committed).
        const response = await http.request('POST', '/txn', { ops: [['append', key, op.value]] }, this.timeoutMs);
        return response.status === 200 ? completion('ok', op.value) : this.failed(response, op, completion, isRead);
      }
      case 'read': {
        const response = await http.request('GET', `/kv/${encodeURIComponent(key)}`, undefined, this.timeoutMs);
        if (response.status !== 200) return this.failed(response, op, completion, isRead);
        const list = Array.isArray(response.body.value) ? (response.body.value as number[]) : [];
        return completion('ok', [...list].sort((a, b) => a - b));
      }
      default:
        return completion('fail', op.value, `unknown set function ${op.f}`);
    }
  }

  /** Jepsen's counter: add {value: delta} -> ok; read {value: null} -> ok {value: the sum, 0 when never added}. */
  private async invokeCounter(http: RaftkvHttpClient, op: Op, completion: Completion, isRead: boolean): Promise<Op> {
    const key = `counter-${String(op.key ?? 'default')}`;
    switch (op.f) {
      case 'add': {
        if (typeof op.value !== 'number') return completion('fail', op.value, 'add expects a number');
        const response = await http.request('POST', '/txn', { ops: [['add', key, op.value]] }, this.timeoutMs);
        return response.status === 200 ? completion('ok', op.value) : this.failed(response, op, completion, isRead);
      }
      case 'read': {
        const response = await http.request('GET', `/kv/${encodeURIComponent(key)}`, undefined, this.timeoutMs);
        return response.status === 200 ? completion('ok', response.body.value ?? 0) : this.failed(response, op, completion, isRead);
      }
      default:
        return completion('fail', op.value, `unknown counter function ${op.f}`);
    }
  }

  /** Elle's rw-register: op.value is [[f, key, value], ...] with f 'w' or 'r'; reads come back with the value or null. */
  private async invokeReadWriteRegister(http: RaftkvHttpClient, op: Op, completion: Completion, isRead: boolean): Promise<Op> {
    if (op.f !== 'txn' || !Array.isArray(op.value)) return completion('fail', op.value, 'rw-register expects f "txn" with [[f, key, value], ...]');
    const micros = op.value as Array<[string, unknown, unknown]>;
    const ops = micros.map(([f, key, value]) => [f === 'w' ? 'w' : 'r', `rw-${String(key)}`, f === 'w' ? value : null]);
    const response = await http.request('POST', '/txn', { ops }, this.timeoutMs);
    if (response.status !== 200) return this.failed(response, op, completion, isRead);
    const results = response.body.results as Array<[string, string, unknown]>;
    return completion('ok', micros.map(([f, key, value], index) => (f === 'w' ? [f, key, value] : [f, key, results[index][2] ?? null])));
  }

  /** Elle's list-append: op.value is [[f, key, value], ...] with f 'append' or 'r'; reads come back filled. */
  private async invokeListAppend(http: RaftkvHttpClient, op: Op, completion: Completion, isRead: boolean): Promise<Op> {
    if (op.f !== 'txn' || !Array.isArray(op.value)) return completion('fail', op.value, 'list-append expects f "txn" with [[f, key, value], ...]');
    const micros = op.value as Array<[string, unknown, unknown]>;
    const ops = micros.map(([f, key, value]) => [f === 'append' ? 'append' : 'r', `list-${String(key)}`, f === 'append' ? value : null]);
    const response = await http.request('POST', '/txn', { ops }, this.timeoutMs);
    if (response.status !== 200) return this.failed(response, op, completion, isRead);
    const results = response.body.results as Array<[string, string, unknown]>;
    return completion(
      'ok',
      micros.map(([f, key, value], index) => (f === 'append' ? [f, key, value] : [f, key, results[index][2] ?? []])),
    );
  }
}

function numberOption(options: Record<string, unknown>, name: string): number | undefined {
  const value = options[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringOption(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export const raftkvTarget: Target = {
  name: 'raftkv',
  workloads: ['register', 'set', 'list-append', 'rw-register', 'counter', 'bank', 'queue', 'lock'],
  db(options: Record<string, unknown>): Db {
    const serverArguments = Array.isArray(options.serverArguments) ? options.serverArguments.map(String) : undefined;
    return new RaftkvDb({
      nodeBinary: stringOption(options, 'nodeBinary'),
      serverPath: stringOption(options, 'serverPath'),
      port: numberOption(options, 'port'),
      bug: stringOption(options, 'bug') as BugSwitch | undefined,
      serverArguments,
      startTimeoutMs: numberOption(options, 'startTimeoutMs'),
      faketime: options.faketime === false ? false : undefined,
    });
  },
  client(workload: WorkloadName, options: Record<string, unknown>): Client {
    if (!raftkvTarget.workloads.includes(workload)) {
      throw new Error(`raftkv target: workload ${workload} is not supported (supported: ${raftkvTarget.workloads.join(', ')})`);
    }
    return new RaftkvClient(workload, { port: numberOption(options, 'port'), operationTimeoutMs: numberOption(options, 'operationTimeoutMs') });
  },
};
