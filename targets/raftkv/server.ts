// The raftkv server process: drives the Raft core with real time, a TCP transport and the WAL, and serves
// clients over HTTP/1.1 + JSON. `node dist/targets/raftkv/server.js --id n1 --listen H:P --peers ... --data D`.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { RaftNode, type Entry, type Message, type Ready, type Role } from './raft.js';
import { KeyValueStateMachine, validateCommand, type Command, type CommandResult, type JsonValue, type StateMachineImage } from './state-machine.js';
import { PeerTransport } from './transport.js';
import { proposeSplitTransaction } from './txn.js';
import { extensionRoutes, lockStateKey, stampWallClock } from './commands/index.js';
import { LeaseKeeper } from './commands/lease-keeper.js';
import { recover, StorageCorruptionError, WriteAheadLog, type Recovery } from './wal.js';

export const bugSwitches = ['stale-read', 'lazy-fsync', 'forget-vote', 'lease-read', 'split-txn', 'lock-wall-clock'] as const;
export type BugSwitch = (typeof bugSwitches)[number];

export interface ServerOptions {
  id: string;
  listen: { host: string; port: number };
  peers: Map<string, { host: string; port: number }>;
  dataDirectory: string;
  bug: BugSwitch | null;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  /** Applied entries since the last snapshot that trigger a new one. */
  snapshotThreshold: number;
  requestTimeoutMs: number;
  /**
   * Holds every message from a peer this long before handling it: a slow network between the nodes, for
   * tests on a kernel without tc netem (0, the default, handles messages at once). Order is kept.
   */
  peerDelayMs: number;
  /** PreVote (on by default): an optional Raft extension; off runs the paper's plain elections. */
  preVote: boolean;
  /** Where log lines go (stdout in the process). */
  log: (line: string) => void;
}

export const serverUsage =
  'usage: server.js --id ID --listen HOST:PORT --peers ID=HOST:PORT,... --data DIR [--bug stale-read|lazy-fsync|forget-vote|lease-read|split-txn|lock-wall-clock] ' +
  '[--tick-ms 50] [--election-ticks 20] [--heartbeat-ticks 2] [--snapshot-threshold 10000] [--request-timeout-ms 5000] [--peer-delay-ms 0] [--pre-vote on|off]';

function parseAddress(text: string, what: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`${what}: expected HOST:PORT, got "${text}"`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parsePositiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer, got "${text}"`);
  return value;
}

/** Parses the server's flags; throws an Error whose message is one line naming the bad flag. */
export function parseServerArguments(argv: readonly string[], log: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): ServerOptions {
  const flags = new Map<string, string>();
  for (let position = 0; position < argv.length; position++) {
    const flag = argv[position];
    if (!flag.startsWith('--')) throw new Error(`unexpected argument "${flag}"; ${serverUsage}`);
    const value = argv[position + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag}: missing value`);
    flags.set(flag.slice(2), value);
    position++;
  }
  const known = ['id', 'listen', 'peers', 'data', 'bug', 'tick-ms', 'election-ticks', 'heartbeat-ticks', 'snapshot-threshold', 'request-timeout-ms', 'peer-delay-ms', 'pre-vote'];
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown flag --${name}; ${serverUsage}`);
  for (const required of ['id', 'listen', 'peers', 'data']) {
    if (!flags.has(required)) throw new Error(`missing --${required}; ${serverUsage}`);
  }
  const id = flags.get('id')!;
  const peers = new Map<string, { host: string; port: number }>();
  for (const part of flags.get('peers')!.split(',')) {
    const equals = part.indexOf('=');
    if (equals <= 0) throw new Error(`--peers: expected ID=HOST:PORT, got "${part}"`);
    peers.set(part.slice(0, equals), parseAddress(part.slice(equals + 1), `--peers ${part.slice(0, equals)}`));
  }
  if (!peers.has(id)) throw new Error(`--peers must include this node's own id "${id}"`);
  const preVote = flags.get('pre-vote') ?? 'on';
  if (preVote !== 'on' && preVote !== 'off') throw new Error(`--pre-vote: expected on or off, got "${preVote}"`);
  const bug = flags.get('bug') ?? null;
  if (bug !== null && !(bugSwitches as readonly string[]).includes(bug)) throw new Error(`--bug: expected one of ${bugSwitches.join(', ')}, got "${bug}"`);
  return {
    id,
    listen: parseAddress(flags.get('listen')!, '--listen'),
    peers,
    dataDirectory: flags.get('data')!,
    bug: bug as BugSwitch | null,
    tickMs: parsePositiveInteger(flags.get('tick-ms'), 'tick-ms', 50),
    electionTicks: parsePositiveInteger(flags.get('election-ticks'), 'election-ticks', 20),
    heartbeatTicks: parsePositiveInteger(flags.get('heartbeat-ticks'), 'heartbeat-ticks', 2),
    snapshotThreshold: parsePositiveInteger(flags.get('snapshot-threshold'), 'snapshot-threshold', 10_000),
    requestTimeoutMs: parsePositiveInteger(flags.get('request-timeout-ms'), 'request-timeout-ms', 5000),
    peerDelayMs: flags.get('peer-delay-ms') === '0' ? 0 : parsePositiveInteger(flags.get('peer-delay-ms'), 'peer-delay-ms', 0),
    preVote: preVote === 'on',
    log,
  };
}

