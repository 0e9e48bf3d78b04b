// Public API of the linearizability checker: split a history into independent keys, search each, merge.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { History, Key, Op } from '../../src/history/types.js';
import type { Checker, CheckResult, Validity } from '../types.js';
import { mergeValidity } from '../types.js';
import { prepareKey, searchKey, type Counterexample, type PreparedKey, type KeyInput, type KeyOp, type KeySearchResult, type SearchLimits, type SearchStrategy } from './engine.js';
import { getModel, type Model } from './models.js';

export type { Counterexample, CounterexampleOp } from './engine.js';
export { canonicalJson, getModel, modelNames, type Model, type ModelOp, type ModelOptions } from './models.js';

export interface LinearizableOptions {
  model: string | Model;
  initial?: unknown;
  nilReadsAny?: boolean;
  /** Search budget; past it the key's verdict is 'unknown', never wrong. Default: none. */
  timeoutMs?: number;
  /** Worker threads for independent keys; 0 = in this thread; default: min(cores, keys) when it pays. */
  workers?: number;
  /** Cap on configurations kept at once (a memory bound); past it the key is 'unknown'. Default 200000. */
  maxConfigurations?: number;
  /**
   * Stop at the first invalid key (as Porcupine does): it is still explained, the keys not yet searched
   * are 'unknown' with a reason saying so, and the verdict is invalid all the same.
   */
  firstViolation?: boolean;
}

export interface KeyResult {
  key: Key;
  valid: Validity;
  ops: number;
  counterexample?: Counterexample;
  reason?: string;
  /** Largest number of configurations the search held at once for this key. */
  peakConfigurations?: number;
  /** An internal error of the checker (the key's verdict is then 'unknown', never a guess). */
  error?: string;
}

export interface LinearizableResult extends CheckResult {
  valid: Validity;
  model: string;
  keys: KeyResult[];
  opCount: number;
  /** Set when some key hit an internal error of the checker: the overall verdict is then 'unknown'. */
  error?: string;
  /** What the user should hear about, e.g. worker threads that failed (the check then ran in this thread). */
  warnings?: string[];
}

/** Counts what the worker threads did in this process, so a test can prove the threads really ran. */
export const workerStatistics = { batchesChecked: 0 };

/** The reason of a key left unsearched by `firstViolation`. */
export const NOT_SEARCHED_AFTER_VIOLATION = 'not searched: stopped at the first invalid key (--first-violation)';

/** Merges the keys' verdicts; an internal error on any key makes the whole verdict 'unknown', with the error. */
export function mergeKeyResults(model: string, keys: KeyResult[], opCount: number, warnings: readonly string[] = []): LinearizableResult {
  let valid: Validity = true;
  for (const key of keys) valid = mergeValidity(valid, key.valid);
  const result: LinearizableResult = { valid, model, keys, opCount };
  const errors = keys.filter((key) => key.error !== undefined);
  if (errors.length > 0) {
    result.valid = 'unknown';
    result.error = `${errors[0].error}${errors.length > 1 ? ` (and ${errors.length - 1} more keys)` : ''}`;
  }
  if (warnings.length > 0) result.warnings = [...warnings];
  return result;
}

const DEFAULT_MAX_CONFIGURATIONS = 200_000;
/** Below this many ops, starting worker threads costs more than it saves. */
const WORKER_MIN_OPS = 50_000;

/**
 * Pairs invocations with completions (by process) and groups them by key, one event at a time: the
 * one implementation behind splitHistory and the file reader's threads, which feed it without
 * building Op objects.
 */
export class KeySplitter {
  private readonly builders = new Map<Key, { input: KeyInput; open: Map<number, number> }>();
  private readonly openBuilders = new Map<number, { input: KeyInput; open: Map<number, number> }>();

