// Seeded histories of a simulated transactional store, for the benchmark and the property tests: serializable
// (each transaction applies atomically between its invocation and completion, so strict serializable) or snapshot
// isolation (reads from the state at invocation, first committer wins), optionally with injected anomalies.
import { createRandom } from '../../src/generator/random.js';
import type { History, Op } from '../../src/history/types.js';
import type { TxnWorkload } from './index.js';

export interface TxnHistoryOptions {
  workload: TxnWorkload;
  transactions: number;
  processes: number;
  seed: number;
  /** Keys open at once; a key takes `writesPerKey` writes, then a fresh key replaces it (as Elle's generator). */
  activeKeys?: number;
  writesPerKey?: number;
  /** Micro-ops per transaction, 1 to this. */
  opsPerTransactionMax?: number;
  isolation?: 'serializable' | 'snapshot';
  /** Fraction of transactions that crash (info; applied or not, at random) or certainly fail. */
  infoRate?: number;
  failRate?: number;
  /**
   * Fraction of transactions made anomalous: a read-then-write of one key whose read misses the latest version
   * (a lost update; with list-append always a G-single once the key is read again, so certainly not serializable).
   */
  anomalyRate?: number;
  /** Read every key ever written at the end, after everything completed (fixes list-append's version orders). */
  finalReads?: boolean;
}

type Micro = [string, number, unknown];

interface Pending {
  process: number;
  ops: Micro[];
  stage: 'invoked' | 'applied';
  /** Snapshot isolation: the committed state when the transaction began, and the version count per key then. */
  snapshot?: Map<number, unknown>;
  startVersion?: Map<number, number>;
  anomalous: boolean;
  completion?: Micro[];
}

