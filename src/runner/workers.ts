// Client and nemesis workers: each asks the one seeded generator for its next op, invokes it with a bound,
// and records both ends. Jepsen's rule lives here: an info completion retires the process id.
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Node } from '../backends/types.js';
import type { Op, Process } from '../history/types.js';
import type { Nemesis } from '../nemesis.js';
import type { TestContext } from '../test-context.js';
import type { Generator, Random, Thread } from '../generator/index.js';
import type { Recorder, TestClock } from './recorder.js';
import { isAnsweredFail } from '../../checkers/availability/index.js';

/**
 * Jepsen's rule: after an info completion the process may still have an op in flight, so it is retired and
 * the thread continues as process + concurrency; ok and fail keep the process.
 */
export function nextProcess(process: number, completionType: Op['type'], concurrency: number): number {
  return completionType === 'info' ? process + concurrency : process;
}

/** Shared by all workers of a run: in-flight count and a way to wake threads waiting on "pending". */
export class Scheduler {
  outstanding = 0;
  private waiters = new Set<() => void>();

  /** Wakes every waiting thread (after any completion). */
  notify(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next completion, after `timeoutMs`, or on abort, whichever comes first. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.waiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      signal.addEventListener('abort', finish, { once: true });
      this.waiters.add(finish);
    });
  }
}

