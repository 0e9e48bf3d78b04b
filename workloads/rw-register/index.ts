// The rw-register workload (Elle's): transactions of writes of unique values to per-key registers and reads,
// checked for transactional anomalies against a consistency model. Weaker inference than list-append (a read
// shows only the last write), but it exercises plain overwrites, where write skew (G2-item) shows.
import type { Checker } from '../../checkers/types.js';
import type { ConsistencyModel } from '../../checkers/txn/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';
import {
  chooseConsistency,
  finalReadTransactions,
  transactionChecker,
  transactionGenerator,
  transactionLengthMaxDefault,
} from '../list-append/transactions.js';

/** Checked against this unless the spec's `consistency` names another. */
export const rwRegisterDefaultConsistency: ConsistencyModel = 'strict-serializable';

export const rwRegisterWorkload: Workload = {
  name: 'rw-register',
  create(spec: TestSpec): WorkloadInstance {
    const consistency = chooseConsistency(spec.consistency, rwRegisterDefaultConsistency);
    const generator = transactionGenerator({
      write: 'w',
      keys: spec.keys,
      keyDistribution: spec.keyDistribution,
      writesPerKey: spec.opsPerKey,
      transactionLengthMax: transactionLengthMaxDefault,
    });
    return {
      name: 'rw-register',
      generator,
      finalOps: (nodeNames) => finalReadTransactions(generator.keysUsed(), nodeNames),
      checkers: async (): Promise<Checker[]> => [transactionChecker('rw-register', consistency), statsChecker()],
      checkContext: () => ({ options: { workload: 'rw-register', consistency } }),
    };
  },
};
