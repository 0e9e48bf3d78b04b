// A fault injector: start and stop faults by op, heal everything on teardown.
import type { Op } from './history/types.js';
import type { TestContext } from './test-context.js';
import type { Db } from './db.js';

export interface Nemesis {
  /** The op `f`s this nemesis handles, e.g. ['start-partition', 'stop-partition']. */
  readonly fs: readonly string[];
  setup(test: TestContext, db: Db): Promise<void>;
  /** Performs a fault op (process 'nemesis') and returns its completion with what it did in `value`. */
  invoke(test: TestContext, db: Db, op: Op): Promise<Op>;
  /** Heals every fault this nemesis injected. Must be idempotent and must not throw past one attempt per fault. */
  teardown(test: TestContext, db: Db): Promise<void>;
}
