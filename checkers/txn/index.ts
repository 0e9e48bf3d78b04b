// The Elle-style transactional checker: infers ww, wr and rw dependencies between list-append or rw-register
// transactions, finds cycles (Tarjan, then breadth-first searches constrained by edge kinds) and names each
// anomaly (Adya's G0, G1a, G1b, G1c, G-single, G2-item, with process and realtime variants), judged against
// a consistency model.
import type { History } from '../../src/history/types.js';
import type { Checker, CheckResult, Validity } from '../types.js';
import {
  AnomalyLog,
  consistencyModels,
  isConsistencyModel,
  isSnapshotModel,
  orderEdgesOf,
  prohibitedAnomalies,
  type AnomalyType,
  type ConsistencyModel,
  type CycleType,
  type PlainAnomalyType,
} from './anomalies.js';
import { Arena, noArena } from './arena.js';
import { buildGraph, dataEdges, EdgeKind, edgeKindName, EdgeList, graphBytes, Searcher, searcherBytes, type EdgeKindName, type Graph } from './graph.js';
import type { Inference, PlainFinding } from './inference.js';
import { inferListAppend, listAppendNeeds } from './list-append.js';
import { inferRwRegister, rwRegisterNeeds } from './rw-register.js';
import { collectTransactions, Outcome, type Transactions } from './transactions.js';

export { consistencyModels, isConsistencyModel, prohibitedAnomalies, type AnomalyType, type ConsistencyModel, type CycleType, type PlainAnomalyType } from './anomalies.js';
export { TransactionFormatError } from './transactions.js';
export { renderTxnResultHtml, renderTxnResultText } from './render.js';

export type TxnWorkload = 'list-append' | 'rw-register';
export const txnWorkloads: readonly TxnWorkload[] = ['list-append', 'rw-register'];

export interface TxnCheckOptions {
  workload: TxnWorkload;
  /** Default: strict-serializable, as Elle's. */
  consistency?: ConsistencyModel;
  /** Examples kept per anomaly type (counts stay exact). Default 8. */
  examplesPerTypeMax?: number;
  /**
   * Adjacency steps the budgeted searches (G-single per rw edge, the snapshot-isolation walk) may take in all.
   * Past it the verdict for what they decide is 'unknown'. Default 20 million.
   */
  searchStepsMax?: number;
}

/** A transaction as the result shows it. `index`: its completion's op index (its invocation's if none). */
export interface TxnSummary {
  index: number;
  invokeIndex: number;
  process: number;
  type: 'ok' | 'info' | 'fail';
  value: unknown;
}

/** One step of a cycle: this transaction, and the edge from it to the next step's (the last step's to the first's). */
export interface CycleStep {
  txn: TxnSummary;
  edge: EdgeKindName;
  key?: unknown;
  value?: unknown;
  explanation: string;
}

export interface CycleAnomaly {
  type: CycleType;
  cycle: CycleStep[];
}

export interface PlainAnomaly {
  type: PlainAnomalyType;
  txn: TxnSummary;
  writer?: TxnSummary;
  key: unknown;
  value?: unknown;
  expected?: unknown;
  read?: unknown;
  explanation: string;
}

export type TxnAnomaly = CycleAnomaly | PlainAnomaly;

export interface TxnCheckResult extends CheckResult {
  valid: Validity;
  workload: TxnWorkload;
  consistency: ConsistencyModel;
  /** Every anomaly type found, allowed by the model or not. */
  anomalyTypes: AnomalyType[];
  /** The found types the model forbids: non-empty exactly when valid is false. */
  prohibited: AnomalyType[];
  /** Occurrences per type; for cycles, strongly connected components showing the type. */
  anomalyCounts: Record<string, number>;
  anomalies: Record<string, TxnAnomaly[]>;
  txnCount: { ok: number; info: number; fail: number };
  edgeCount: number;
  cyclicComponents: number;
  /** What could not be decided and why (inference limits, exhausted search budgets). */
  notes: string[];
}

const defaultSearchStepsMax = 20_000_000;