  invoke(process: number, key: Key, f: string, value: unknown, index: number): void {
    let builder = this.builders.get(key);
    if (!builder) this.builders.set(key, (builder = { input: { key, ops: [], events: [] }, open: new Map() }));
    const id = builder.input.ops.length;
    builder.input.ops.push({ f, process, invokeValue: value, completionValue: null, outcome: 'info', invokeIndex: index, completionIndex: -1 });
    builder.input.events.push(id + 1);
    builder.open.set(process, id);
    this.openBuilders.set(process, builder);
  }

  complete(process: number, type: 'ok' | 'fail' | 'info', value: unknown, index: number): void {
    const builder = this.openBuilders.get(process);
    if (!builder) return;
    this.openBuilders.delete(process);
    const id = builder.open.get(process)!;
    builder.open.delete(process);
    const entry = builder.input.ops[id];
    entry.completionValue = value;
    entry.completionIndex = index;
    entry.outcome = type;
    if (type === 'ok') builder.input.events.push(-(id + 1));
  }

  /** The inputs, in the order their keys were first invoked. */
  inputs(): KeyInput[] {
    return [...this.builders.values()].map((builder) => builder.input);
  }
}

/** Splits a history into one input per independent key (and per model partition), in first-seen order. */
export function splitHistory(history: History, model: Model): KeyInput[] {
  if (model.partition) return splitPartitioned(history, model);
  // One pass, reading each op once: on big histories the reads of the ops dominate.
  const splitter = new KeySplitter();
  for (let position = 0; position < history.length; position++) {
    const op = history[position];
    const process = op.process;
    if (typeof process !== 'number') continue;
    const index = typeof op.index === 'number' ? op.index : position;
    if (op.type === 'invoke') splitter.invoke(process, op.key ?? null, op.f, op.value ?? null, index);
    else splitter.complete(process, op.type === 'ok' ? 'ok' : op.type === 'fail' ? 'fail' : 'info', op.value ?? null, index);
  }
  return splitter.inputs();
}

function splitPartitioned(history: History, model: Model): KeyInput[] {
  const groups = new Map<Key, Op[]>();
  const positions = new Map<Op, number>();
  const openKeys = new Map<number, Key>();
  for (let position = 0; position < history.length; position++) {
    const op = history[position];
    if (typeof op.process !== 'number') continue;
    let key: Key;
    if (op.type === 'invoke') {
      key = op.key ?? null;
      openKeys.set(op.process, key);
    } else {
      key = openKeys.has(op.process) ? openKeys.get(op.process)! : (op.key ?? null);
      openKeys.delete(op.process);
    }
    if (typeof op.index !== 'number') positions.set(op, position);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(op);
  }
  const inputs: KeyInput[] = [];
  for (const [key, ops] of groups) {
    for (const part of model.partition!(ops)) inputs.push(buildKeyInput(key, part, positions));
  }
  return inputs;
}

function buildKeyInput(key: Key, history: readonly Op[], positions: Map<Op, number>): KeyInput {
  const ops: KeyOp[] = [];
  const events: number[] = [];
  const open = new Map<number, number>();
  for (const op of history) {
    const process = op.process as number;
    const index = typeof op.index === 'number' ? op.index : (positions.get(op) ?? -1);
    if (op.type === 'invoke') {
      const id = ops.length;
      ops.push({ f: op.f, process, invokeValue: op.value ?? null, completionValue: null, outcome: 'info', invokeIndex: index, completionIndex: -1 });
      open.set(process, id);
      events.push(id + 1);
      continue;
    }
    const id = open.get(process);
    if (id === undefined) continue;
    open.delete(process);
    const entry = ops[id];
    entry.completionValue = op.value ?? null;
    entry.completionIndex = index;
    entry.outcome = op.type === 'ok' ? 'ok' : op.type === 'fail' ? 'fail' : 'info';
    if (op.type === 'ok') events.push(-(id + 1));
  }
  return { key, ops, events };
}

