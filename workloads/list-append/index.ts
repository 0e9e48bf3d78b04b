// The list-append workload (Elle's): transactions of appends of unique values to per-key lists and reads of whole
// lists, checked for transactional anomalies (G0, G1a/b/c, G-single, G2, ...) against a consistency model.
import type { Checker } from '../../checkers/types.js';
import type { ConsistencyModel } from '../../checkers/txn/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';
import { chooseConsistency, finalReadTransactions, transactionChecker, transactionGenerator, transactionLengthMaxDefault } from './transactions.js';

/** Checked against this unless the spec's `consistency` names another. */
export const listAppendDefaultConsistency: ConsistencyModel = 'strict-serializable';

export const listAppendWorkload: Workload = {
  name: 'list-append',
  create(spec: TestSpec): WorkloadInstance {
    const consistency = chooseConsistency(spec.consistency, listAppendDefaultConsistency);
    const generator = transactionGenerator({
      write: 'append',
      keys: spec.keys,
      keyDistribution: spec.keyDistribution,
      writesPerKey: spec.opsPerKey,
      transactionLengthMax: transactionLengthMaxDefault,
    });
    return {
      name: 'list-append',
      generator,
      finalOps: (nodeNames) => finalReadTransactions(generator.keysUsed(), nodeNames),
      checkers: async (): Promise<Checker[]> => [transactionChecker('list-append', consistency), statsChecker()],
      checkContext: () => ({ options: { workload: 'list-append', consistency } }),
    };
  },
};
