// The set workload: every client adds unique integers; after healing, every node is read once and the set
// checker looks for lost, unexpected and recovered elements.
import type { Checker } from '../../checkers/types.js';
import { setChecker } from '../../checkers/set/index.js';
import { statsChecker, type StatsRules } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/** Unique adds 0, 1, 2, ... over all threads. */
export function setGenerator(): Generator {
  let nextElement = 0;
  return { next: (context) => ({ type: 'op', op: { f: 'add', value: nextElement++ }, atNs: context.timeNs }) };
}

/** A set run proves something only if some add was acknowledged and some read (the final ones count) answered. */
export const setStatsRules: StatsRules = { mustSucceed: ['add', 'read'] };

export const setWorkload: Workload = {
  name: 'set',
  create(_spec: TestSpec): WorkloadInstance {
    return {
      name: 'set',
      generator: setGenerator(),
      finalOps: (nodeNames) => nodeNames.map((node) => ({ node, op: { f: 'read', value: null, final: true } })),
      checkers: async (): Promise<Checker[]> => [setChecker(), statsChecker(setStatsRules)],
      checkContext: () => ({}),
    };
  },
};