/** Sleeps `ms`, or less when aborted; resolves true when it slept the whole time. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(true), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `action` with a bound; past it (or on a throw) the result is `onTimeout(reason)`. */
export async function withTimeout<T>(action: () => Promise<T>, timeoutMs: number, onFailure: (reason: string) => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => action())();
  // The abandoned promise may still reject later; it must not become an unhandled rejection.
  attempt.catch(() => {});
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onFailure(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([attempt.catch((error: unknown) => onFailure(errorText(error))), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns whatever a client or nemesis returned into a completion type and fields; anything odd is info. */
export function completionOf(result: unknown): { type: 'ok' | 'fail' | 'info'; value: unknown; error?: string; extra: Record<string, unknown> } {
  if (result === null || typeof result !== 'object') return { type: 'info', value: null, error: 'invoke returned no completion', extra: {} };
  const { type, value, error, index: _index, time: _time, process: _process, f: _f, ...extra } = result as Record<string, unknown>;
  if (type !== 'ok' && type !== 'fail' && type !== 'info') {
    return { type: 'info', value: value ?? null, error: `invoke returned completion type ${JSON.stringify(type)}`, extra };
  }
  return { type, value: value === undefined ? null : value, error: typeof error === 'string' ? error : undefined, extra };
}

export interface WorkerEnvironment {
  test: TestContext;
  clock: TestClock;
  recorder: Recorder;
  generator: Generator;
  scheduler: Scheduler;
  threads: readonly Thread[];
  concurrency: number;
  randomFor(thread: Thread): Random;
  /** Aborted on Ctrl-C/SIGTERM: workers stop asking for ops (ops in flight still complete or time out). */
  signal: AbortSignal;
  clientTimeoutMs: number;
  /** Longest a worker sleeps before asking again when told "pending" without a time. */
  pendingPollMs?: number;
  /** Client retries (spec `client-retry`); absent: one attempt per op. */
  clientRetry?: ClientRetry;
  /** The main phase's end (test time, ns): no retry starts after it. */
  retryDeadlineNs?: number;
  /** The main phase's end (test time, ns): a client that cannot open stops trying then. */
  mainPhaseEndNs?: number;
  /** Each thread's own seeded stream for retry jitter (apart from the generator's, so ops replay the same). */
  retryRandomFor?(thread: number): Random;
}

/** How a client thread retries a failed attempt (spec `client-retry`, src/spec/types.ts ClientRetrySpec). */
export interface ClientRetry {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  jitter: number;
  reconnect: boolean;
}

/**
 * The delay before attempt `attempt` (2, 3, ...): backoff doubled per earlier retry, capped, with the jitter fraction
 * of it drawn uniformly from [0, 1) of that fraction ("equal jitter" when jitter is 0.5, "full jitter" at 1).
 */
export function retryDelayMs(retry: ClientRetry, attempt: number, random: Random): number {
  const base = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** Math.max(0, attempt - 2));
  return base * (1 - retry.jitter) + base * retry.jitter * random.next();
}

/** Asks the generator for this thread's next op and waits until it is due; undefined when done or aborted. */
async function nextDueOp(environment: WorkerEnvironment, thread: Thread, process: Process) {
  const { generator, scheduler, clock, signal } = environment;
  const pollMs = environment.pendingPollMs ?? 100;
  // Each turn either returns or sleeps; the generator's time limit and the abort signal end the loop.
  while (!signal.aborted) {
    const next = generator.next({
      timeNs: clock.nowNs(),
      thread,
      process,
      threads: environment.threads,
      concurrency: environment.concurrency,
      random: environment.randomFor(thread),
      outstanding: scheduler.outstanding,
    });
    if (next.type === 'done') return undefined;
    if (next.type === 'pending') {
      const untilMs = next.untilNs === undefined ? pollMs : Math.min(pollMs, (next.untilNs - clock.nowNs()) / 1e6);
      await scheduler.wait(untilMs, signal);
      continue;
    }
    // Node's timers may fire up to a millisecond before their delay by the monotonic clock: sleep again
    // (bounded) so an op is never invoked before its time, as the generator promised.
    for (let nap = 0; nap < 5; nap++) {
      const waitMs = (next.atNs - clock.nowNs()) / 1e6;
      if (waitMs <= 0) break;
      if (!(await sleep(Math.max(1, waitMs), signal))) return undefined;
    }
    return next.op;
  }
  return undefined;
}

/** A client that could not be opened before the attempts, the main phase or the run ran out. */
export class ClientNeverOpened extends Error {}

/**
 * Opens a client for the node, retrying while the node is down; bounded by `attemptsMax`, the main phase's end
 * and the abort signal. Giving up throws ClientNeverOpened with the last error, except on abort (undefined).
 */
export async function openClient(
  environment: WorkerEnvironment,
  prototype: Client,
  node: Node,
  attemptsMax = 1000,
): Promise<Client | undefined> {
  const { clock, mainPhaseEndNs, signal } = environment;
  const remainingMs = () => (mainPhaseEndNs === undefined ? Number.POSITIVE_INFINITY : (mainPhaseEndNs - clock.nowNs()) / 1e6);
  let lastError = 'no attempt made';
  for (let attempt = 0; attempt < attemptsMax && !signal.aborted && (attempt === 0 || remainingMs() > 0); attempt++) {
    try {
      return await withTimeout(() => prototype.open(environment.test, node), environment.clientTimeoutMs, (reason) => {
        throw new Error(reason);
      });
    } catch (error) {
      lastError = errorText(error);
      if (attempt === 0) environment.test.log(`client for ${node.name}: open failed (${lastError}); retrying`);
      await sleep(Math.max(0, Math.min(1000, 100 * (attempt + 1), remainingMs())), signal);
    }
  }
  if (signal.aborted) return undefined;
  throw new ClientNeverOpened(`client for ${node.name} never opened (${lastError})`);
}

/** Performs one client op on `client` with the client timeout and records both ends; a throw becomes info. */
export async function invokeClientOp(
  environment: WorkerEnvironment,
  client: Client,
  process: number,
  node: Node,
  request: { f: string; value: unknown; [extra: string]: unknown },
): Promise<Op> {
  const { recorder, scheduler, test, clientTimeoutMs } = environment;
  const invoke = recorder.invoke(process, { ...request, node: node.name });
  scheduler.outstanding++;
  try {
    const result = await withTimeout<unknown>(() => client.invoke(test, invoke), clientTimeoutMs, (reason) => ({ type: 'info', value: null, error: reason }));
    const completion = completionOf(result);
    return recorder.complete(invoke, completion.type, { ...completion.extra, value: completion.value, ...(completion.error ? { error: completion.error } : {}), node: node.name });
  } finally {
    scheduler.outstanding--;
    scheduler.notify();
  }
}

/**
 * One client thread: process ids thread, thread + concurrency, ... (a new one after every info, with a fresh
 * client, since the old connection may still carry the op that timed out). Returns the last process id used.
 */
export async function runClientWorker(environment: WorkerEnvironment, thread: number, node: Node, prototype: Client): Promise<number> {
  let process = thread;
  let client = await openClient(environment, prototype, node);
  const retry = environment.clientRetry;
  let requestId = 0;
  try {
    // Bounded by the generator (time limit) and the abort signal; each request by retry.attempts.
    while (client) {
      const request = await nextDueOp(environment, thread, process);
      if (!request) break;
      requestId++;
      // A retry re-invokes the same op (never a new one from the generator), so a seed replays the same ops.
      for (let attempt = 1; client; attempt++) {
        const fields = retry ? { ...request, request: requestId, attempt } : request;
        const completion = await invokeClientOp(environment, client, process, node, fields);
        const next = nextProcess(process, completion.type, environment.concurrency);
        // A cas whose value differed was answered: a client would not send it again.
        const failed = completion.type !== 'ok' && !isAnsweredFail(completion);
        const retrying = retry !== undefined && failed && attempt < retry.attempts && mayRetry(environment);
        // After an info the old connection may still carry the op: a fresh process and client (Jepsen's rule).
        // A reconnecting client also starts over after a fail; all threads failing at once make a reconnect herd.
        if (next !== process || (retry?.reconnect === true && failed)) {
          process = next;
          const retired = client;
          void withTimeout(() => retired.close(environment.test), 1000, () => undefined);
          client = await reopenClient(environment, prototype, node);
        }
        if (!retrying) break;
        const random = environment.retryRandomFor?.(thread);
        const delayMs = random ? retryDelayMs(retry, attempt + 1, random) : Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** (attempt - 1));
        if (!(await sleep(delayMs, environment.signal)) || !mayRetry(environment)) break;
      }
    }
  } finally {
    if (client) {
      const last = client;
      await withTimeout(() => last.close(environment.test), 1000, () => undefined);
    }
  }
  return process;
}

/**
 * Reopens after an info or a reconnect. A node down until the main phase ends stops the thread without an error:
 * its earlier ops are all in the history, and the clients of the other nodes go on (only a first open that never
 * succeeds leaves a thread with no ops at all, and counts as a dead worker).
 */
async function reopenClient(environment: WorkerEnvironment, prototype: Client, node: Node): Promise<Client | undefined> {
  try {
    return await openClient(environment, prototype, node);
  } catch (error) {
    if (!(error instanceof ClientNeverOpened)) throw error;
    environment.test.log(`faultline: ${error.message}; that client thread stops`);
    return undefined;
  }
}

/** A retry may start: not aborted and still inside the main phase. */
function mayRetry(environment: WorkerEnvironment): boolean {
  if (environment.signal.aborted) return false;
  return environment.retryDeadlineNs === undefined || environment.clock.nowNs() < environment.retryDeadlineNs;
}

/** Faults currently in force, by fault name, with the op that heals each (for the progress line and the final heal). */
export type ActiveFaults = Map<string, { f: string; value: unknown }>;

/** Longest wait, after a nemesis op timed out, for the commands it had already started (each has its own bound). */
export const nemesisCancelGraceMs = 60_000;

/** Backend calls a nemesis (or the Db acting for it) makes; each is refused once the op is cancelled. */
const cancellableBackendCalls = new Set(['exec', 'startDaemon', 'upload', 'download', 'writeFile']);

/**
 * The test as one nemesis op sees it: its backend refuses every new command once `signal` is aborted and
 * tracks the commands in flight, so a timed-out op can be stopped and waited for before anything heals.
 */
export function cancellableTest(test: TestContext, signal: AbortSignal): { test: TestContext; inFlight: Set<Promise<unknown>> } {
  const inFlight = new Set<Promise<unknown>>();
  if (!test.backend) return { test, inFlight };
  const backend = new Proxy(test.backend, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !cancellableBackendCalls.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (signal.aborted) return Promise.reject(new Error('nemesis op cancelled after its timeout'));
        const call = Promise.resolve((value as (...callArgs: unknown[]) => unknown).apply(target, args));
        inFlight.add(call);
        const forget = () => inFlight.delete(call);
        call.then(forget, forget);
        return call;
      };
    },
  });
  return { test: { ...test, backend }, inFlight };
}

