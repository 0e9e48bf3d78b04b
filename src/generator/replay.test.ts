// Proves that a seed replays what each client thread invokes whatever the timing: the runner's main-phase
// generator is driven twice with the same seed but different interleavings of the threads, different clocks
// and info retirements at different moments, and every thread's (f, key, value) sequence agrees.
import { describe, expect, it } from 'vitest';
import { registerGenerator } from '../../workloads/register/index.js';
import { setGenerator } from '../../workloads/set/index.js';
import { mainPhaseGenerator } from '../runner/index.js';
import { createRandom, dealt, repeat, type Generator, type Random, type Thread } from './index.js';

const concurrency = 5;

/**
 * Drives the main-phase generator for `steps` questions. `timingSeed` decides which thread asks next (thread 0
 * asks far more often than the others), how much time passes, and when a thread's process is retired by an info.
 */
function drive(seed: number, makeWorkload: () => Generator, timingSeed: number, steps: number): Map<number, string[]> {
  const root = createRandom(seed);
  const { generator } = mainPhaseGenerator({ concurrency, rate: 1e6, timeLimitSeconds: 1e6 }, makeWorkload(), [], root.fork('client-ops'));
  const threadStreams = new Map<Thread, Random>();
  const randomFor = (thread: Thread) => {
    if (!threadStreams.has(thread)) threadStreams.set(thread, root.fork(`thread:${String(thread)}`));
    return threadStreams.get(thread)!;
  };
  const timing = createRandom(timingSeed);
  const processes = Array.from({ length: concurrency }, (_, thread) => thread);
  const threads: Thread[] = [...processes, 'nemesis'];
  const invoked = new Map<number, string[]>(processes.map((thread) => [thread, []]));
  let timeNs = 0;
  for (let step = 0; step < steps; step++) {
    const thread = timing.next() < 0.5 ? 0 : timing.int(concurrency);
    if (timing.next() < 0.05) processes[thread] += concurrency;
    const next = generator.next({ timeNs, thread, process: processes[thread], threads, concurrency, random: randomFor(thread), outstanding: timing.int(3) });
    if (next.type === 'op') invoked.get(thread)!.push(`${next.op.f} ${String(next.op.key)} ${JSON.stringify(next.op.value)}`);
    timeNs += timing.int(5_000_000);
  }
  return invoked;
}

/** Same means: per thread, one run's sequence is a prefix of the other's (timing decides only how far each got). */
function expectSamePerThread(first: Map<number, string[]>, second: Map<number, string[]>, atLeast: number): void {
  for (let thread = 0; thread < concurrency; thread++) {
    const a = first.get(thread)!;
    const b = second.get(thread)!;
    const common = Math.min(a.length, b.length);
    expect(common, `thread ${thread} invoked too few ops to compare`).toBeGreaterThanOrEqual(atLeast);
    expect(a.slice(0, common), `thread ${thread}`).toEqual(b.slice(0, common));
  }
}

describe('same seed, same invocations per thread, under any timing', () => {
  const register = () => registerGenerator({ keys: 3, keyDistribution: 'uniform', opsPerKey: 40 });

  it('register: shared live keys and per-key values are dealt in a fixed order', () => {
    const first = drive(42, register, 1, 3000);
    const second = drive(42, register, 2, 3000);
    expectSamePerThread(first, second, 200);
    // And the seed matters: another seed gives thread 0 other ops.
    expect(drive(43, register, 1, 3000).get(0)!.slice(0, 50)).not.toEqual(first.get(0)!.slice(0, 50));
  });

  it('set: unique elements over all threads still reach each thread in the same order', () => {
    expectSamePerThread(drive(7, setGenerator, 3, 2000), drive(7, setGenerator, 4, 2000), 150);
  });

  it('values stay unique per key across threads (the shared state is still shared)', () => {
    const writes = [...drive(42, register, 5, 3000).values()].flat().filter((line) => line.startsWith('write'));
    expect(new Set(writes).size).toBe(writes.length);
  });
});

describe('dealt', () => {
  it('hands each thread its own queue in round-robin order and stops dealing to a retired thread', () => {
    let counter = 0;
    const generator = dealt([0, 1, 2], createRandom(1), repeat(() => ({ f: 'add', value: counter++ })));
    const context = (thread: Thread) => ({ timeNs: 0, thread, process: thread as number, threads: [0, 1, 2], concurrency: 3, random: createRandom(9), outstanding: 0 });
    const take = (thread: Thread) => {
      const next = generator.next(context(thread));
      return next.type === 'op' ? next.op.value : next.type;
    };
    // Thread 2 asks first, yet gets the third op dealt: 0 and 1 wait in the queues of threads 0 and 1.
    expect(take(2)).toBe(2);
    expect(take(0)).toBe(0);
    expect(take(0)).toBe(3);
    expect(take(1)).toBe(1);
    generator.retire(1);
    expect(take(1)).toBe('done');
    // Thread 1's turn is skipped from now on.
    expect(take(2)).toBe(4);
    expect(take(0)).toBe(5);
    expect(take('nemesis')).toBe('done');
  });

  it("keeps a delay the dealt generator asked for, counted from when the thread takes the op", () => {
    const generator = dealt([0, 1], createRandom(1), { next: (context) => ({ type: 'op', op: { f: 'acquire', value: null }, atNs: context.timeNs + 7e6 }) });
    const context = (thread: number, timeNs: number) => ({ timeNs, thread, process: thread, threads: [0, 1], concurrency: 2, random: createRandom(9), outstanding: 0 });
    // Thread 1 asks first, so thread 0's op is dealt at time 0 too, but taken at 5 s: it is due 7 ms after that.
    expect(generator.next(context(1, 0))).toMatchObject({ type: 'op', atNs: 7e6 });
    expect(generator.next(context(0, 5e9))).toMatchObject({ type: 'op', atNs: 5e9 + 7e6 });
  });

  it('a long queue drains in order (a thread that fell far behind catches up)', () => {
    let counter = 0;
    const generator = dealt([0, 1], createRandom(1), repeat(() => ({ f: 'add', value: counter++ })));
    const context = (thread: number) => ({ timeNs: 0, thread, process: thread, threads: [0, 1], concurrency: 2, random: createRandom(9), outstanding: 0 });
    for (let taken = 0; taken < 5000; taken++) generator.next(context(0));
    const caughtUp = Array.from({ length: 5000 }, () => {
      const next = generator.next(context(1));
      return next.type === 'op' ? next.op.value : next.type;
    });
    expect(caughtUp).toEqual(Array.from({ length: 5000 }, (_, index) => 2 * index + 1));
  });

  it('a thread far ahead of a silent one waits once the lead bound is reached', () => {
    const generator = dealt([0, 1], createRandom(1), repeat(() => ({ f: 'read', value: null })), 3);
    const context = { timeNs: 0, thread: 0, process: 0, threads: [0, 1], concurrency: 2, random: createRandom(9), outstanding: 0 };
    const kinds = Array.from({ length: 6 }, () => generator.next(context).type);
    // Thread 1 never asks: its queue holds 3 ops after thread 0's fourth, and then thread 0 must wait.
    expect(kinds).toEqual(['op', 'op', 'op', 'op', 'pending', 'pending']);
    generator.retire(1);
    expect(generator.next(context).type).toBe('op');
  });
});