/** An answer that is not a state machine result: `definite` says the request certainly had no effect. */
interface Failure {
  status: number;
  error: string;
  definite: boolean;
  leader?: string | null;
}

type Answer = { status: number; body: Record<string, unknown> };

interface PendingProposal {
  term: number;
  finish: (result: CommandResult | Failure) => void;
}

const bodyBytesMax = 16 * 1024 * 1024;

export interface RunningServer {
  readonly options: ServerOptions;
  readonly address: { host: string; port: number };
  status(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = (text: string) => options.log(`${new Date().toISOString()} ${options.id} ${text}`);
  let recovery: Recovery;
  try {
    recovery = recover(options.dataDirectory);
  } catch (error) {
    // Mid-log or snapshot damage: one line in the node's own log that says where, then a non-zero exit.
    if (error instanceof StorageCorruptionError) log(`fatal: refusing to start: ${error.message}`);
    throw error;
  }
  const persisted = recovery.state;
  const stateMachine = new KeyValueStateMachine();
  const leaseKeeper = new LeaseKeeper(() => stateMachine.get(lockStateKey));
  let fatal: Error | null = null;
  const wal = await WriteAheadLog.open(options.dataDirectory, {
    lazy: options.bug === 'lazy-fsync',
    lazyFlushMs: 1000,
    forgetVote: options.bug === 'forget-vote',
    onError: (error) => {
      // A disk that cannot be written must not be acknowledged past: stop serving at once.
      fatal = error;
      log(`fatal: write-ahead log failed: ${error.message}`);
      process.exitCode = 1;
      void close();
    },
  });
  const raft = new RaftNode(
    {
      id: options.id,
      peers: [...options.peers.keys()],
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: Math.random,
      preVote: options.preVote,
      // The lease-read bug trusts its wall-clock lease for leadership too: it steps down only when the lease
      // runs out by Date.now(), so a clock set back keeps a cut-off leader serving (see the tick below).
      checkQuorumStepDown: options.bug !== 'lease-read',
    },
    persisted,
  );
  log(
    `started: term ${persisted.hardState.term}, snapshot at ${persisted.snapshot?.index ?? 0}, ${persisted.entries.length} log entries recovered` +
      (recovery.discardedBytes > 0 ? `, ${recovery.discardedBytes} bytes of torn WAL tail discarded` : '') +
      (options.bug ? `, BUG SWITCH ${options.bug} ON` : ''),
  );

  const pendingProposals = new Map<number, PendingProposal>();
  const pendingReads = new Map<number, (failure: Failure | null) => void>();
  /** Reads confirmed by ReadIndex, waiting for the state machine to reach their index. */
  let readsWaitingForApply: Array<{ index: number; serve: (failure: Failure | null) => void }> = [];
  let nextReadContext = 1;
  let snapshotInProgress = false;
  let loggedRole: Role = raft.role;
  let loggedTerm = raft.term;
  let loggedLeader: string | null = raft.leader;
  // Wall-clock lease, used only by the lease-read bug: heartbeats' send times by sequence.
  const heartbeatSentAtWallMs = new Map<number, number>();
  let leaseUntilWallMs = 0;
  let leaderSinceWallMs = 0;
  const leaseMs = options.electionTicks * options.tickMs;
  let closed = false;

  const handlePeerMessage = (message: Message): void => {
    if (closed || fatal) return;
    raft.step(message);
    if (options.bug === 'lease-read' && message.type === 'heartbeat-response') {
      const acked = raft.quorumAckedSequence();
      const sentAt = heartbeatSentAtWallMs.get(acked);
      if (sentAt !== undefined) {
        leaseUntilWallMs = Math.max(leaseUntilWallMs, sentAt + leaseMs);
        for (const sequence of heartbeatSentAtWallMs.keys()) if (sequence <= acked) heartbeatSentAtWallMs.delete(sequence);
      }
    }
    scheduleReady();
  };
  const transport = new PeerTransport(options.id, options.peers, (message: Message) => {
    // Timers of one duration fire in the order they were set, so a delayed stream stays in order.
    if (options.peerDelayMs > 0) setTimeout(handlePeerMessage, options.peerDelayMs, message);
    else handlePeerMessage(message);
  });

  let readyScheduled = false;
  function scheduleReady(): void {
    if (readyScheduled || closed) return;
    readyScheduled = true;
    // setImmediate: everything that arrived in this I/O turn joins one Ready, one WAL write, one fsync.
    setImmediate(processReady);
  }

  function processReady(): void {
    readyScheduled = false;
    if (closed || fatal) return;
    let rounds = 0;
    while (raft.hasReady() && rounds++ < 1000) handleReady(raft.takeReady());
    logTransitions();
    maybeSnapshot();
  }

  function handleReady(ready: Ready): void {
    // A leader's appends and heartbeats leave at once (its own write runs in parallel: the core counts it
    // toward a commit only after markStable). Every other message waits for the write before it.
    const immediate: Message[] = [];
    const messages: Message[] = [];
    for (const message of ready.messages) {
      (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot' ? immediate : messages).push(message);
    }
    for (const message of immediate) transport.send(message);
    transport.flush();
    const lastEntry = ready.entries.length > 0 ? ready.entries[ready.entries.length - 1] : null;
    const send = () => {
      if (closed) return;
      if (lastEntry) {
        raft.markStable(lastEntry.index, lastEntry.term);
        scheduleReady();
      }
      for (const message of messages) transport.send(message);
      transport.flush();
    };
    if (options.bug === 'lease-read') {
      for (const message of immediate) {
        if (message.type === 'heartbeat' && !heartbeatSentAtWallMs.has(message.sequence)) heartbeatSentAtWallMs.set(message.sequence, Date.now());
      }
    }
    if (ready.snapshot) {
      const snapshot = ready.snapshot;
      wal.installSnapshot(snapshot, { term: raft.term, votedFor: raft.votedFor }, () => raft.entries(), () => log(`snapshot installed from leader at index ${snapshot.index}`));
    }
    if (ready.hardState || ready.entries.length > 0) {
      wal.append(ready.hardState, ready.entries, send);
    } else if (messages.length > 0) {
      wal.afterQueued(send);
    }
    if (ready.snapshotToApply) {
      stateMachine.restore(ready.snapshotToApply.data as StateMachineImage | null);
      for (const [index, proposal] of pendingProposals) {
        if (index <= ready.snapshotToApply.index) {
          pendingProposals.delete(index);
          proposal.finish({ status: 504, error: 'outcome-unknown', definite: false });
        }
      }
    }
    for (const entry of ready.committed) applyEntry(entry);
    for (const read of ready.readStates) {
      const serve = pendingReads.get(read.context as number);
      if (!serve) continue;
      pendingReads.delete(read.context as number);
      if (raft.appliedIndex >= read.index) serve(null);
      else readsWaitingForApply.push({ index: read.index, serve });
    }
    for (const context of ready.failedReads) {
      const serve = pendingReads.get(context as number);
      pendingReads.delete(context as number);
      serve?.({ status: 503, error: 'not-leader', definite: true, leader: raft.leader });
    }
    if (readsWaitingForApply.length > 0) {
      const stillWaiting: typeof readsWaitingForApply = [];
      for (const read of readsWaitingForApply) {
        if (raft.appliedIndex >= read.index) read.serve(null);
        else stillWaiting.push(read);
      }
      readsWaitingForApply = stillWaiting;
    }
  }

  function applyEntry(entry: Entry): void {
    const result = entry.data === null ? ({ ok: true } as CommandResult) : stateMachine.apply(entry.data as Command);
    const proposal = pendingProposals.get(entry.index);
    if (!proposal) return;
    pendingProposals.delete(entry.index);
    if (proposal.term === entry.term) proposal.finish(result);
    // Another leader's entry committed at this index: ours can never commit.
    else proposal.finish({ status: 503, error: 'not-committed', definite: true, leader: raft.leader });
  }

  function logTransitions(): void {
    if (raft.role !== loggedRole || raft.term !== loggedTerm || raft.leader !== loggedLeader) {
      const parts: string[] = [];
      if (raft.role !== loggedRole) parts.push(`role ${loggedRole} -> ${raft.role}`);
      if (raft.term !== loggedTerm) parts.push(`term ${loggedTerm} -> ${raft.term}`);
      if (raft.leader !== loggedLeader) parts.push(`leader ${loggedLeader ?? 'none'} -> ${raft.leader ?? 'none'}`);
      log(`${parts.join(', ')} (term ${raft.term}, commit ${raft.commitIndex}, last ${raft.lastIndex})`);
      if (raft.role !== 'leader') leaseUntilWallMs = 0;
      // A new leader's lease starts at its election (for stepping down only: reads wait for a quorum ack).
      if (raft.role === 'leader' && loggedRole !== 'leader') leaderSinceWallMs = Date.now();
      loggedRole = raft.role;
      loggedTerm = raft.term;
      loggedLeader = raft.leader;
    }
  }

  function maybeSnapshot(): void {
    if (snapshotInProgress || raft.appliedIndex - raft.snapshotIndex < options.snapshotThreshold) return;
    const index = raft.appliedIndex;
    raft.compact(index, stateMachine.image());
    snapshotInProgress = true;
    wal.installSnapshot(raft.currentSnapshot(), { term: raft.term, votedFor: raft.votedFor }, () => raft.entries(), () => {
      snapshotInProgress = false;
      log(`snapshot taken at index ${index} (${stateMachine.size} keys)`);
    });
  }

  const tickTimer = setInterval(() => {
    if (closed || fatal) return;
    if (options.bug === 'lease-read' && raft.role === 'leader' && Date.now() > Math.max(leaseUntilWallMs, leaderSinceWallMs + leaseMs) + leaseMs) {
      // CheckQuorum by the wall clock: one more lease length without a quorum ack and the leader steps down.
      raft.stepDown();
    }
    raft.tick();
    // Leases run out on the leader's monotonic clock (never the wall clock a clock nemesis skews).
    for (const expire of leaseKeeper.tick(performance.now(), raft.role === 'leader', raft.term)) void propose(expire);
    scheduleReady();
  }, options.tickMs);

  // ---- client protocol ---------------------------------------------------------------------------

  const forwardAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  function failureAnswer(failure: Failure): Answer {
    return { status: failure.status, body: { ok: false, error: failure.error, definite: failure.definite, leader: failure.leader ?? raft.leader } };
  }

  function resultAnswer(result: CommandResult): Answer {
    if ('extension' in result) return result.ok ? { status: 200, body: { ok: true, value: result.value } } : { status: 422, body: { ok: false, error: result.error, definite: true } };
    if (result.ok) return { status: 200, body: result.results ? { ok: true, results: result.results } : { ok: true } };
    if (result.error === 'cas-mismatch') return { status: 409, body: { ok: false, error: result.error, value: result.value, definite: true } };
    return { status: 422, body: { ok: false, error: result.error, key: result.key, definite: true } };
  }

  function propose(command: Command): Promise<Answer> {
    return new Promise((resolve) => {
      const placed = raft.propose(command);
      if (!placed) {
        resolve(failureAnswer({ status: 503, error: raft.leader ? 'not-leader' : 'no-leader', definite: true }));
        return;
      }
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        pendingProposals.delete(placed.index);
        resolve(failureAnswer({ status: 504, error: 'timeout', definite: false }));
      }, options.requestTimeoutMs);
      pendingProposals.set(placed.index, {
        term: placed.term,
        finish: (result) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve('status' in result ? failureAnswer(result) : resultAnswer(result));
        },
      });
      scheduleReady();
    });
  }

  function localRead(key: string): Answer {
    return { status: 200, body: { ok: true, value: stateMachine.get(key) } };
  }

  function linearizableRead(key: string): Promise<Answer> {
    if (options.bug === 'lease-read' && raft.appliedInCurrentTerm() && Date.now() < leaseUntilWallMs) {
      // The bug: trust a wall-clock lease instead of asking a quorum.
      return Promise.resolve(localRead(key));
    }
    return new Promise((resolve) => {
      const context = nextReadContext++;
      if (!raft.readIndex(context)) {
        resolve(failureAnswer({ status: 503, error: raft.leader ? 'not-leader' : 'no-leader', definite: true }));
        return;
      }
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        pendingReads.delete(context);
        resolve(failureAnswer({ status: 504, error: 'timeout', definite: true }));
      }, options.requestTimeoutMs);
      pendingReads.set(context, (failure) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(failure ? failureAnswer(failure) : localRead(key));
      });
      scheduleReady();
    });
  }

  function forward(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): void {
    const leader = raft.leader ? options.peers.get(raft.leader) : undefined;
    if (!leader) {
      reply(response, failureAnswer({ status: 503, error: 'no-leader', definite: true }));
      return;
    }
    const upstream = http.request(
      {
        host: leader.host,
        port: leader.port,
        method: request.method,
        path: request.url,
        agent: forwardAgent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-raftkv-forwarded': options.id },
        timeout: options.requestTimeoutMs + 1000,
      },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, { 'content-type': 'application/json' });
        upstreamResponse.pipe(response);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('forward timeout')));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      // Refused means the leader never saw the request; anything later may have reached it.
      const definite = error.code === 'ECONNREFUSED';
      reply(response, failureAnswer({ status: 502, error: `forward to ${raft.leader} failed: ${error.code ?? error.message}`, definite }));
    });
    upstream.end(body);
  }

  function reply(response: http.ServerResponse, answer: Answer): void {
    if (response.headersSent || response.destroyed) return;
    const text = JSON.stringify(answer.body);
    response.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  function status(): Record<string, unknown> {
    return {
      id: options.id,
      role: raft.role,
      term: raft.term,
      leader: raft.leader,
      commitIndex: raft.commitIndex,
      appliedIndex: raft.appliedIndex,
      lastIndex: raft.lastIndex,
      snapshotIndex: raft.snapshotIndex,
      bug: options.bug,
      walSyncs: wal.syncs,
      walRecords: wal.recordsWritten,
      // The process's own wall clock: shows a clock nemesis's skew (libfaketime) from outside.
      wallClockMs: Date.now(),
      ...(raft.role === 'leader' ? { progress: raft.progressSummary() } : {}),
    };
  }

  async function route(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://raftkv');
    const method = request.method ?? 'GET';
    if (url.pathname === '/status' && method === 'GET') return reply(response, { status: 200, body: status() });
    let parsed: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return reply(response, { status: 400, body: { ok: false, error: 'body is not JSON', definite: true } });
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return reply(response, { status: 400, body: { ok: false, error: 'body must be a JSON object', definite: true } });
      }
    }
    let command: Command | null = null;
    let readKey: string | null = null;
    const keyMatch = /^\/kv\/(.+)$/.exec(url.pathname);
    const requestId = (parsed.requestId as string | undefined) ?? url.searchParams.get('requestId') ?? undefined;
    if (keyMatch && method === 'GET') readKey = decodeURIComponent(keyMatch[1]);
    else if (keyMatch && method === 'PUT') command = { op: 'put', key: decodeURIComponent(keyMatch[1]), value: parsed.value as JsonValue, requestId };
    else if (keyMatch && method === 'DELETE') command = { op: 'delete', key: decodeURIComponent(keyMatch[1]), requestId };
    else if (url.pathname === '/cas' && method === 'POST') command = { ...(parsed as object), op: 'cas' } as Command;
    else if (url.pathname === '/txn' && method === 'POST') command = { ...(parsed as object), op: 'txn' } as Command;
    else if (method === 'POST' && extensionRoutes.has(url.pathname)) command = { ...(parsed as object), op: extensionRoutes.get(url.pathname)! } as Command;
    else return reply(response, { status: 404, body: { ok: false, error: `no route ${method} ${url.pathname}`, definite: true } });
    if (command) {
      if (requestId === undefined) delete command.requestId;
      const problem = validateCommand(command);
      if (problem) return reply(response, { status: 400, body: { ok: false, error: problem, definite: true } });
    }
    const forwarded = request.headers['x-raftkv-forwarded'] !== undefined;
    if (readKey !== null && options.bug === 'stale-read') return reply(response, localRead(readKey));
    if (raft.role !== 'leader') {
      if (forwarded) return reply(response, failureAnswer({ status: 503, error: 'not-leader', definite: true }));
      return forward(request, body, response);
    }
    // The split-txn bug: the leader proposes a transaction's micro-ops one by one (targets/raftkv/txn.ts).
    if (command?.op === 'txn' && options.bug === 'split-txn') return reply(response, await proposeSplitTransaction(command, propose));
    // The lock-wall-clock bug: the leader stamps lock commands with its (skewable) wall clock (commands/index.ts).
    if (command && options.bug === 'lock-wall-clock') stampWallClock(command, Date.now());
    reply(response, readKey !== null ? await linearizableRead(readKey) : await propose(command!));
  }

  const server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyBytesMax) {
        reply(response, { status: 413, body: { ok: false, error: 'body too large', definite: true } });
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (fatal) return reply(response, { status: 500, body: { ok: false, error: 'storage failed', definite: false } });
      route(request, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), response).catch((error: Error) =>
        reply(response, { status: 500, body: { ok: false, error: error.message, definite: false } }),
      );
    });
  });
  transport.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => resolve());
  });
  log(`listening on ${options.listen.host}:${options.listen.port}, peers ${[...options.peers].map(([id, address]) => `${id}=${address.host}:${address.port}`).join(',')}`);
  scheduleReady();

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    clearInterval(tickTimer);
    transport.close();
    forwardAgent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await wal.close();
  }

  return { options, address: options.listen, status, close };
}

async function main(): Promise<void> {
  let options: ServerOptions;
  try {
    options = parseServerArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`raftkv: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const server = await startServer(options);
  const stop = (signal: string) => {
    options.log(`${new Date().toISOString()} ${options.id} stopping on ${signal}`);
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: Error) => {
    // A corruption refusal is already in the log, with the time and node id; a second copy would only confuse.
    if (!(error instanceof StorageCorruptionError)) process.stderr.write(`raftkv: ${error.message}\n`);
    process.exit(1);
  });
}
