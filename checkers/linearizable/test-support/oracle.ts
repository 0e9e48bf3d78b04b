// A brute-force linearizability oracle for tests: tries every order consistent with real time.
// Deliberately naive (no model hints, no slots, no pruning beyond a memo): the engine must agree.
import type { History, Key } from '../../../src/history/types.js';
import { canonicalJson, type Model, type ModelOp } from '../models.js';

interface OracleOp {
  modelOp: ModelOp;
  invokePosition: number;
  /** Position of the ok completion; Infinity when the op may or may not have happened (info, none). */
  returnPosition: number;
  required: boolean;
}

/** Most ops the oracle accepts (its search is exponential). */
export const ORACLE_MAX_OPS = 14;

/** True when some order of the ops of one key, respecting real time, is legal for the model. */
export function oracleLinearizable(model: Model, history: History, key: Key = null): boolean {
  const ops: OracleOp[] = [];
  const open = new Map<number, { invokePosition: number; f: string; value: unknown }>();
  const completed = new Map<number, OracleOp | null>();
  const pending: { process: number; invokePosition: number; f: string; value: unknown }[] = [];
  history.forEach((op, position) => {
    if (typeof op.process !== 'number') return;
    if (op.type === 'invoke') {
      const entry = { process: op.process, invokePosition: position, f: op.f, value: op.value };
      open.set(op.process, entry);
      pending.push(entry);
      return;
    }
    const invoke = open.get(op.process);
    if (!invoke) return;
    open.delete(op.process);
    if (op.type === 'fail') {
      completed.set(invoke.invokePosition, null);
    } else if (op.type === 'ok') {
      completed.set(invoke.invokePosition, {
        modelOp: { f: invoke.f, value: op.value, outcome: 'ok' },
        invokePosition: invoke.invokePosition,
        returnPosition: position,
        required: true,
      });
    }
  });
  for (const entry of pending) {
    const done = completed.get(entry.invokePosition);
    if (done === null) continue;
    ops.push(
      done ?? { modelOp: { f: entry.f, value: entry.value, outcome: 'info' }, invokePosition: entry.invokePosition, returnPosition: Infinity, required: false },
    );
  }
  if (ops.length > ORACLE_MAX_OPS) throw new Error(`oracle: ${ops.length} ops is too many`);
  const hashOf = model.hash ?? canonicalJson;
  const requiredMask = ops.reduce((mask, op, i) => (op.required ? mask | (1 << i) : mask), 0);
  // predecessors[i]: ops that returned before op i was invoked.
  const predecessors = ops.map((op) => ops.reduce((mask, other, j) => (other.returnPosition < op.invokePosition ? mask | (1 << j) : mask), 0));
  const failed = new Set<string>();
  const search = (placed: number, state: unknown): boolean => {
    if ((placed & requiredMask) === requiredMask) return true;
    const memoKey = placed + '|' + hashOf(state);
    if (failed.has(memoKey)) return false;
    for (let i = 0; i < ops.length; i++) {
      if (placed & (1 << i)) continue;
      if ((predecessors[i] & placed) !== predecessors[i]) continue;
      const next = model.step(state, ops[i].modelOp);
      if (next === undefined) continue;
      if (search(placed | (1 << i), next)) return true;
    }
    failed.add(memoKey);
    return false;
  };
  return search(0, model.init(key));
}
