// A seeded simulated linearizable register store: histories of any size for the report benchmark.
import type { History, Op } from '../../src/history/types.js';

export interface SyntheticOptions {
  operations: number;
  processes: number;
  keys: number;
  seed: number;
  /** Fraction of ops that end in info (timeouts) and in fail. */
  infoFraction?: number;
  failFraction?: number;
}

/** Mulberry32: a small seeded [0,1) source, so the same seed gives the same history. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

interface Planned {
  process: number;
  f: 'read' | 'write' | 'cas';
  key: string;
  invokeNs: number;
  pointNs: number;
  completeNs: number;
  value: unknown;
  outcome: 'ok' | 'fail' | 'info';
  result: unknown;
}

/**
 * Each process runs ops back to back; each op takes effect at one instant between its invoke and
 * completion, and ops are applied to the registers in the order of those instants, so the history is
 * linearizable by construction (fail ops take no effect; info ops take effect but report no result).
 */
export function syntheticRegisterHistory(options: SyntheticOptions): History {
  const random = seededRandom(options.seed);
  const infoFraction = options.infoFraction ?? 0.01;
  const failFraction = options.failFraction ?? 0.01;
  const perProcess = Math.ceil(options.operations / options.processes);
  const planned: Planned[] = [];
  let nextValue = 1;
  for (let process = 0; process < options.processes; process++) {
    let clockNs = Math.floor(random() * 1_000_000);
    for (let step = 0; step < perProcess && planned.length < options.operations; step++) {
      const roll = random();
      const f = roll < 0.5 ? 'read' : roll < 0.8 ? 'write' : 'cas';
      const latencyNs = Math.floor(200_000 + random() ** 3 * 40_000_000);
      const outcomeRoll = random();
      const outcome = outcomeRoll < infoFraction ? 'info' : outcomeRoll < infoFraction + failFraction ? 'fail' : 'ok';
      const key = `k${Math.floor(random() * options.keys)}`;
      const value = f === 'read' ? null : f === 'write' ? nextValue++ : [Math.floor(random() * 5), nextValue++];
      planned.push({ process, f, key, invokeNs: clockNs, pointNs: clockNs + Math.floor(latencyNs * random()), completeNs: clockNs + latencyNs, value, outcome, result: value });
      clockNs += latencyNs + Math.floor(random() * 2_000_000);
    }
  }
  const registers = new Map<string, unknown>();
  for (const op of [...planned].sort((a, b) => a.pointNs - b.pointNs)) {
    if (op.outcome === 'fail') continue;
    const current = registers.has(op.key) ? registers.get(op.key) : null;
    if (op.f === 'read') op.result = current;
    else if (op.f === 'write') registers.set(op.key, op.value);
    else {
      const [expected, next] = op.value as [number, number];
      if (current === expected) registers.set(op.key, next);
      else if (op.outcome === 'ok') op.outcome = 'fail';
    }
  }
  const events: Op[] = [];
  for (const op of planned) {
    events.push({ index: 0, process: op.process, type: 'invoke', f: op.f, key: op.key, value: op.value, time: op.invokeNs });
    if (op.outcome === 'info') events.push({ index: 0, process: op.process, type: 'info', f: op.f, key: op.key, value: op.value, time: op.completeNs, error: 'timeout' });
    else events.push({ index: 0, process: op.process, type: op.outcome, f: op.f, key: op.key, value: op.f === 'read' ? op.result : op.value, time: op.completeNs });
  }
  // Stable sort by time keeps each process's invoke before its completion.
  events.sort((a, b) => a.time - b.time);
  events.forEach((op, index) => (op.index = index));
  return events;
}

/**
 * Makes a linearizable register history certainly invalid: an ok read that began after a write w2 completed,
 * where w2 began after an earlier write w1 of the same key completed, is made to return w1's value (values
 * are unique, so nothing else could have written it). Returns undefined when the history has no such triple.
 */
export function injectStaleRead(history: History): History | undefined {
  const completionOf = new Map<Op, Op>();
  const open = new Map<unknown, Op>();
  for (const op of history) {
    if (typeof op.process !== 'number') continue;
    if (op.type === 'invoke') open.set(op.process, op);
    else {
      const invoke = open.get(op.process);
      if (invoke) completionOf.set(invoke, op);
      open.delete(op.process);
    }
  }
  const lastWrite = new Map<unknown, { invoke: Op; completion: Op }>();
  const ordered = new Map<unknown, { older: unknown; newerCompletedAt: number }>();
  for (const op of history) {
    if (op.type !== 'invoke') continue;
    const completion = completionOf.get(op);
    if (!completion || completion.type !== 'ok') continue;
    if (op.f === 'write') {
      const previous = lastWrite.get(op.key);
      if (previous && previous.completion.time < op.time) ordered.set(op.key, { older: previous.invoke.value, newerCompletedAt: completion.time });
      lastWrite.set(op.key, { invoke: op, completion });
    } else if (op.f === 'read') {
      const pair = ordered.get(op.key);
      if (pair && op.time > pair.newerCompletedAt && completion.value !== pair.older) {
        return history.map((candidate) => (candidate === completion ? { ...candidate, value: pair.older } : candidate));
      }
    }
  }
  return undefined;
}
