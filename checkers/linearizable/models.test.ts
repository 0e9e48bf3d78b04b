// Proves each model's sequential semantics step by step (legal and illegal transitions, initial
// states, Knossos' nil rule) and that its optional hints (readOnly, blind, total, precondition,
// reachable) tell the truth about its own step function on sampled states and ops.
import { describe, expect, it } from 'vitest';
import { canonicalJson, getModel, modelNames, type Model, type ModelOp } from './models.js';

const ok = (f: string, value: unknown): ModelOp => ({ f, value, outcome: 'ok' });
const info = (f: string, value: unknown): ModelOp => ({ f, value, outcome: 'info' });

/** Runs ops from the model's initial state; the state after each, or undefined once one is illegal. */
function run(model: Model, ops: ModelOp[]): unknown {
  let state: unknown = model.init(null);
  for (const op of ops) {
    if (state === undefined) return undefined;
    state = model.step(state, op);
  }
  return state;
}

describe('model registry', () => {
  it('lists the seven models', () => {
    expect([...modelNames].sort()).toEqual(['cas-register', 'fifo-queue', 'kv-append', 'multi-register', 'mutex', 'register', 'set']);
  });
  it('names the valid models when asked for an unknown one', () => {
    expect(() => getModel('queue')).toThrow(/unknown model "queue".*fifo-queue.*mutex/);
  });
});

describe('register and cas-register', () => {
  it('reads see the last write; the initial value defaults to null', () => {
    const register = getModel('register');
    expect(run(register, [ok('read', null)])).toBeNull();
    expect(run(register, [ok('write', 3), ok('read', 3)])).toBe(3);
    expect(run(register, [ok('write', 3), ok('read', 4)])).toBeUndefined();
    expect(run(register, [ok('cas', [null, 1])])).toBeUndefined();
  });
  it('cas succeeds only on the expected value; Knossos registers start at 0', () => {
    const cas = getModel('cas-register', { initial: 0 });
    expect(run(cas, [ok('cas', [0, 2]), ok('read', 2)])).toBe(2);
    expect(run(cas, [ok('cas', [1, 2])])).toBeUndefined();
  });
  it('compares values structurally, not by identity', () => {
    const register = getModel('register');
    expect(run(register, [ok('write', { a: [1, 2] }), ok('read', { a: [1, 2] })])).toEqual({ a: [1, 2] });
  });
  it("honours Knossos' rule only when asked: a read of nil matches any value", () => {
    expect(run(getModel('cas-register', { initial: 0 }), [ok('write', 5), ok('read', null)])).toBeUndefined();
    expect(run(getModel('cas-register', { initial: 0, nilReadsAny: true }), [ok('write', 5), ok('read', null)])).toBe(5);
  });
});

describe('multi-register', () => {
  const model = getModel('multi-register', { initial: { x: 0, y: 0 } });
  it('applies micro-ops in order inside one txn', () => {
    expect(run(model, [ok('txn', [['write', 'x', 1], ['read', 'x', 1], ['read', 'y', 0]])])).toEqual({ x: 1, y: 0 });
    expect(run(model, [ok('txn', [['read', 'x', 1]])])).toBeUndefined();
  });
  it('does not mutate the state it was given', () => {
    const initial = model.init(null);
    model.step(initial, ok('txn', [['write', 'y', 9]]));
    expect(initial).toEqual({ x: 0, y: 0 });
  });
});

describe('kv-append', () => {
  const model = getModel('kv-append');
  it('appends concatenate, put replaces, get reads the whole string', () => {
    expect(run(model, [ok('append', 'a'), ok('append', 'b'), ok('get', 'ab'), ok('put', 'z'), ok('get', 'z')])).toBe('z');
    expect(run(model, [ok('append', 'a'), ok('get', '')])).toBeUndefined();
  });
});

