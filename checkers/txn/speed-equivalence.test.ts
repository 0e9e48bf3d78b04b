// The speed work on the transactional checker must not change a result: the optimized list-append inference
// against the reference copy of the inference as it was (same edges in the same order, same anomalies and
// examples), and the acyclicity shortcut before Tarjan against Tarjan itself, on generated anomalous histories.
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/generator/random.js';
import type { History } from '../../src/history/types.js';
import { AnomalyLog, orderEdgesOf, type ConsistencyModel } from './anomalies.js';
import { generateTxnHistory } from './generate.js';
import { buildGraph, dataEdges, EdgeKind, Searcher, type EdgeList } from './graph.js';
import type { Inference, PlainFinding } from './inference.js';
import { inferListAppend } from './list-append.js';
import { inferListAppendReference } from './test-support/list-append-reference.js';
import { collectTransactions } from './transactions.js';
import { addOrderEdges } from './index.js';

interface Variant {
  seed: number;
  transactions: number;
  processes: number;
  anomalyRate: number;
  isolation: 'serializable' | 'snapshot';
  /** Chance that an ok read is damaged: cut short, reordered, given a garbage or duplicated element. */
  damage: number;
  /** Chance that an append reuses a value already appended to its key (list-append needs unique values). */
  duplicateAppends: number;
}

/** A generated history, then some reads and appends damaged so every kind of finding shows up. */
function historyFor(variant: Variant): History {
  const history = generateTxnHistory({
    workload: 'list-append',
    transactions: variant.transactions,
    processes: variant.processes,
    seed: variant.seed,
    activeKeys: 4,
    writesPerKey: 12,
    opsPerTransactionMax: 5,
    isolation: variant.isolation,
    infoRate: 0.1,
    failRate: 0.1,
    anomalyRate: variant.anomalyRate,
    finalReads: true,
  });
  const random = createRandom(variant.seed ^ 0x0dd5);
  /** Values appended by transactions that failed, per key: a read showing one is an aborted read (G1a). */
  const aborted = new Map<unknown, unknown[]>();
  for (const op of history) {
    if (op.type !== 'fail') continue;
    for (const [f, key, value] of op.value as Array<[string, unknown, unknown]>) if (f === 'append') aborted.set(key, [...(aborted.get(key) ?? []), value]);
  }
  for (const op of history) {
    const micros = op.value as Array<[string, unknown, unknown]>;
    op.value = micros.map((micro) => {
      if (micro[0] === 'append' && random.next() < variant.duplicateAppends) return ['append', micro[1], Math.max(1, (micro[2] as number) - 1)];
      if (op.type !== 'ok' || micro[0] !== 'r' || !Array.isArray(micro[2]) || random.next() >= variant.damage) return micro;
      const list = [...(micro[2] as unknown[])];
      const roll = random.int(5);
      const failedValues = aborted.get(micro[1]) ?? [];
      if (roll === 4 && failedValues.length > 0) list.push(random.pick(failedValues));
      else if (roll === 0) list.length = random.int(list.length + 1);
      else if (roll === 1) list.reverse();
      else if (roll === 2) list.splice(random.int(list.length + 1), 0, 10_000 + random.int(5));
      else if (list.length > 0) list.push(list[random.int(list.length)]);
      return ['r', micro[1], list];
    });
  }
  return history;
}

function edgesOf(edges: EdgeList): number[][] {
  const rows: number[][] = [];
  for (let edge = 0; edge < edges.count; edge++) rows.push([edges.from[edge], edges.to[edge], edges.kind[edge], edges.key[edge]]);
  return rows;
}

function outcomeOf(infer: (...args: Parameters<typeof inferListAppend>) => Inference, history: History) {
  const log = new AnomalyLog<PlainFinding>(1_000_000);
  const inference = infer(collectTransactions(history), log);
  return {
    edges: edgesOf(inference.edges),
    keys: inference.keys,
    notes: inference.notes,
    unreliable: inference.unreliable,
    counts: [...log.counts],
    examples: JSON.stringify([...log.examples]),
  };
}

const variants: Variant[] = [];
for (let seed = 1; seed <= 24; seed++) {
  variants.push({
    seed,
    transactions: 150 + seed * 40,
    processes: 1 + (seed % 7),
    anomalyRate: [0, 0.02, 0.2][seed % 3],
    isolation: seed % 4 === 0 ? 'snapshot' : 'serializable',
    damage: [0, 0.01, 0.1, 0.4][seed % 4],
    duplicateAppends: seed % 5 === 0 ? 0.02 : 0,
  });
}

describe('the optimized transactional checker gives the results of the reference', () => {
  it('list-append inference: the same edges in the same order, the same findings, notes and keys', () => {
    const kinds = new Set<string>();
    for (const variant of variants) {
      const history = historyFor(variant);
      const optimized = outcomeOf(inferListAppend, history);
      const reference = outcomeOf(inferListAppendReference, history);
      expect(optimized, JSON.stringify(variant)).toEqual(reference);
      for (const [type] of reference.counts) kinds.add(type);
    }
    // The damaged histories must exercise what the fast path skips, or the comparison proves little.
    for (const type of ['incompatible-order', 'garbage-read', 'duplicate-elements', 'duplicate-write', 'G1a', 'G1b', 'internal']) expect(kinds).toContain(type);
  });

  it('acyclicity shortcut: Tarjan finds no cyclic component exactly when the shortcut says the graph is acyclic', () => {
    let cyclic = 0;
    let acyclic = 0;
    for (const variant of variants) {
      for (const consistency of ['serializable', 'strict-serializable', 'strong-session-serializable'] as ConsistencyModel[]) {
        const history = historyFor({ ...variant, damage: 0, duplicateAppends: 0 });
        const transactions = collectTransactions(history);
        const inference = inferListAppend(transactions, new AnomalyLog<PlainFinding>(8));
        const order = orderEdgesOf(consistency);
        const nodeCount = addOrderEdges(transactions, inference.edges, order);
        const graph = buildGraph(nodeCount, inference.edges);
        const mask = dataEdges | (order === 'realtime' ? EdgeKind.realtime : order === 'process' ? EdgeKind.process : 0);
        const searcher = new Searcher(graph);
        const components = searcher.components(null, mask);
        expect(searcher.acyclic(mask), `${JSON.stringify(variant)} ${consistency}`).toBe(components.length === 0);
        if (components.length === 0) acyclic++;
        else cyclic++;
      }
    }
    expect(cyclic).toBeGreaterThan(10);
    expect(acyclic).toBeGreaterThan(10);
  });
});
