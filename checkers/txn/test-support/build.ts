// Builds small txn histories for tests: one transaction is an invocation (reads unknown) and its completion.
import type { History, Op, OpType } from '../../../src/history/types.js';

export type Micro = [string, string | number, unknown];

export interface TxnSpec {
  process: number;
  /** The micro-ops as completed (reads with their results). */
  ops: Micro[];
  type?: Exclude<OpType, 'invoke'> | 'never';
}

/** The invocation's value: reads not yet known. */
export function invokeValue(ops: Micro[]): Micro[] {
  return ops.map(([f, key, value]) => [f, key, f === 'r' ? null : value]);
}

/** Each group runs concurrently (all invoked, then all completed, in order); groups follow one another. */
export function historyOf(...groups: TxnSpec[][]): History {
  const history: History = [];
  const push = (op: Omit<Op, 'index' | 'time'>) => history.push({ ...op, index: history.length, time: history.length } as Op);
  for (const group of groups) {
    for (const txn of group) push({ process: txn.process, type: 'invoke', f: 'txn', value: invokeValue(txn.ops) });
    for (const txn of group) {
      const type = txn.type ?? 'ok';
      if (type === 'never') continue;
      push({ process: txn.process, type, f: 'txn', value: type === 'ok' ? txn.ops : invokeValue(txn.ops) });
    }
  }
  return history;
}

/** One transaction on its own, as a group of one. */
export function alone(process: number, ops: Micro[], type: TxnSpec['type'] = 'ok'): TxnSpec[] {
  return [{ process, ops, type }];
}
