// The live test as targets, nemeses, clients and the runner see it.
import type { Backend, Node } from './backends/types.js';

export interface TestContext {
  /** Test name, e.g. "raftkv-register". */
  name: string;
  runId: string;
  /** Local results directory of this run: store/<name>/<timestamp>/ */
  runDir: string;
  backend: Backend;
  nodes: Node[];
  seed: number;
  /** The validated spec (src/spec); targets read their own options from spec.targetOptions. */
  spec: Record<string, unknown> & { targetOptions?: Record<string, unknown> };
  /** One line to the run log (and the terminal when not in a progress display). */
  log(message: string): void;
}