/**
 * Runs one nemesis op with a bound. Past the bound the op is cancelled: its backend refuses new commands and
 * the commands already started are awaited (bounded), so a late command cannot re-apply a fault after a heal.
 */
async function invokeCancellable(
  test: TestContext,
  nemesis: Nemesis,
  db: Db,
  invoke: Op,
  nemesisTimeoutMs: number,
): Promise<unknown> {
  const cancellation = new AbortController();
  const scoped = cancellableTest(test, cancellation.signal);
  const attempt = (async () => nemesis.invoke(scoped.test, db, invoke))().then(
    (result): unknown => result,
    (error: unknown): unknown => ({ type: 'info', value: null, error: errorText(error) }),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), nemesisTimeoutMs);
  });
  try {
    const first = await Promise.race([attempt, deadline]);
    if (first !== 'timed out') return first;
  } finally {
    clearTimeout(timer);
  }
  cancellation.abort();
  // Bounded: every backend command has its own timeout, and the grace caps the wait in any case.
  const settled = await withTimeout(async () => {
    await Promise.allSettled([attempt, ...scoped.inFlight]);
    return true;
  }, nemesisCancelGraceMs, () => false);
  const note = settled ? 'cancelled' : `cancelled; commands still running after ${nemesisCancelGraceMs} ms`;
  return { type: 'info', value: null, error: `timed out after ${nemesisTimeoutMs} ms; ${note}`, cancelled: true };
}

