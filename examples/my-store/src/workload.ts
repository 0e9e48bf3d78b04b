// A workload of the example's own, written against Faultline's public API: writes of unique values and reads on
// a few keys, judged by Faultline's linearizability checker and by a checker of its own. `workload: ./dist/workload.js`.
import { linearizableChecker, repeat, type Checker, type FinalOp, type History, type TestSpec, type Workload, type WorkloadInstance } from 'faultline';

const KEYS = 3;

/** Reads and acknowledged writes seen: a run without both observed nothing, so it cannot vouch for the store. */
export const sawReadsAndWrites: Checker = {
  name: 'saw-reads-and-writes',
  async check(_context, history: History) {
    const okReads = history.filter((op) => op.type === 'ok' && op.f === 'read').length;
    const okWrites = history.filter((op) => op.type === 'ok' && op.f === 'write').length;
    return { valid: okReads > 0 && okWrites > 0 ? true : 'unknown', okReads, okWrites };
  },
};

export const workload: Workload = {
  name: 'my-register',
  create(_spec: TestSpec): WorkloadInstance {
    // Every write carries a value never written before, so each read names exactly one write.
    let nextValue = 1;
    return {
      name: 'my-register',
      generator: repeat((context) => {
        const key = context.random.int(KEYS);
        return context.random.int(2) === 0 ? { f: 'read', key, value: null } : { f: 'write', key, value: nextValue++ };
      }),
      finalOps: (nodeNames): FinalOp[] =>
        Array.from({ length: KEYS }, (_, key) => ({ node: nodeNames[key % nodeNames.length], op: { f: 'read', key, value: null, final: true } })),
      checkers: async () => [linearizableChecker({ model: 'cas-register', initial: null, timeoutMs: 30_000 }), sawReadsAndWrites],
      checkContext: () => ({ options: { model: 'cas-register', initial: null } }),
    };
  },
};

export default workload;
