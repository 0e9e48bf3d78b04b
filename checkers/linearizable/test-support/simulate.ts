// A simulated linearizable store for tests: every op takes effect atomically at a random instant
// inside its invoke..completion interval, so the histories it writes are linearizable by construction.
import type { History, Key, Op } from '../../../src/history/types.js';

/** A deterministic random source (mulberry32), so a fast-check seed reproduces a whole history. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the store does with one op: its completion value, or that it failed (and changed nothing). */
export interface Execution {
  outcome: 'ok' | 'fail';
  value: unknown;
  state: unknown;
}

/** A store's sequential behaviour and a generator of its ops. */
export interface StoreSpec {
  model: string;
  initial: unknown;
  /** A random op: f and invocation value. */
  nextOp(random: () => number, counter: () => number): { f: string; value: unknown; key?: Key };
  execute(state: unknown, f: string, value: unknown): Execution;
  /** Keys, when the store holds several independent ones (state is then per key). */
  keys?: Key[];
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

export const storeSpecs: Record<string, StoreSpec> = {
  register: {
    model: 'register',
    initial: null,
    nextOp: (random) => (random() < 0.5 ? { f: 'read', value: null } : { f: 'write', value: Math.floor(random() * 4) }),
    execute: (state, f, value) => (f === 'read' ? { outcome: 'ok', value: state, state } : { outcome: 'ok', value, state: value }),
  },
  'cas-register': {
    model: 'cas-register',
    initial: null,
    nextOp(random) {
      const roll = random();
      if (roll < 0.4) return { f: 'read', value: null };
      if (roll < 0.7) return { f: 'write', value: Math.floor(random() * 4) };
      return { f: 'cas', value: [Math.floor(random() * 4), Math.floor(random() * 4)] };
    },
    execute(state, f, value) {
      if (f === 'read') return { outcome: 'ok', value: state, state };
      if (f === 'write') return { outcome: 'ok', value, state: value };
      const [expected, next] = value as [unknown, unknown];
      return state === expected ? { outcome: 'ok', value, state: next } : { outcome: 'fail', value, state };
    },
  },
  set: {
    model: 'set',
    initial: [],
    nextOp: (random, counter) => (random() < 0.4 ? { f: 'read', value: null } : { f: 'add', value: counter() }),
    execute(state, f, value) {
      const elements = state as number[];
      if (f === 'read') return { outcome: 'ok', value: [...elements].sort((a, b) => a - b), state };
      return { outcome: 'ok', value, state: elements.includes(value as number) ? elements : [...elements, value as number] };
    },
  },
  'fifo-queue': {
    model: 'fifo-queue',
    initial: [],
    nextOp: (random, counter) => (random() < 0.5 ? { f: 'dequeue', value: null } : { f: 'enqueue', value: counter() }),
    execute(state, f, value) {
      const queue = state as unknown[];
      if (f === 'enqueue') return { outcome: 'ok', value, state: [...queue, value] };
      return queue.length === 0 ? { outcome: 'ok', value: null, state } : { outcome: 'ok', value: queue[0], state: queue.slice(1) };
    },
  },
  mutex: {
    model: 'mutex',
    initial: 'free',
    nextOp: (random) => ({ f: random() < 0.5 ? 'acquire' : 'release', value: null }),
    execute(state, f, value) {
      if (f === 'acquire') return state === 'free' ? { outcome: 'ok', value, state: 'held' } : { outcome: 'fail', value, state };
      return state === 'held' ? { outcome: 'ok', value, state: 'free' } : { outcome: 'fail', value, state };
    },
  },
  'kv-append': {
    model: 'kv-append',
    initial: '',
    keys: ['a', 'b'],
    nextOp(random, counter) {
      const key = pick(random, ['a', 'b']);
      const roll = random();
      if (roll < 0.4) return { f: 'get', value: null, key };
      if (roll < 0.55) return { f: 'put', value: `p${counter()}.`, key };
      return { f: 'append', value: `${counter()}.`, key };
    },
    execute(state, f, value) {
      const text = state as string;
      if (f === 'get') return { outcome: 'ok', value: text, state };
      if (f === 'put') return { outcome: 'ok', value, state: value };
      return { outcome: 'ok', value, state: text + (value as string) };
    },
  },
  // One key only, so that small histories put many appends, puts and gets on the same string.
  'kv-append-one-key': {
    model: 'kv-append',
    initial: '',
    nextOp(random, counter) {
      const roll = random();
      if (roll < 0.4) return { f: 'get', value: null, key: 'a' };
      if (roll < 0.6) return { f: 'put', value: `p${counter()}.`, key: 'a' };
      return { f: 'append', value: `${counter()}.`, key: 'a' };
    },
    execute(state, f, value) {
      const text = state as string;
      if (f === 'get') return { outcome: 'ok', value: text, state };
      if (f === 'put') return { outcome: 'ok', value, state: value };
      return { outcome: 'ok', value, state: text + (value as string) };
    },
  },
  'multi-register': {
    model: 'multi-register',
    initial: { x: 0, y: 0 },
    nextOp(random) {
      const micros: unknown[] = [];
      const count = 1 + Math.floor(random() * 2);
      for (let i = 0; i < count; i++) {
        const register = pick(random, ['x', 'y']);
        micros.push(random() < 0.5 ? ['read', register, null] : ['write', register, Math.floor(random() * 3)]);
      }
      return { f: 'txn', value: micros };
    },
    execute(state, f, value) {
      const registers = { ...(state as Record<string, unknown>) };
      const result = (value as [string, string, unknown][]).map(([microF, register, microValue]) => {
        if (microF === 'read') return [microF, register, registers[register] ?? null];
        registers[register] = microValue;
        return [microF, register, microValue];
      });
      return { outcome: 'ok', value: result, state: registers };
    },
  },
};

export interface SimulationOptions {
  ops: number;
  processes: number;
  /** Chance that an op's process crashes: the op ends as info (or with no completion at all). */
  crashProbability: number;
  seed: number;
}

/**
 * Runs `options.ops` ops of the store on `options.processes` concurrent processes with random
 * overlaps. A crashed op took effect or not (chance 1/2) and ends as `info` or with no completion;
 * its process is retired and replaced by a fresh one, as in Jepsen.
 */
export function simulate(spec: StoreSpec, options: SimulationOptions): History {
  const random = seededRandom(options.seed);
  let counter = 0;
  const nextCounter = (): number => ++counter;
  interface Planned {
    process: number;
    f: string;
    value: unknown;
    key?: Key;
    invokeAt: number;
    effectAt: number;
    completeAt: number;
    crashed: boolean;
    applies: boolean;
    silent: boolean;
    result?: Execution;
  }
  const planned: Planned[] = [];
  const clocks = new Array(options.processes).fill(0).map(() => random() * 5);
  const processIds = clocks.map((_, i) => i);
  let nextProcess = options.processes;
  for (let i = 0; i < options.ops; i++) {
    const worker = Math.floor(random() * options.processes);
    const invokeAt = clocks[worker] + random() * 3;
    const duration = 0.5 + random() * 6;
    const completeAt = invokeAt + duration;
    const crashed = random() < options.crashProbability;
    const op = spec.nextOp(random, nextCounter);
    planned.push({
      process: processIds[worker],
      f: op.f,
      value: op.value,
      key: op.key,
      invokeAt,
      effectAt: invokeAt + random() * duration,
      completeAt,
      crashed,
      applies: !crashed || random() < 0.5,
      silent: crashed && random() < 0.5,
    });
    clocks[worker] = completeAt + random() * 2;
    if (crashed) processIds[worker] = nextProcess++;
  }
  const states = new Map<Key, unknown>();
  for (const op of [...planned].sort((a, b) => a.effectAt - b.effectAt)) {
    if (!op.applies) continue;
    const key = op.key ?? null;
    const state = states.has(key) ? states.get(key) : spec.initial;
    const result = spec.execute(state, op.f, op.value);
    op.result = result;
    if (result.outcome === 'ok') states.set(key, result.state);
  }
  const events: { at: number; op: Omit<Op, 'index' | 'time'> }[] = [];
  for (const op of planned) {
    const base = { process: op.process, f: op.f, ...(op.key === undefined ? {} : { key: op.key }) };
    events.push({ at: op.invokeAt, op: { ...base, type: 'invoke', value: op.value } });
    if (op.crashed) {
      if (!op.silent) events.push({ at: op.completeAt, op: { ...base, type: 'info', value: op.value } });
      continue;
    }
    const result = op.result!;
    events.push({ at: op.completeAt, op: { ...base, type: result.outcome, value: result.value } });
  }
  events.sort((a, b) => a.at - b.at);
  return events.map((event, index) => ({ ...event.op, index, time: Math.round(event.at * 1000) }) as Op);
}