export function checkTransactions(history: History, options: TxnCheckOptions): TxnCheckResult {
  const consistency = options.consistency ?? 'strict-serializable';
  if (!isConsistencyModel(consistency)) throw new Error(`unknown consistency model '${String(consistency)}'; expected one of ${consistencyModels.join(', ')}`);
  const examplesPerTypeMax = options.examplesPerTypeMax ?? 8;
  const transactions = collectTransactions(history);
  const plainLog = new AnomalyLog<PlainFinding>(examplesPerTypeMax);
  const infer = options.workload === 'list-append' ? inferListAppend : options.workload === 'rw-register' ? inferRwRegister : null;
  if (!infer) throw new Error(`unknown transactional workload '${String(options.workload)}'; expected list-append or rw-register`);
  const order = orderEdgesOf(consistency);
  // Realtime: at most one edge into and one out of the time chain per transaction, plus the chain itself.
  const orderEdges = order === 'realtime' ? 3 * transactions.count : order === 'process' ? transactions.count : 0;
  const arena = reserveArena(transactions, options.workload, order, orderEdges);
  const inference = infer(transactions, plainLog, orderEdges, arena);

  const orderKind = order === 'realtime' ? EdgeKind.realtime : order === 'process' ? EdgeKind.process : 0;
  const nodeCount = addOrderEdges(transactions, inference.edges, order, arena);
  const graph = buildGraph(nodeCount, inference.edges, arena);
  const edgeCount = inference.edges.count;
  // The graph holds all it needs (targets, kinds, keys): nothing reads the edge list after this (its arrays are
  // the arena's, which goes with the check).
  inference.edges = new EdgeList(0);

  const cycles = new AnomalyLog<CycleAnomaly>(examplesPerTypeMax);
  const notes = [...inference.notes];
  const search = new CycleSearch(graph, transactions, inference, cycles, orderKind, consistency, options.searchStepsMax ?? defaultSearchStepsMax, arena);
  // Most histories are valid: a linear acyclicity test answers for them without Tarjan's heavier walk.
  const mask = dataEdges | orderKind;
  const components = search.searcher.acyclic(mask) ? [] : search.searcher.components(null, mask);
  for (const component of components) search.searchComponent(component);
  if (search.incomplete) notes.push(`the search budget (${search.stepsMax} steps) ran out before every component was searched for ${search.incomplete}`);
  if (inference.unreliable) notes.push('values were not unique per key, so the inferred dependencies may be wrong');

  const prohibited = prohibitedAnomalies[consistency];
  const anomalyCounts: Record<string, number> = {};
  const anomalies: Record<string, TxnAnomaly[]> = {};
  const name = summaryMaker(transactions);
  for (const [type, count] of plainLog.counts) anomalyCounts[type] = count;
  for (const [type, examples] of plainLog.examples) {
    anomalies[type] = examples.map((finding) => ({
      type: finding.type,
      txn: name(finding.txn),
      ...(finding.writer !== undefined ? { writer: name(finding.writer) } : {}),
      key: finding.key,
      ...(finding.value !== undefined ? { value: finding.value } : {}),
      ...(finding.expected !== undefined ? { expected: finding.expected } : {}),
      ...(finding.read !== undefined ? { read: finding.read } : {}),
      explanation: finding.explanation,
    }));
  }
  for (const [type, count] of cycles.counts) anomalyCounts[type] = count;
  for (const [type, examples] of cycles.examples) anomalies[type] = examples;
  const anomalyTypes = (Object.keys(anomalyCounts) as AnomalyType[]).sort();
  const prohibitedFound = anomalyTypes.filter((type) => prohibited.has(type));
  let valid: Validity = true;
  if (prohibitedFound.length > 0) valid = false;
  else if (inference.unreliable || search.incomplete) valid = 'unknown';
  return {
    valid,
    workload: options.workload,
    consistency,
    anomalyTypes,
    prohibited: prohibitedFound,
    anomalyCounts,
    anomalies,
    txnCount: countOutcomes(transactions),
    edgeCount,
    cyclicComponents: components.length,
    notes,
  };
}

/** Composable like every checker: a thrown error (bad micro-ops) becomes 'unknown' in composeCheckers. */
export function txnChecker(options: TxnCheckOptions): Checker {
  return {
    name: `elle-${options.workload}`,
    async check(_context, history) {
      return checkTransactions(history, options);
    },
  };
}

function countOutcomes(transactions: Transactions): { ok: number; info: number; fail: number } {
  const counts = { ok: 0, info: 0, fail: 0 };
  for (let txn = 0; txn < transactions.count; txn++) {
    const outcome = transactions.outcome[txn];
    if (outcome === Outcome.ok) counts.ok++;
    else if (outcome === Outcome.fail) counts.fail++;
    else counts.info++;
  }
  return counts;
}

