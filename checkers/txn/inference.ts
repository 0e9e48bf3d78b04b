// What a workload's inference hands the cycle search: dependency edges, anomalies found without a cycle, and how
// to explain an edge in words.
import type { AnomalyLog, PlainAnomalyType } from './anomalies.js';
import type { Arena } from './arena.js';
import type { EdgeList } from './graph.js';
import type { Transactions } from './transactions.js';

/** A non-cyclic anomaly as inferred, with transactions by id (turned into op summaries for the result). */
export interface PlainFinding {
  type: PlainAnomalyType;
  /** The transaction that observed it (the reader), or the writer for write-side anomalies. */
  txn: number;
  key: unknown;
  value?: unknown;
  /** The transaction that wrote the value concerned, when there is one. */
  writer?: number;
  /** What the read should have been, for internal and incompatible-order anomalies. */
  expected?: unknown;
  read?: unknown;
  explanation: string;
}

export interface Inference {
  /** Replaced by an empty list once the graph is built from it. */
  edges: EdgeList;
  keys: unknown[];
  /** The value behind a data edge of the dependency graph, and one sentence on it (transactions named by `name`). */
  explain(kind: number, from: number, to: number, keyId: number, name: (txn: number) => string): { value: unknown; text: string };
  /** Why some dependencies could not be inferred (the verdict may miss anomalies there). */
  notes: string[];
  /** Whether a finding makes the inferred graph unreliable (then a valid verdict becomes unknown). */
  unreliable: boolean;
}

export type PlainLog = AnomalyLog<PlainFinding>;

/** `orderEdges`: how many order edges the caller will add to the inferred ones (a sizing hint); `arena`: where the large arrays go. */
export type InferenceFunction = (transactions: Transactions, log: PlainLog, orderEdges?: number, arena?: Arena) => Inference;

/** JSON text of a value, short enough for one line of a report. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