function resolveModel(options: LinearizableOptions): Model {
  if (typeof options.model !== 'string') return options.model;
  return getModel(options.model, { initial: options.initial, nilReadsAny: options.nilReadsAny });
}

/** Once some key is already invalid, the most a hard key may still take: its verdict cannot change the answer. */
const AFTER_VIOLATION_BUDGET_MS = 40;
/** Search steps per event the first breadth-first try may take (valid histories mostly need 1-5). */
const WORK_PER_EVENT = 8;
const WORK_SLACK = 10_000;

function toKeyResult(result: KeySearchResult): KeyResult {
  const keyResult: KeyResult = { key: result.key, valid: result.valid, ops: result.ops, peakConfigurations: result.peakConfigurations };
  if (result.counterexample) keyResult.counterexample = result.counterexample;
  if (result.reason) keyResult.reason = result.reason;
  return keyResult;
}

/**
 * Checks independent keys: first every key breadth-first, capped in steps (cheap keys finish,
 * violations show early; a key over the cap tries depth-first, also capped, then breadth-first again);
 * then keys that held too many configurations depth-first, sharing the time left; then invalid keys
 * once more, recording paths, to explain them. A key's structures (prepareKey) are built once and
 * shared by its searches; an invalid key is explained at once, while they are at hand, so only one
 * key's structures are alive at a time.
 */
