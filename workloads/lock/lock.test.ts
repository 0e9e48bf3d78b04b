// Proves the lock, counter, bank and queue generators: seeded (same seed, same ops), ops of the shapes their
// clients and checkers expect, and the lock's holding plans (acquire first, renew every 3 writes, unique writes).
import { describe, expect, it } from 'vitest';
import { createRandom, type Generator, type GeneratorContext, type OpRequest } from '../../src/generator/index.js';
import { bankAccounts, bankGenerator } from '../bank/index.js';
import { counterGenerator } from '../counter/index.js';
import { queueGenerator } from '../queue/index.js';
import { defaultSpec } from '../../src/spec/types.js';
import { lockGenerator, lockTtlMsDefault, lockWorkload } from './index.js';

/** `count` ops for thread 0 (or the given threads in turn), each context with its thread's own seeded stream. */
function draw(generator: Generator, count: number, seed = 1, threads: number[] = [0]): Array<OpRequest & { atNs: number; thread: number }> {
  const randoms = new Map(threads.map((thread) => [thread, createRandom(seed + thread)]));
  const ops: Array<OpRequest & { atNs: number; thread: number }> = [];
  for (let position = 0; position < count; position++) {
    const thread = threads[position % threads.length];
    const context: GeneratorContext = { timeNs: 0, thread, process: thread, threads, concurrency: threads.length, random: randoms.get(thread)!, outstanding: 0 };
    const next = generator.next(context);
    if (next.type !== 'op') throw new Error(`expected an op, got ${next.type}`);
    ops.push({ ...next.op, atNs: next.atNs, thread });
  }
  return ops;
}

describe('lock generator', () => {
  it('plans holdings: acquire after a bounded pause, writes with a renew after every third, release or walk away', () => {
    const ops = draw(lockGenerator({ locks: 2, ttlMs: 3000 }), 400, 3, [0, 1, 2]);
    const byThread = new Map<number, typeof ops>();
    for (const op of ops) byThread.set(op.thread, [...(byThread.get(op.thread) ?? []), op]);
    let releases = 0;
    let walkAways = 0;
    for (const [thread, mine] of byThread) {
      expect(mine[0].f).toBe('acquire');
      for (const op of mine) {
        expect(op.key).toBe(`lock-${thread % 2}`);
        if (op.f === 'acquire') {
          expect(op.value).toEqual({ ttlMs: 3000 });
          expect(op.atNs).toBeGreaterThanOrEqual(0);
          expect(op.atNs).toBeLessThan(1500 * 1e6);
        } else expect(op.atNs).toBe(0);
      }
      // Split into holdings at each acquire and check each plan's shape.
      const holdings: string[][] = [];
      for (const op of mine) (op.f === 'acquire' ? holdings.push([]) : holdings[holdings.length - 1].push(op.f));
      for (const plan of holdings.slice(0, -1)) {
        const body = plan[plan.length - 1] === 'release' ? plan.slice(0, -1) : plan;
        if (body.length < plan.length) releases++;
        else walkAways++;
        let writesSinceRenew = 0;
        for (const f of body) {
          if (f === 'write') writesSinceRenew++;
          else {
            expect(f).toBe('renew');
            expect(writesSinceRenew).toBe(3);
            writesSinceRenew = 0;
          }
        }
      }
    }
    expect(releases).toBeGreaterThan(0);
    expect(walkAways).toBeGreaterThan(0);
    const writes = ops.filter((op) => op.f === 'write').map((op) => (op.value as { value: string }).value);
    expect(new Set(writes).size).toBe(writes.length);
  });

  it('takes its lease length from the target option lockTtlMs, and about two clients per lock', () => {
    const spec = { ...defaultSpec, name: 'lock', seed: 1, concurrency: 6, keys: 5 };
    expect(lockWorkload.create({ ...spec, targetOptions: { lockTtlMs: 5000, lockMode: 'fencing' } }).checkContext().options).toEqual({ locks: 3, ttlMs: 5000, mode: 'fencing' });
    expect(lockWorkload.create(spec).checkContext().options).toEqual({ locks: 3, ttlMs: lockTtlMsDefault, mode: 'mutual-exclusion' });
  });

  it('is seeded: the same seed gives the same ops', () => {
    const first = draw(lockGenerator({ locks: 1, ttlMs: 2000 }), 100, 9, [0, 1]);
    const second = draw(lockGenerator({ locks: 1, ttlMs: 2000 }), 100, 9, [0, 1]);
    expect(second).toEqual(first);
  });
});

describe('counter, bank and queue generators', () => {
  it('counter: positive adds and reads', () => {
    const ops = draw(counterGenerator(), 300);
    expect(ops.every((op) => (op.f === 'add' && typeof op.value === 'number' && op.value >= 1 && op.value <= 5) || (op.f === 'read' && op.value === null))).toBe(true);
    expect(ops.some((op) => op.f === 'read')).toBe(true);
  });

  it('bank: transfers between two different known accounts, reads naming every account', () => {
    const ops = draw(bankGenerator(), 300);
    for (const op of ops) {
      expect(op.accounts).toEqual(bankAccounts);
      if (op.f === 'transfer') {
        const { from, to, amount } = op.value as { from: string; to: string; amount: number };
        expect(bankAccounts).toContain(from);
        expect(bankAccounts).toContain(to);
        expect(from).not.toBe(to);
        expect(amount).toBeGreaterThan(0);
      } else expect(op.f).toBe('read');
    }
  });

  it('queue: unique enqueues and dequeues with unique ids', () => {
    const ops = draw(queueGenerator(), 300);
    const elements = ops.filter((op) => op.f === 'enqueue').map((op) => op.value);
    const ids = ops.filter((op) => op.f === 'dequeue').map((op) => op.dequeueId);
    expect(new Set(elements).size).toBe(elements.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(0);
  });
});
