// The results store's files and their shapes: store/<test-name>/<timestamp>/ (see ARCHITECTURE.md).
import type { Validity } from '../checkers/types.js';

export const RunFiles = {
  spec: 'spec.json',
  history: 'history.jsonl',
  nemesis: 'nemesis.jsonl',
  results: 'results.json',
  report: 'report.html',
  nodes: 'nodes',
  runLog: 'run.log',
} as const;

/** results.json */
export interface RunResults {
  name: string;
  runId: string;
  /** ISO timestamps. */
  startedAt: string;
  finishedAt: string;
  seed: number;
  /** argv that reproduces the run, e.g. ["faultline","run","--seed","42",...]. */
  command: string[];
  /** Faultline, Node and target versions. */
  versions: Record<string, string>;
  target: string;
  backend: string;
  workload: string;
  nemesis: string[];
  nodes: string[];
  valid: Validity;
  /** Per-checker results, by checker name (linearizable, set, stats, perf ...). */
  checkers: Record<string, { valid: Validity; [detail: string]: unknown }>;
  /** Operation counts by completion type. */
  stats: { ops: number; ok: number; fail: number; info: number };
  /** Anything that went wrong outside the verdict (a fault that could not heal, a node that would not start). */
  errors: string[];
  /**
   * What the user must know about the run that is not an error (ssh: host keys accepted unverified under
   * --ssh-strict=false). Absent in results written before this field existed.
   */
  warnings?: string[];
}