export function checkKeys(
  model: Model,
  inputs: readonly KeyInput[],
  limits: SearchLimits,
  options: { firstViolation?: boolean; violationFlag?: Int32Array } = {},
  search: typeof import('./engine.js').searchKey = searchKey,
): KeyResult[] {
  const searchKey = search;
  // With firstViolation, another thread's violation counts too (a shared flag the threads set).
  const stopped = (): boolean => options.firstViolation === true && options.violationFlag !== undefined && Atomics.load(options.violationFlag, 0) !== 0;
  const noteViolation = (): void => {
    if (options.violationFlag) Atomics.store(options.violationFlag, 0, 1);
  };
  // Breadth-first gives up early, first at a fortieth of the cap (most keys need far less), then at a
  // quarter: past that, depth-first is usually faster.
  const quickLimits = { ...limits, maxConfigurations: Math.max(1, Math.floor(limits.maxConfigurations / 40)) };
  const breadthLimits = { ...limits, maxConfigurations: Math.max(1, Math.floor(limits.maxConfigurations / 4)) };
  const strategies: SearchStrategy[] = inputs.map(() => 'frontier');
  const explained: (KeyResult | undefined)[] = inputs.map(() => undefined);
  const explain = (i: number, result: KeySearchResult, prepared: PreparedKey | undefined): KeyResult => {
    noteViolation();
    const again = searchKey(model, inputs[i], strategies[i] === 'frontier' ? breadthLimits : limits, true, strategies[i], prepared);
    if (again.valid === false) return toKeyResult(again);
    if (again.valid === 'unknown' && again.limit !== undefined) {
      // The violation stands (the first search proved it); only its explanation is missing.
      return toKeyResult({ ...result, reason: `no counterexample: the search to explain the violation stopped (${again.reason ?? again.limit})` });
    }
    // The same search, recording paths, must reach the same verdict: if not, the engine is wrong somewhere,
    // and neither answer can be trusted.
    const error = `internal error: the ${strategies[i]} search found key ${JSON.stringify(inputs[i].key)} not linearizable, but the same search recording paths found it ${again.valid === true ? 'linearizable' : `'${String(again.valid)}' (${again.reason ?? 'no reason'})`}`;
    return { key: result.key, valid: 'unknown', ops: result.ops, peakConfigurations: result.peakConfigurations, reason: error, error };
  };
  const unsearched = (input: KeyInput): KeySearchResult => ({ key: input.key, valid: 'unknown', ops: input.ops.length, reason: NOT_SEARCHED_AFTER_VIOLATION, peakConfigurations: 0 });
  let violated = false;
  const results: KeySearchResult[] = inputs.map((input, i) => {
    if (options.firstViolation && (violated || stopped())) return unsearched(input);
    const prepared = prepareKey(model, input);
    const result = firstSearch(i, input, prepared);
    if (result.valid === false) {
      violated = true;
      explained[i] = explain(i, result, prepared);
    }
    return result;
  });
  function firstSearch(i: number, input: KeyInput, prepared: PreparedKey): KeySearchResult {
    // Breadth-first costs steps in proportion to the configurations times the events; when it takes
    // many more steps than events (few distinct values, many processes), depth-first usually goes
    // straight through. Each try is capped in steps, so a wrong guess costs little; an 'unknown'
    // from a cap is never an answer: the next strategy runs to the end.
    const workCap = WORK_PER_EVENT * input.events.length + WORK_SLACK;
    // The pace is capped too: a key blowing up in its first events moves to depth-first at once,
    // instead of after spending the whole cap.
    const quick = searchKey(model, input, { ...quickLimits, maxWork: workCap, maxWorkPerEvent: WORK_PER_EVENT, workPerEventSlack: WORK_SLACK }, false, 'frontier', prepared);
    if (quick.valid !== 'unknown' || quick.limit !== 'work') return quick;
    const depth = searchKey(model, input, { ...limits, maxWork: workCap }, false, 'depth', prepared);
    if (depth.valid !== 'unknown' || depth.limit === 'time') {
      strategies[i] = 'depth';
      return depth;
    }
    return searchKey(model, input, quickLimits, false, 'frontier', prepared);
  }
  const hard = inputs.map((_, i) => i).filter((i) => results[i].valid === 'unknown' && results[i].limit === 'memory');
  hard.forEach((i, position) => {
    const violated = results.some((result) => result.valid === false);
    if (options.firstViolation && (violated || stopped())) {
      results[i] = unsearched(inputs[i]);
      return;
    }
    const prepared = prepareKey(model, inputs[i]);
    if (!violated) {
      results[i] = searchKey(model, inputs[i], breadthLimits, false, 'frontier', prepared);
      if (results[i].valid !== 'unknown' || results[i].limit !== 'memory') {
        if (results[i].valid === false) explained[i] = explain(i, results[i], prepared);
        return;
      }
    }
    const now = Date.now();
    let deadline = limits.deadline === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : now + Math.max(0, (limits.deadline - now) / (hard.length - position));
    if (violated) deadline = Math.min(deadline, now + AFTER_VIOLATION_BUDGET_MS);
    // Too many configurations at once: depth-first holds fewer, and often goes straight through.
    const depth = searchKey(model, inputs[i], { ...limits, deadline }, false, 'depth', prepared);
    if (depth.valid !== 'unknown') {
      results[i] = depth;
      strategies[i] = 'depth';
      if (depth.valid === false) explained[i] = explain(i, depth, prepared);
    } else if (violated) {
      results[i] = { ...results[i], reason: `${results[i].reason}; not searched further, another key is already invalid` };
    }
  });
  return results.map((result, i) => {
    if (result.valid !== false) return toKeyResult(result);
    return explained[i] ?? explain(i, result, undefined);
  });
}