/**
 * Performs one nemesis op with a bound, records it (history and nemesis.jsonl) and tracks active faults. A
 * stop that errs leaves its fault active and is recorded with `healed: false`: a heal that errs is not a heal.
 */
export async function invokeNemesisOp(
  environment: WorkerEnvironment,
  nemesis: Nemesis,
  db: Db,
  request: { f: string; value: unknown; [extra: string]: unknown },
  active: ActiveFaults,
  healOpFor: (fault: string) => { f: string; value: unknown } | undefined,
  nemesisTimeoutMs: number,
): Promise<Op> {
  const { recorder, test } = environment;
  const invoke = recorder.invoke('nemesis', request);
  const fault = typeof request.fault === 'string' ? request.fault : undefined;
  // Marked active before the op runs: if it half-happens and then fails, the final heal still covers it.
  if (fault && request.action === 'start') {
    const heal = healOpFor(fault);
    if (heal) active.set(fault, heal);
  }
  const result = await invokeCancellable(test, nemesis, db, invoke, nemesisTimeoutMs);
  const completion = completionOf(result);
  // Nemeses complete a fault they carried out as info with what they did (Jepsen's habit); an error says otherwise.
  const succeeded = completion.type !== 'fail' && completion.error === undefined;
  const unhealed = fault !== undefined && request.action === 'stop' && !succeeded;
  const op = recorder.complete(invoke, completion.type, {
    ...completion.extra,
    value: completion.value,
    ...(completion.error ? { error: completion.error } : {}),
    ...(unhealed ? { healed: false } : {}),
  });
  if (fault && request.action === 'stop' && succeeded) active.delete(fault);
  if (fault && request.action === 'start' && completion.type === 'fail') active.delete(fault);
  if (!succeeded) test.log(`nemesis ${request.f}: ${completion.type}${completion.error ? ` (${completion.error})` : ''}${unhealed ? `; ${fault} is not healed` : ''}`);
  return op;
}

/** The nemesis thread: takes scheduled fault ops from the generator until it is done or aborted. */
export async function runNemesisWorker(
  environment: WorkerEnvironment,
  nemesis: Nemesis,
  db: Db,
  active: ActiveFaults,
  healOpFor: (fault: string) => { f: string; value: unknown } | undefined,
  nemesisTimeoutMs: number,
): Promise<void> {
  // Bounded by the schedule's length, the time limit and the abort signal.
  for (;;) {
    const request = await nextDueOp(environment, 'nemesis', 'nemesis');
    if (!request) return;
    await invokeNemesisOp(environment, nemesis, db, request, active, healOpFor, nemesisTimeoutMs);
  }
}
