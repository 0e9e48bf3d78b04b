// Brute-force judges of small txn histories, independent of the checker's graph: they search every serial order
// (serializability) or every interleaving of snapshot and commit points (snapshot isolation) directly.
import type { History } from '../../../src/history/types.js';
import type { Micro } from './build.js';

export type OracleModel =
  | 'serializable'
  | 'strict-serializable'
  | 'strong-session-serializable'
  | 'snapshot-isolation'
  | 'strong-snapshot-isolation';

interface OracleTxn {
  ops: Micro[];
  committed: 'ok' | 'info';
  process: number;
  invokeAt: number;
  /** History position of an ok completion; Infinity for info. */
  completeAt: number;
}

type State = Map<unknown, unknown>;

/** Transactions the oracle must place (ok) or may place (info); failed ones never happened. */
function transactionsOf(history: History): OracleTxn[] {
  const open = new Map<number, OracleTxn>();
  const txns: OracleTxn[] = [];
  history.forEach((op, position) => {
    if (op.f !== 'txn' || typeof op.process !== 'number') return;
    if (op.type === 'invoke') {
      const txn: OracleTxn = { ops: op.value as Micro[], committed: 'info', process: op.process, invokeAt: position, completeAt: Infinity };
      open.set(op.process, txn);
      txns.push(txn);
      return;
    }
    const txn = open.get(op.process);
    open.delete(op.process);
    if (!txn) return;
    if (op.type === 'ok') {
      txn.committed = 'ok';
      txn.ops = op.value as Micro[];
      txn.completeAt = position;
    } else if (op.type === 'fail') {
      txns.splice(txns.indexOf(txn), 1);
    }
  });
  return txns;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs a transaction's micro-ops over `read` (what it sees) and returns its writes, or null when an ok
 * transaction's read disagrees. Lists for list-append, plain values for rw-register; null reads = nothing yet.
 */
function execute(txn: OracleTxn, workload: 'list-append' | 'rw-register', seen: State): State | null {
  const local = new Map<unknown, unknown>();
  const valueOf = (key: unknown) => (local.has(key) ? local.get(key) : seen.get(key));
  for (const [f, key, value] of txn.ops) {
    if (f === 'r') {
      if (txn.committed !== 'ok') continue;
      const current = valueOf(key);
      if (workload === 'list-append') {
        if (!same((current as unknown[] | undefined) ?? [], value ?? [])) return null;
      } else if (!same(current ?? null, value ?? null)) return null;
    } else if (f === 'append') {
      local.set(key, [...((valueOf(key) as unknown[] | undefined) ?? []), value]);
    } else {
      local.set(key, value);
    }
  }
  return local;
}

/** Whether `earlier` must come before `later` in the model's order. */
function mustPrecede(model: OracleModel, earlier: OracleTxn, later: OracleTxn): boolean {
  if (model === 'strict-serializable' || model === 'strong-snapshot-isolation') return earlier.completeAt < later.invokeAt;
  if (model === 'strong-session-serializable') return earlier.process === later.process && earlier.completeAt < later.invokeAt;
  return false;
}

/** True when some execution the model allows explains every ok transaction's reads. */
export function oracleAllows(history: History, workload: 'list-append' | 'rw-register', model: OracleModel): boolean {
  const txns = transactionsOf(history);
  if (model === 'snapshot-isolation' || model === 'strong-snapshot-isolation') return snapshotSearch(txns, workload, model);
  const okCount = txns.filter((txn) => txn.committed === 'ok').length;
  const placed = new Array<boolean>(txns.length).fill(false);
  const search = (state: State, placedOk: number): boolean => {
    if (placedOk === okCount) return true; // unplaced info transactions did not commit
    for (let index = 0; index < txns.length; index++) {
      if (placed[index]) continue;
      const txn = txns[index];
      if (txns.some((other, otherIndex) => !placed[otherIndex] && other !== txn && other.committed === 'ok' && mustPrecede(model, other, txn))) continue;
      const writes = execute(txn, workload, state);
      if (!writes) continue;
      placed[index] = true;
      const next = new Map(state);
      for (const [key, value] of writes) next.set(key, value);
      if (search(next, placedOk + (txn.committed === 'ok' ? 1 : 0))) return true;
      placed[index] = false;
    }
    return false;
  };
  return search(new Map(), 0);
}

/**
 * Snapshot isolation: every committed transaction reads the state committed at its start point, and no two
 * transactions whose start-commit intervals overlap both write one key (first committer wins).
 */
function snapshotSearch(txns: OracleTxn[], workload: 'list-append' | 'rw-register', model: OracleModel): boolean {
  const okCount = txns.filter((txn) => txn.committed === 'ok').length;
  const snapshots: Array<State | null> = txns.map(() => null);
  const committedAtStep: number[] = txns.map(() => -1);
  const startedAtStep: number[] = txns.map(() => -1);
  const writtenKeys = txns.map((txn) => new Set(txn.ops.filter(([f]) => f !== 'r').map(([, key]) => key)));
  const search = (state: State, step: number, committedOk: number): boolean => {
    if (committedOk === okCount) return true;
    for (let index = 0; index < txns.length; index++) {
      const txn = txns[index];
      if (startedAtStep[index] < 0) {
        // Start: every transaction that must precede it has committed.
        if (txns.some((other, otherIndex) => other.committed === 'ok' && otherIndex !== index && mustPrecede(model, other, txn) && committedAtStep[otherIndex] < 0)) continue;
        startedAtStep[index] = step;
        snapshots[index] = state;
        if (search(state, step + 1, committedOk)) return true;
        startedAtStep[index] = -1;
        snapshots[index] = null;
      } else if (committedAtStep[index] < 0) {
        const conflict = txns.some(
          (_, otherIndex) => committedAtStep[otherIndex] > startedAtStep[index] && [...writtenKeys[index]].some((key) => writtenKeys[otherIndex].has(key)),
        );
        if (conflict) continue;
        const writes = execute(txn, workload, snapshots[index] as State);
        if (!writes) continue;
        // Writes apply to the latest committed state (append extends it); with no conflicting concurrent
        // writer, the key's committed value is still the one in the snapshot.
        const next = new Map(state);
        for (const [key, value] of writes) next.set(key, value);
        committedAtStep[index] = step;
        if (search(next, step + 1, committedOk + (txn.committed === 'ok' ? 1 : 0))) return true;
        committedAtStep[index] = -1;
      }
    }
    return false;
  };
  return search(new Map(), 0, 0);
}
