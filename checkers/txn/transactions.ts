// Turns a history of `txn` operations into numbered transactions (invoke, completion, micro-ops) the inference reads.
import { isClientProcess, type History, type Op } from '../../src/history/types.js';

/** A micro-op as Jepsen and Elle write it: [f, key, value]. */
export type MicroOp = readonly [string, unknown, unknown];

/** What is known of a transaction's outcome. `info` (or never completed): it may or may not have committed. */
export const enum Outcome {
  ok = 0,
  info = 1,
  fail = 2,
}

/**
 * Transactions in invoke order, as parallel arrays: a million transactions should cost a few arrays,
 * not a million objects. `ops[id]` is the completion's value for ok (reads carry results), else the
 * invocation's (reads unknown).
 */
export interface Transactions {
  count: number;
  outcome: Uint8Array;
  process: Float64Array;
  /** Position of the invocation in the history array. */
  invokePosition: Int32Array;
  /** Position of the completion in the history array; -1 when it never completed. */
  completionPosition: Int32Array;
  ops: Array<readonly MicroOp[]>;
  history: History;
}

/** Bad micro-ops make the whole check meaningless; the message names the op's index in the history. */
export class TransactionFormatError extends Error {
  constructor(
    readonly opIndex: number,
    message: string,
  ) {
    super(message);
    this.name = 'TransactionFormatError';
  }
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks a txn value's shape once, so the inference can trust it. */
function microOpsOf(op: Op, readsMayBeNull: boolean): readonly MicroOp[] {
  const value = op.value;
  if (!Array.isArray(value)) {
    throw new TransactionFormatError(op.index, `op ${op.index}: expected a txn value [[f key value] ...], got ${describe(value)}`);
  }
  for (const micro of value) {
    if (!Array.isArray(micro) || micro.length !== 3) {
      throw new TransactionFormatError(op.index, `op ${op.index}: expected a micro-op [f key value], got ${describe(micro)}`);
    }
    const [f, key] = micro as unknown[];
    if (f !== 'r' && f !== 'w' && f !== 'append') {
      throw new TransactionFormatError(op.index, `op ${op.index}: expected a micro-op f of r, w or append, got ${describe(f)}`);
    }
    if (typeof key !== 'number' && typeof key !== 'string') {
      throw new TransactionFormatError(op.index, `op ${op.index}: expected a micro-op key to be a number or string, got ${describe(key)}`);
    }
    if (f !== 'r' && typeof micro[2] !== 'number' && typeof micro[2] !== 'string') {
      throw new TransactionFormatError(op.index, `op ${op.index}: expected the value of ${f} to be a number or string, got ${describe(micro[2])}`);
    }
    if (f === 'r' && !readsMayBeNull && micro[2] === undefined) {
      throw new TransactionFormatError(op.index, `op ${op.index}: expected a read result, got nothing`);
    }
  }
  return value as readonly MicroOp[];
}

/**
 * Pairs each `txn` invocation with its process's next completion (Jepsen: one op outstanding per process).
 * Ops with another `f` (nemesis, other workloads) are ignored. An invocation never completed counts as info.
 */
export function collectTransactions(history: History): Transactions {
  let capacity = Math.max(16, history.length >> 1);
  let outcome = new Uint8Array(capacity);
  let process = new Float64Array(capacity);
  let invokePosition = new Int32Array(capacity);
  let completionPosition = new Int32Array(capacity);
  const ops: Array<readonly MicroOp[]> = [];
  const open = new Map<number, number>();
  let count = 0;
  for (let position = 0; position < history.length; position++) {
    const op = history[position];
    if (op.f !== 'txn' || !isClientProcess(op.process)) continue;
    if (op.type === 'invoke') {
      if (count === capacity) {
        capacity *= 2;
        outcome = grow(outcome, capacity);
        process = grow(process, capacity);
        invokePosition = grow(invokePosition, capacity);
        completionPosition = grow(completionPosition, capacity);
      }
      outcome[count] = Outcome.info;
      process[count] = op.process;
      invokePosition[count] = position;
      completionPosition[count] = -1;
      // Validated once its outcome is known: an ok completion replaces the invocation's micro-ops.
      ops.push(op.value as readonly MicroOp[]);
      open.set(op.process, count);
      count++;
      continue;
    }
    const id = open.get(op.process);
    if (id === undefined) continue;
    open.delete(op.process);
    completionPosition[id] = position;
    if (op.type === 'ok') {
      outcome[id] = Outcome.ok;
      ops[id] = microOpsOf(op, false);
    } else {
      if (op.type === 'fail') outcome[id] = Outcome.fail;
      ops[id] = microOpsOf(history[invokePosition[id]], true);
    }
  }
  for (const id of open.values()) ops[id] = microOpsOf(history[invokePosition[id]], true);
  return {
    count,
    outcome: outcome.subarray(0, count),
    process: process.subarray(0, count),
    invokePosition: invokePosition.subarray(0, count),
    completionPosition: completionPosition.subarray(0, count),
    ops,
    history,
  };
}

function grow<T extends Uint8Array | Int32Array | Float64Array>(array: T, capacity: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(capacity);
  bigger.set(array);
  return bigger;
}

/**
 * Keys a transaction touches more than once, with how many of those touches write (append or w); null when it
 * touches every key once, as almost all do. Linear: a final read of every key can hold thousands of micro-ops.
 */
export function repeatedKeys(micros: readonly MicroOp[]): Map<unknown, { touches: number; writes: number }> | null {
  if (micros.length < 2) return null;
  if (micros.length <= 16) {
    // Small transactions (nearly all) answer without allocating: a pairwise scan.
    let repeatedSmall = false;
    for (let later = 1; later < micros.length && !repeatedSmall; later++) {
      for (let earlier = 0; earlier < later; earlier++) {
        if (micros[earlier][1] === micros[later][1]) {
          repeatedSmall = true;
          break;
        }
      }
    }
    if (!repeatedSmall) return null;
  }
  const counts = new Map<unknown, { touches: number; writes: number }>();
  let repeated = false;
  for (const micro of micros) {
    let entry = counts.get(micro[1]);
    if (!entry) counts.set(micro[1], (entry = { touches: 0, writes: 0 }));
    else repeated = true;
    entry.touches++;
    if (micro[0] !== 'r') entry.writes++;
  }
  if (!repeated) return null;
  for (const [key, entry] of counts) if (entry.touches < 2) counts.delete(key);
  return counts;
}

/** Values below this are kept in an array slot instead of a map entry. */
const denseValueLimit = 1 << 16;

/**
 * Value -> transaction id for one key. Workloads write small counters per key (Elle's 1, 2, 3...), which an
 * array holds in a few bytes each where a Map entry costs tens: over a million transactions that is the
 * difference between one garbage collection of the history and several. Other values go to a map.
 */
export class WriterIndex {
  private dense: number[] = [];
  private sparse: Map<unknown, number> | null = null;
  size = 0;

  get(value: unknown): number | undefined {
    if (typeof value === 'number' && value >= 0 && value < denseValueLimit && Number.isInteger(value)) {
      const writer = this.dense[value];
      return writer === undefined || writer < 0 ? undefined : writer;
    }
    return this.sparse?.get(value);
  }

  set(value: unknown, writer: number): void {
    if (typeof value === 'number' && value >= 0 && value < denseValueLimit && Number.isInteger(value)) {
      // Fill holes with -1 so the array stays packed (holes would make it slower and larger).
      while (this.dense.length < value) this.dense.push(-1);
      if (this.dense.length === value) this.dense.push(writer);
      else {
        if (this.dense[value] < 0) this.size++;
        this.dense[value] = writer;
        return;
      }
      this.size++;
      return;
    }
    const sparse = (this.sparse ??= new Map());
    if (!sparse.has(value)) this.size++;
    sparse.set(value, writer);
  }

  forEach(visit: (value: unknown, writer: number) => void): void {
    for (let value = 0; value < this.dense.length; value++) if (this.dense[value] >= 0) visit(value, this.dense[value]);
    this.sparse?.forEach((writer, value) => visit(value, writer));
  }
}