/** The compiled worker script, when running from dist/ (under vitest on .ts sources there is none). */
function workerScript(): URL | undefined {
  if (!import.meta.url.endsWith('.js')) return undefined;
  const url = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export interface WorkerRequest {
  model: string;
  initial?: unknown;
  nilReadsAny?: boolean;
  limits: SearchLimits;
  inputs: KeyInput[];
  firstViolation?: boolean;
  /** One Int32 the threads set when a key is invalid (a SharedArrayBuffer: every thread sees it). */
  violationFlag?: Int32Array;
}

async function checkInWorkers(options: LinearizableOptions & { model: string }, inputs: KeyInput[], limits: SearchLimits, workerCount: number, script: URL): Promise<KeyResult[]> {
  // Largest keys first, each to the least-loaded worker, so the workers finish together.
  const order = inputs.map((input, position) => ({ input, position })).sort((a, b) => b.input.events.length - a.input.events.length);
  const batches: { positions: number[]; inputs: KeyInput[]; load: number }[] = Array.from({ length: workerCount }, () => ({ positions: [], inputs: [], load: 0 }));
  for (const { input, position } of order) {
    let lightest = batches[0];
    for (const batch of batches) if (batch.load < lightest.load) lightest = batch;
    lightest.positions.push(position);
    lightest.inputs.push(input);
    lightest.load += input.events.length;
  }
  const results: KeyResult[] = new Array(inputs.length);
  const violationFlag = new Int32Array(new SharedArrayBuffer(4));
  await Promise.all(
    batches
      .filter((batch) => batch.inputs.length > 0)
      .map(
        (batch) =>
          new Promise<void>((resolve, reject) => {
            const request: WorkerRequest = { model: options.model, initial: options.initial, nilReadsAny: options.nilReadsAny, limits, inputs: batch.inputs, firstViolation: options.firstViolation, violationFlag };
            const worker = new Worker(script, { workerData: request });
            let settled = false;
            worker.once('message', (message: KeyResult[]) => {
              settled = true;
              message.forEach((result, i) => (results[batch.positions[i]] = result));
              workerStatistics.batchesChecked++;
              resolve();
            });
            worker.once('error', (error) => {
              settled = true;
              reject(error);
            });
            worker.once('exit', (code) => {
              if (!settled) reject(new Error(`linearizability worker exited with code ${code}`));
            });
          }),
      ),
  );
  return results;
}

/** Checks that `history` is linearizable with respect to the model, key by key. */
export async function checkLinearizable(history: History, options: LinearizableOptions): Promise<LinearizableResult> {
  const model = resolveModel(options);
  const inputs = splitHistory(history, model);
  const limits: SearchLimits = {
    deadline: options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs,
    maxConfigurations: options.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS,
  };
  const opCount = inputs.reduce((sum, input) => sum + input.ops.length, 0);
  const script = typeof options.model === 'string' ? workerScript() : undefined;
  const wanted = options.workers ?? (opCount >= WORKER_MIN_OPS ? availableParallelism() : 0);
  const workerCount = Math.min(wanted, inputs.length);
  let keys: KeyResult[];
  const warnings: string[] = [];
  const keyOptions = { firstViolation: options.firstViolation };
  if (script && workerCount >= 2 && typeof options.model === 'string') {
    try {
      keys = await checkInWorkers({ ...options, model: options.model }, inputs, limits, workerCount, script);
    } catch (error) {
      // Threads unavailable (or a worker died): the same search in this thread gives the same answer,
      // but a failing thread is a bug or a broken machine, which the user must hear of.
      warnings.push(`linearizability worker threads failed (${error instanceof Error ? error.message : String(error)}): checked in one thread instead`);
      keys = checkKeys(model, inputs, limits, keyOptions);
    }
  } else {
    keys = checkKeys(model, inputs, limits, keyOptions);
  }
  return mergeKeyResults(model.name, keys, opCount, warnings);
}

/** The checker for composition: options from the call, overridden by the check context's. */
export function linearizableChecker(options: LinearizableOptions): Checker {
  return {
    name: 'linearizable',
    async check(context, history) {
      const fromContext = context.options ?? {};
      const merged: LinearizableOptions = { ...options };
      if (typeof fromContext.model === 'string') merged.model = fromContext.model;
      if ('initial' in fromContext) merged.initial = fromContext.initial;
      if (typeof fromContext.nilReadsAny === 'boolean') merged.nilReadsAny = fromContext.nilReadsAny;
      if (context.timeoutMs !== undefined && merged.timeoutMs === undefined) merged.timeoutMs = context.timeoutMs;
      return checkLinearizable(history, merged);
    },
  };
}