describe('set', () => {
  const model = getModel('set');
  it('a read returns exactly the elements added, in any order', () => {
    expect(run(model, [ok('add', 2), ok('add', 1), ok('read', [1, 2])])).toBeDefined();
    expect(run(model, [ok('add', 2), ok('add', 1), ok('read', [2, 1])])).toBeDefined();
    expect(run(model, [ok('add', 2), ok('read', [])])).toBeUndefined();
    expect(run(model, [ok('add', 2), ok('read', [2, 3])])).toBeUndefined();
  });
});

describe('fifo-queue', () => {
  const model = getModel('fifo-queue');
  it('dequeues in enqueue order; null means empty', () => {
    expect(run(model, [ok('enqueue', 1), ok('enqueue', 2), ok('dequeue', 1), ok('dequeue', 2), ok('dequeue', null)])).toEqual([]);
    expect(run(model, [ok('enqueue', 1), ok('enqueue', 2), ok('dequeue', 2)])).toBeUndefined();
    expect(run(model, [ok('enqueue', 1), ok('dequeue', null)])).toBeUndefined();
  });
  it('an info dequeue takes the head, whatever it was', () => {
    expect(run(model, [ok('enqueue', 1), ok('enqueue', 2), info('dequeue', null), ok('dequeue', 2)])).toEqual([]);
  });
});

describe('mutex', () => {
  it("follows Knossos' lock: acquire only when free, release only when held", () => {
    const model = getModel('mutex');
    expect(run(model, [ok('acquire', null), ok('release', null), ok('acquire', null)])).toBe('held');
    expect(run(model, [ok('acquire', null), ok('acquire', null)])).toBeUndefined();
    expect(run(model, [ok('release', null)])).toBeUndefined();
    expect(run(getModel('mutex', { initial: 'held' }), [ok('release', null)])).toBe('free');
  });
});

/** Sample ops and states per model, to check the hints against `step`. */
const samples: Record<string, { states: unknown[]; ops: ModelOp[] }> = {
  register: { states: [null, 0, 1, 'a'], ops: [ok('read', 1), ok('read', null), ok('write', 1), ok('write', 'a')] },
  'cas-register': { states: [null, 0, 1], ops: [ok('read', 0), ok('write', 1), ok('cas', [0, 1]), ok('cas', [1, 1])] },
  'multi-register': { states: [{ x: 0, y: 0 }, { x: 1, y: 0 }], ops: [ok('txn', [['read', 'x', 1]]), ok('txn', [['write', 'x', 1]])] },
  'kv-append': { states: ['', 'a', 'ab'], ops: [ok('get', 'a'), ok('put', 'a'), ok('append', 'b')] },
  set: { states: [[], ['1'], ['1', '2']], ops: [ok('add', 1), ok('add', 2), ok('read', [1]), ok('read', [])] },
  'fifo-queue': { states: [[], ['1'], ['1', '2']], ops: [ok('enqueue', 1), ok('dequeue', 1), ok('dequeue', null), info('dequeue', null)] },
  mutex: { states: ['free', 'held'], ops: [ok('acquire', null), ok('release', null)] },
};

describe('model hints agree with step', () => {
  for (const name of modelNames) {
    it(name, () => {
      const model = getModel(name);
      const hash = model.hash ?? canonicalJson;
      const { states, ops } = samples[name];
      for (const op of ops) {
        const results = states.map((state) => model.step(state, op));
        if (model.readOnly?.(op)) results.forEach((result, i) => result !== undefined && expect(hash(result)).toBe(hash(states[i])));
        if (model.total?.(op) || model.blind?.(op)) results.forEach((result) => expect(result).not.toBeUndefined());
        if (model.blind?.(op)) expect(new Set(results.map((result) => hash(result))).size).toBe(1);
        const precondition = model.precondition?.(op);
        if (precondition) results.forEach((result, i) => result !== undefined && expect(hash(states[i])).toBe(hash(precondition.state)));
      }
      if (model.reachable) {
        // Whatever non-blind ops lead from one sampled state to another must be allowed by `reachable`.
        for (const from of states) {
          for (const op of ops) {
            if (model.blind?.(op)) continue;
            const to = model.step(from, op);
            if (to !== undefined) expect(model.reachable(from, to)).toBe(true);
          }
        }
      }
    });
  }
});
