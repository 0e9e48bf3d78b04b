// What a workload bundles (Jepsen's workload map): the client op generator, the final phase and the checkers.
import type { Checker, CheckContext } from '../checkers/types.js';
import type { Generator, OpRequest } from '../src/generator/index.js';
import type { TestSpec } from '../src/spec/types.js';
import type { WorkloadName } from '../src/target.js';

/** One op of the final phase, sent to a given node (after faults are healed and the cluster recovered). */
export interface FinalOp {
  node: string;
  op: OpRequest;
}

/** One run's workload instance: the generator keeps state (live keys, next values) the final phase reads. */
export interface WorkloadInstance {
  readonly name: WorkloadName;
  /** Endless client ops; the runner bounds them by rate and time limit. */
  readonly generator: Generator;
  /** Ops of the final phase for these nodes (e.g. one read per node, or one read per key). */
  finalOps(nodeNames: readonly string[]): FinalOp[];
  checkers(): Promise<Checker[]>;
  /** Passed to every checker. */
  checkContext(): CheckContext;
}

export interface Workload {
  readonly name: WorkloadName;
  create(spec: TestSpec): WorkloadInstance;
}
