// The queue workload (Jepsen's total-queue): unique enqueues and dequeues; after healing one drain empties the
// queue, and every acknowledged enqueue must have come out exactly once.
import type { Checker } from '../../checkers/types.js';
import { queueChecker } from '../../checkers/queue/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/**
 * Ops: enqueue {value: unique integer} -> ok; dequeue {value: null, dequeueId} -> ok {value: element}, or fail
 * when the queue was empty; drain {value: null} -> ok {value: [elements left]}, optionally with
 * `taken: {dequeueId: element}` (which element each dequeue took, settling dequeues that timed out).
 */
export function queueGenerator(): Generator {
  let nextElement = 0;
  let nextDequeue = 0;
  return {
    next(context) {
      // Slightly more enqueues than dequeues, so dequeues mostly find something.
      const op = context.random.int(5) < 3 ? { f: 'enqueue', value: nextElement++ } : { f: 'dequeue', value: null, dequeueId: `d${nextDequeue++}` };
      return { type: 'op', op, atNs: context.timeNs };
    },
  };
}

export const queueWorkload: Workload = {
  name: 'queue',
  create(_spec: TestSpec): WorkloadInstance {
    return {
      name: 'queue',
      generator: queueGenerator(),
      finalOps: (nodeNames) => [{ node: nodeNames[0], op: { f: 'drain', value: null, final: true } }],
      checkers: async (): Promise<Checker[]> => [queueChecker(), statsChecker({ mustSucceed: ['enqueue', 'drain'], mayNeverSucceed: ['dequeue'] })],
      checkContext: () => ({}),
    };
  },
};
