// A workload's view of a system under test: open against a node, turn invocations into completions.
import type { Node } from './backends/types.js';
import type { Op } from './history/types.js';
import type { TestContext } from './test-context.js';

export interface Client {
  /** A new client bound to `node`; each worker opens its own. */
  open(test: TestContext, node: Node): Promise<Client>;
  /**
   * Performs the invocation and returns its completion (type ok/fail/info, same process and f).
   * `fail` only when the operation certainly did not take effect; otherwise `info`. Should not throw:
   * the runner turns a throw into `info`.
   */
  invoke(test: TestContext, op: Op): Promise<Op>;
  close(test: TestContext): Promise<void>;
}