function summaryMaker(transactions: Transactions): (txn: number) => TxnSummary {
  return (txn) => {
    const invoke = transactions.history[transactions.invokePosition[txn]];
    const completionPosition = transactions.completionPosition[txn];
    const completion = completionPosition >= 0 ? transactions.history[completionPosition] : undefined;
    const outcome = transactions.outcome[txn];
    return {
      index: completion ? completion.index : invoke.index,
      invokeIndex: invoke.index,
      process: transactions.process[txn],
      type: outcome === Outcome.ok ? 'ok' : outcome === Outcome.fail ? 'fail' : 'info',
      value: transactions.ops[txn],
    };
  };
}

/**
 * One reservation for every large array the check makes (see arena.ts): the inference's, the realtime chain's,
 * the graph's (for as many edges as the inference can make) and the searches'.
 */
function reserveArena(transactions: Transactions, workload: TxnWorkload, order: 'none' | 'process' | 'realtime', orderEdges: number): Arena {
  const { count, ops } = transactions;
  let microOps = 0;
  for (let txn = 0; txn < count; txn++) microOps += ops[txn].length;
  const inference = workload === 'list-append' ? listAppendNeeds(count, microOps, orderEdges) : rwRegisterNeeds(count);
  // Time nodes: at most one per completion.
  const nodeBound = order === 'realtime' ? 2 * count : count;
  const orderBytes = order === 'realtime' ? 4 * transactions.history.length + 64 : 0;
  return new Arena(inference.bytes + orderBytes + graphBytes(nodeBound, inference.edges) + searcherBytes(nodeBound));
}

/** Adds the model's order edges (none, process or realtime); returns the node count (transactions, then time nodes). */
export function addOrderEdges(transactions: Transactions, edges: EdgeList, order: 'none' | 'process' | 'realtime', arena: Arena = noArena): number {
  if (order === 'realtime') return addRealtimeEdges(transactions, edges, arena);
  if (order === 'process') addProcessEdges(transactions, edges);
  return transactions.count;
}

/**
 * Realtime order (T1 completed before T2 was invoked) without a quadratic number of edges: a chain of time
 * nodes, one per run of completions; a completion points at its run's node, each node at the next, and each
 * node at every transaction invoked after it. T1 reaches T2 through the chain exactly when T1 precedes T2.
 * Returns the node count (transactions, then time nodes).
 */
function addRealtimeEdges(transactions: Transactions, edges: EdgeList, arena: Arena): number {
  const { count, outcome, invokePosition, completionPosition } = transactions;
  const completedAt = arena.int32(transactions.history.length).fill(-1);
  for (let txn = 0; txn < count; txn++) if (outcome[txn] === Outcome.ok) completedAt[completionPosition[txn]] = txn;
  let nextInvoke = 0;
  let timeNode = -1;
  let nodeCount = count;
  let lastWasCompletion = false;
  for (let position = 0; position < completedAt.length; position++) {
    while (nextInvoke < count && invokePosition[nextInvoke] < position) nextInvoke++;
    if (nextInvoke < count && invokePosition[nextInvoke] === position) {
      if (timeNode >= 0 && outcome[nextInvoke] !== Outcome.fail) edges.add(timeNode, nextInvoke, EdgeKind.realtime, -1);
      lastWasCompletion = false;
      continue;
    }
    const txn = completedAt[position];
    if (txn < 0) continue;
    if (!lastWasCompletion) {
      const node = nodeCount++;
      if (timeNode >= 0) edges.add(timeNode, node, EdgeKind.realtime, -1);
      timeNode = node;
      lastWasCompletion = true;
    }
    edges.add(txn, timeNode, EdgeKind.realtime, -1);
  }
  return nodeCount;
}

/** Session order: each committed transaction precedes the next one its process ran. */
function addProcessEdges(transactions: Transactions, edges: EdgeList): void {
  const last = new Map<number, number>();
  for (let txn = 0; txn < transactions.count; txn++) {
    if (transactions.outcome[txn] === Outcome.fail) continue;
    const process = transactions.process[txn];
    const previous = last.get(process);
    if (previous !== undefined) edges.add(previous, txn, EdgeKind.process, -1);
    if (transactions.outcome[txn] === Outcome.ok) last.set(process, txn);
  }
}

