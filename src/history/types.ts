// The history model every part of Faultline shares: one Op per event, Jepsen's invoke/ok/fail/info.

/** `fail`: certainly did not happen. `info`: may or may not have happened, at any time after its invoke. */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** A logical client process (an integer) or the nemesis. */
export type Process = number | 'nemesis';

/** A key of an independent sub-history (jepsen.independent); null/undefined = the single register. */
export type Key = string | number | null;

/**
 * One history event. `time` is nanoseconds since the test began, non-decreasing in history order.
 * Readers keep unknown fields; writers emit them back unchanged.
 */
export interface Op {
  /** Position in the history (0-based), assigned by the reader/writer. */
  index: number;
  process: Process;
  type: OpType;
  f: string;
  value: unknown;
  time: number;
  key?: Key;
  node?: string;
  error?: string;
  [extra: string]: unknown;
}

export type History = Op[];

/** An invocation with its completion; `completion` is absent when the op never completed (same as info). */
export interface OpPair {
  invoke: Op;
  completion?: Op;
}

export function isClientProcess(process: Process): process is number {
  return typeof process === 'number';
}

/**
 * Pairs each client invoke with its completion from the same process (Jepsen's rule: a process has at
 * most one op outstanding). Nemesis ops are skipped. Returns pairs in invoke order.
 */
export function pairOps(history: readonly Op[]): OpPair[] {
  const pairs: OpPair[] = [];
  const open = new Map<Process, OpPair>();
  for (const op of history) {
    if (!isClientProcess(op.process)) continue;
    if (op.type === 'invoke') {
      const pair: OpPair = { invoke: op };
      open.set(op.process, pair);
      pairs.push(pair);
    } else {
      const pair = open.get(op.process);
      if (pair) {
        pair.completion = op;
        open.delete(op.process);
      }
    }
  }
  return pairs;
}
