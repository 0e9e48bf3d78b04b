// The counter workload (Jepsen's): clients add small positive numbers to one counter and read it; after healing,
// every node reads once, and each read must lie within what certainly and possibly was added before it.
import type { Checker } from '../../checkers/types.js';
import { counterChecker } from '../../checkers/counter/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/** Largest increment; positive only, as Jepsen's counter (the checker also handles negative deltas). */
const deltaMax = 5;

/** Two adds for every read. */
export function counterGenerator(): Generator {
  return {
    next(context) {
      const op = context.random.int(3) === 0 ? { f: 'read', value: null } : { f: 'add', value: 1 + context.random.int(deltaMax) };
      return { type: 'op', op, atNs: context.timeNs };
    },
  };
}

export const counterWorkload: Workload = {
  name: 'counter',
  create(_spec: TestSpec): WorkloadInstance {
    return {
      name: 'counter',
      generator: counterGenerator(),
      finalOps: (nodeNames) => nodeNames.map((node) => ({ node, op: { f: 'read', value: null, final: true } })),
      checkers: async (): Promise<Checker[]> => [counterChecker(), statsChecker({ mustSucceed: ['add', 'read'] })],
      checkContext: () => ({}),
    };
  },
};