/** Searches one strongly connected component at a time for the cycles that name anomalies. */
class CycleSearch {
  readonly searcher: Searcher;
  /** What a budgeted search could not finish, for the notes ('' when all finished). */
  incomplete = '';
  /** Steps the budgeted searches have taken, across every component. */
  private budgetUsed = 0;
  private readonly summary: (txn: number) => TxnSummary;

  constructor(
    readonly graph: Graph,
    readonly transactions: Transactions,
    readonly inference: Inference,
    readonly log: AnomalyLog<CycleAnomaly>,
    readonly orderKind: number,
    readonly consistency: ConsistencyModel,
    readonly stepsMax: number,
    arena: Arena,
  ) {
    this.searcher = new Searcher(graph, arena);
    this.summary = summaryMaker(transactions);
  }

  searchComponent(component: Int32Array): void {
    const found = new Set<CycleType>();
    const record = (start: number, path: number[] | null): void => {
      if (!path) return;
      const type = this.classify(path);
      if (found.has(type)) return;
      found.add(type);
      this.log.add(type, () => ({ type, cycle: this.steps(start, path) }));
    };
    const { ww, wr, rw } = EdgeKind;
    const order = this.orderKind;
    // Exact searches: together they find a cycle whenever the component has one of these edge kinds.
    this.findCycle(component, ww, ww, record);
    this.findCycle(component, ww | wr, wr, record);
    this.findCycle(component, dataEdges, rw, record);
    if (order) {
      this.findCycle(component, ww | order, order, record);
      this.findCycle(component, ww | wr | order, order, record);
      this.findCycle(component, dataEdges | order, order, record);
    }
    // Budgeted: exactly one rw edge.
    if (!found.has('G-single')) this.findSingleRw(component, ww | wr, record);
    if (order && !found.has(this.suffixed('G-single'))) this.findSingleRw(component, ww | wr | order, record);
    // Snapshot isolation forbids every cycle without two adjacent rw edges: search until one is known.
    if (isSnapshotModel(this.consistency)) {
      const forbidden = prohibitedAnomalies[this.consistency];
      if (![...found].some((type) => forbidden.has(type))) this.findNonadjacent(component, dataEdges | order, record);
    }
  }

  private suffixed(type: string): CycleType {
    return `${type}-${this.orderKind === EdgeKind.realtime ? 'realtime' : 'process'}` as CycleType;
  }

  /** A cycle over `mask` edges holding at least one `required` edge, if the component has one (exact). */
  private findCycle(component: Int32Array, mask: number, required: number, record: (start: number, path: number[] | null) => void): void {
    const searcher = this.searcher;
    const { offsets, targets, kinds } = this.graph;
    searcher.restrictTo(component);
    const subComponents = searcher.components(component, mask);
    for (const sub of subComponents) {
      searcher.restrictTo(sub);
      let done = false;
      for (const node of sub) {
        for (let edge = offsets[node]; edge < offsets[node + 1] && !done; edge++) {
          if (kinds[edge] !== required || !searcher.contains(targets[edge])) continue;
          const path = searcher.shortestPath(targets[edge], node, mask, Number.MAX_SAFE_INTEGER);
          if (path) {
            record(node, [edge, ...path]);
            done = true;
          }
        }
        if (done) break;
      }
      // One example per kind of cycle is enough: the first sub-component that has one.
      if (done) break;
    }
    searcher.restrictTo(null);
  }

  /** A cycle with exactly one rw edge: from each rw edge's head back to its tail over non-rw edges (budgeted). */
  private findSingleRw(component: Int32Array, mask: number, record: (start: number, path: number[] | null) => void): void {
    const searcher = this.searcher;
    const { offsets, targets, kinds } = this.graph;
    searcher.restrictTo(component);
    const before = searcher.steps;
    const budgetEnd = searcher.steps + Math.max(0, this.stepsMax - this.budgetUsed);
    this.singleRwWalk(component, mask, budgetEnd, record);
    this.budgetUsed += searcher.steps - before;
    searcher.restrictTo(null);
  }

