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
  /**
   * Nodes a fault took out for good: the disk nemesis adds a node that refused to start on corrupted data
   * (a store's fail-stop). Other nemeses leave these alone: they neither choose nor restart them.
   */
  nodesTakenOut?: Set<string>;
  /** One line to the run log (and the terminal when not in a progress display). */
  log(message: string): void;
  /**
   * Records what a nemesis did between its own ops (each cut and heal of a flapping network) as a nemesis
   * completion in the history and nemesis.jsonl, so the report's fault timeline shows it. Absent outside a run.
   */
  recordNemesisEvent?(event: { f: string; value: unknown }): void;
}