/** Builds the history in memory; the same options and seed give the same history. */
export function generateTxnHistory(options: TxnHistoryOptions): History {
  const random = createRandom(options.seed);
  const activeKeys = options.activeKeys ?? 8;
  const writesPerKey = options.writesPerKey ?? 16;
  const opsMax = options.opsPerTransactionMax ?? 4;
  const isolation = options.isolation ?? 'serializable';
  const infoRate = options.infoRate ?? 0.01;
  const failRate = options.failRate ?? 0.01;
  const anomalyRate = options.anomalyRate ?? 0;
  const listAppend = options.workload === 'list-append';

  const state = new Map<number, unknown>();
  /** Committed writes per key: snapshot isolation's first-committer-wins compares these counts. */
  const versions = new Map<number, number>();
  const writesIssued = new Map<number, number>();
  const active: number[] = [];
  let nextKey = 0;
  for (let slot = 0; slot < activeKeys; slot++) active.push(nextKey++);

  const history: History = [];
  const emit = (process: number, type: Op['type'], value: unknown) => {
    history.push({ index: history.length, time: history.length, process, type, f: 'txn', value });
  };
  const pending: Array<Pending | null> = new Array(options.processes).fill(null);
  const processIds = Array.from({ length: options.processes }, (_, slot) => slot);
  let started = 0;
  let open = 0;

  const newTransaction = (anomalous: boolean): Micro[] => {
    if (anomalous) {
      const key = random.pick(active);
      return [['r', key, null], [listAppend ? 'append' : 'w', key, nextValue(key)]];
    }
    const count = random.between(1, opsMax);
    const ops: Micro[] = [];
    for (let position = 0; position < count; position++) {
      const key = random.pick(active);
      if (random.next() < 0.5) ops.push(['r', key, null]);
      else ops.push([listAppend ? 'append' : 'w', key, nextValue(key)]);
    }
    return ops;
  };
  const nextValue = (key: number): number => {
    const issued = (writesIssued.get(key) ?? 0) + 1;
    writesIssued.set(key, issued);
    if (issued >= writesPerKey) {
      const slot = active.indexOf(key);
      if (slot >= 0) active[slot] = nextKey++;
    }
    return issued;
  };

  /** Runs a transaction's micro-ops over `view` (its snapshot or the live state); writes land in `target`. */
  const run = (txn: Pending, view: Map<number, unknown>, target: Map<number, unknown>): Micro[] => {
    const local = new Map<number, unknown>();
    const current = (key: number) => (local.has(key) ? local.get(key) : view.get(key));
    const completion: Micro[] = [];
    for (const [f, key, value] of txn.ops) {
      if (f === 'r') {
        let read: unknown = current(key) ?? null;
        if (txn.anomalous && !local.has(key)) read = staleVersion(key, read);
        completion.push(['r', key, read]);
      } else if (f === 'append') {
        const list = (current(key) as number[] | undefined) ?? [];
        local.set(key, [...list, value as number]);
        completion.push([f, key, value]);
      } else {
        local.set(key, value);
        completion.push([f, key, value]);
      }
    }
    for (const [key, value] of local) {
      target.set(key, value);
      versions.set(key, (versions.get(key) ?? 0) + 1);
    }
    return completion;
  };
  /** The version before the latest (list-append: drop the last element; rw-register: the value it replaced). */
  const previousValues = new Map<number, unknown[]>();
  const staleVersion = (key: number, read: unknown): unknown => {
    if (listAppend) {
      const list = read as number[] | null;
      return list && list.length > 0 ? list.slice(0, -1) : list;
    }
    const values = previousValues.get(key);
    return values && values.length >= 2 ? values[values.length - 2] : read;
  };
  const recordRegister = (ops: Micro[]) => {
    if (listAppend) return;
    for (const [f, key, value] of ops) {
      if (f === 'r') continue;
      let values = previousValues.get(key);
      if (!values) previousValues.set(key, (values = []));
      values.push(value);
    }
  };

  const apply = (txn: Pending): boolean => {
    if (isolation === 'snapshot') {
      const snapshot = txn.snapshot as Map<number, unknown>;
      // First committer wins: a key this transaction writes got a newer committed version since it began.
      for (const [f, key] of txn.ops) {
        if (f !== 'r' && (versions.get(key) ?? 0) !== ((txn.startVersion as Map<number, number>).get(key) ?? 0)) return false;
      }
      txn.completion = run(txn, snapshot, state);
    } else {
      txn.completion = run(txn, state, state);
    }
    recordRegister(txn.completion);
    return true;
  };

  let stepsLeft = options.transactions * 8 + 1000; // every transaction needs at most three steps; bounded anyway
  while ((started < options.transactions || open > 0) && stepsLeft-- > 0) {
    const slot = random.int(options.processes);
    const txn = pending[slot];
    const process = processIds[slot];
    if (!txn) {
      if (started >= options.transactions) continue;
      started++;
      open++;
      const anomalous = anomalyRate > 0 && random.next() < anomalyRate;
      const ops = newTransaction(anomalous);
      const begun: Pending = { process, ops, stage: 'invoked', anomalous };
      if (isolation === 'snapshot') {
        begun.snapshot = new Map(state);
        begun.startVersion = new Map(versions);
      }
      pending[slot] = begun;
      emit(process, 'invoke', ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]));
      continue;
    }
    if (txn.stage === 'invoked') {
      const roll = random.next();
      if (roll < failRate) {
        emit(process, 'fail', txn.ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]));
        pending[slot] = null;
        open--;
      } else if (roll < failRate + infoRate / 2) {
        // Crashed before taking effect: info, process retired.
        emit(process, 'info', txn.ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]));
        pending[slot] = null;
        processIds[slot] += options.processes;
        open--;
      } else if (apply(txn)) {
        txn.stage = 'applied';
      } else {
        emit(process, 'fail', txn.ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]));
        pending[slot] = null;
        open--;
      }
      continue;
    }
    if (random.next() < infoRate / 2) {
      // Took effect, but the client never heard.
      emit(process, 'info', txn.ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]));
      processIds[slot] += options.processes;
    } else {
      emit(process, 'ok', txn.completion);
    }
    pending[slot] = null;
    open--;
  }

  if (options.finalReads) {
    const process = Math.max(...processIds) + 1;
    const reads: Micro[] = [...state.keys()].sort((a, b) => a - b).map((key) => ['r', key, state.get(key) ?? null]);
    emit(process, 'invoke', reads.map(([f, key]) => [f, key, null]));
    emit(process, 'ok', reads);
  }
  return history;
}