  private singleRwWalk(component: Int32Array, mask: number, budgetEnd: number, record: (start: number, path: number[] | null) => void): void {
    const searcher = this.searcher;
    const { offsets, targets, kinds } = this.graph;
    for (const node of component) {
      for (let edge = offsets[node]; edge < offsets[node + 1]; edge++) {
        if (kinds[edge] !== EdgeKind.rw || !searcher.contains(targets[edge])) continue;
        const path = searcher.shortestPath(targets[edge], node, mask, budgetEnd);
        if (path) {
          record(node, [edge, ...path]);
          return;
        }
        // Naming only: the exact searches already decided whether a cycle exists.
        if (searcher.steps > budgetEnd) return;
      }
    }
  }

  /** Snapshot isolation's question, from every node in turn, until one walk is found or the budget ends. */
  private findNonadjacent(component: Int32Array, mask: number, record: (start: number, path: number[] | null) => void): void {
    const searcher = this.searcher;
    searcher.restrictTo(component);
    const before = searcher.steps;
    const budgetEnd = searcher.steps + Math.max(0, this.stepsMax - this.budgetUsed);
    for (const node of component) {
      if (node >= this.transactions.count) continue; // a cycle always passes through a transaction
      const path = searcher.walkWithoutAdjacentRw(node, mask, budgetEnd);
      if (path) {
        record(node, path);
        break;
      }
      if (searcher.steps > budgetEnd) {
        this.incomplete = 'cycles without adjacent rw edges (snapshot isolation)';
        break;
      }
    }
    this.budgetUsed += searcher.steps - before;
    searcher.restrictTo(null);
  }

  /** Names a cycle by its edges: rw count and adjacency, wr presence, and whether order edges were needed. */
  private classify(path: number[]): CycleType {
    const kinds = this.graph.kinds;
    let rwCount = 0;
    let wrCount = 0;
    let order = '';
    let adjacentRw = false;
    for (let position = 0; position < path.length; position++) {
      const kind = kinds[path[position]];
      if (kind === EdgeKind.rw) {
        rwCount++;
        if (kinds[path[(position + 1) % path.length]] === EdgeKind.rw) adjacentRw = true;
      } else if (kind === EdgeKind.wr) wrCount++;
      else if (kind === EdgeKind.realtime) order = '-realtime';
      else if (kind === EdgeKind.process && order === '') order = '-process';
    }
    let base: string;
    if (rwCount === 0) base = wrCount === 0 ? 'G0' : 'G1c';
    else if (rwCount === 1) base = 'G-single';
    else base = adjacentRw ? 'G2-item' : 'G-nonadjacent';
    return `${base}${order}` as CycleType;
  }

  /** The cycle as transactions and explained edges, with chains of time nodes folded into one realtime edge. */
  private steps(start: number, path: number[]): CycleStep[] {
    const { targets, kinds, keys } = this.graph;
    const count = this.transactions.count;
    const sources: number[] = [];
    let node = start;
    for (const edge of path) {
      sources.push(node);
      node = targets[edge];
    }
    // Begin at a transaction: a cycle found from a realtime edge may start at a time node.
    let first = sources.findIndex((source) => source < count);
    if (first < 0) first = 0;
    const order = [...path.slice(first), ...path.slice(0, first)];
    const orderSources = [...sources.slice(first), ...sources.slice(0, first)];
    const txnSteps: Array<{ txn: number; edge: number }> = [];
    for (let position = 0; position < order.length; position++) {
      if (orderSources[position] < count) txnSteps.push({ txn: orderSources[position], edge: order[position] });
    }
    const name = (txn: number) => `T${this.summary(txn).index}`;
    return txnSteps.map((step, position) => {
      const next = txnSteps[(position + 1) % txnSteps.length].txn;
      const kind = kinds[step.edge];
      const keyId = keys[step.edge];
      const result: CycleStep = { txn: this.summary(step.txn), edge: edgeKindName(kind), explanation: '' };
      if (kind & dataEdges) {
        const explained = this.inference.explain(kind, step.txn, next, keyId, name);
        result.key = this.inference.keys[keyId];
        result.value = explained.value;
        result.explanation = explained.text;
      } else if (kind === EdgeKind.process) {
        result.explanation = `${name(step.txn)} completed before ${name(next)} began on the same process ${this.transactions.process[step.txn]}`;
      } else {
        result.explanation = `${name(step.txn)} completed before ${name(next)} was invoked (op ${this.summary(next).invokeIndex})`;
      }
      return result;
    });
  }
}
