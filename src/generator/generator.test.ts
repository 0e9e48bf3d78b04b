// Proves the generators are deterministic in their seed and that each combinator keeps its promise, by driving
// them with a small simulated scheduler (threads asking in a seeded order) and comparing what comes out.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  any,
  clients,
  createRandom,
  delay,
  eachProcess,
  fixedTimeline,
  limit,
  mix,
  nemesis,
  periodicSchedule,
  phases,
  randomSchedule,
  repeat,
  reserve,
  scheduleGenerator,
  sequence,
  stagger,
  timeLimit,
  type Generator,
  type GeneratorContext,
  type Next,
  type SchedulePackage,
  type Thread,
} from './index.js';

function context(overrides: Partial<GeneratorContext> = {}): GeneratorContext {
  const thread = overrides.thread ?? 0;
  return {
    timeNs: 0,
    thread,
    process: typeof thread === 'number' ? thread : 'nemesis',
    threads: [0, 1, 'nemesis'],
    concurrency: 2,
    random: createRandom(1),
    outstanding: 0,
    ...overrides,
  };
}

/** Asks `generator` for up to `questions` ops from threads chosen by `seed`, advancing time by each op's atNs. */
function drive(generator: Generator, seed: number, questions: number, threads: Thread[] = [0, 1, 2]): string[] {
  const order = createRandom(seed);
  const streams = new Map(threads.map((thread) => [thread, createRandom(seed).fork(String(thread))]));
  const out: string[] = [];
  let timeNs = 0;
  for (let asked = 0; asked < questions; asked++) {
    const thread = order.pick(threads);
    const result = generator.next({
      timeNs,
      thread,
      process: typeof thread === 'number' ? thread : 'nemesis',
      threads,
      concurrency: threads.length,
      random: streams.get(thread)!,
      outstanding: 0,
    });
    if (result.type === 'op') {
      timeNs = Math.max(timeNs, result.atNs);
      out.push(`${String(thread)}:${result.op.f}:${JSON.stringify(result.op.value)}@${result.atNs}`);
    } else {
      out.push(`${String(thread)}:${result.type}`);
      timeNs += 1_000_000;
    }
  }
  return out;
}

const fakePackages: SchedulePackage[] = [
  { name: 'partition', startOp: (random) => ({ f: 'start-partition', value: { mode: random() < 0.5 ? 'halves' : 'one' } }), healOp: () => ({ f: 'stop-partition', value: null }) },
  { name: 'kill', startOp: (random) => ({ f: 'kill', value: { targets: random() < 0.5 ? 'one' : 'all' } }), healOp: () => ({ f: 'restart', value: null }) },
];

describe('random', () => {
  it('replays the same stream for the same seed, and forks independently', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const a = createRandom(seed);
        const b = createRandom(seed);
        const drawsA = Array.from({ length: 20 }, () => a.next());
        const drawsB = Array.from({ length: 20 }, () => b.next());
        expect(drawsA).toEqual(drawsB);
        for (const draw of drawsA) expect(draw >= 0 && draw < 1).toBe(true);
        expect(createRandom(seed).fork('x').next()).toBe(createRandom(seed).fork('x').next());
      }),
    );
    expect(createRandom(1).next()).not.toBe(createRandom(2).next());
  });

  it('int stays in range and covers it', () => {
    const random = createRandom(7);
    const seen = new Set<number>();
    for (let draw = 0; draw < 1000; draw++) seen.add(random.int(5));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('generators', () => {
  const makeWorkload = () =>
    stagger(
      200,
      mix([
        repeat((ctx) => ({ f: 'read', value: null, key: ctx.random.int(3) })),
        repeat((ctx) => ({ f: 'write', value: ctx.random.int(100) })),
      ]),
    );

  it('gives the same ops for the same seed and different ops for another seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        expect(drive(makeWorkload(), seed, 50)).toEqual(drive(makeWorkload(), seed, 50));
      }),
      { numRuns: 50 },
    );
    expect(drive(makeWorkload(), 1, 50)).not.toEqual(drive(makeWorkload(), 2, 50));
  });

  it('mix honours weights and falls through to members that still have ops', () => {
    const counts = { a: 0, b: 0 };
    const weighted = mix([repeat(() => ({ f: 'a', value: null })), repeat(() => ({ f: 'b', value: null }))], [9, 1]);
    const ctx = context({ random: createRandom(3) });
    for (let asked = 0; asked < 1000; asked++) {
      const result = weighted.next(ctx);
      if (result.type === 'op') counts[result.op.f as 'a' | 'b']++;
    }
    expect(counts.a).toBeGreaterThan(800);
    expect(counts.b).toBeGreaterThan(50);
    const fallThrough = mix([sequence([]), sequence([{ f: 'only', value: 1 }])]);
    expect(fallThrough.next(context())).toMatchObject({ type: 'op', op: { f: 'only' } });
    expect(fallThrough.next(context())).toEqual({ type: 'done' });
  });

  it('stagger spaces ops to the requested mean rate', () => {
    const staggered = stagger(100, repeat(() => ({ f: 'x', value: null })));
    const ctx = context({ random: createRandom(5) });
    let last = 0;
    for (let asked = 0; asked < 2000; asked++) {
      const result = staggered.next(ctx) as Extract<Next, { type: 'op' }>;
      expect(result.atNs).toBeGreaterThanOrEqual(last);
      last = result.atNs;
    }
    // 2000 ops at 100/s: about 20 s of schedule.
    expect(last / 1e9).toBeGreaterThan(17);
    expect(last / 1e9).toBeLessThan(23);
  });

  it('limit and timeLimit stop handing out ops', () => {
    const limited = limit(3, repeat(() => ({ f: 'x', value: null })));
    const results = Array.from({ length: 5 }, () => limited.next(context()).type);
    expect(results).toEqual(['op', 'op', 'op', 'done', 'done']);

    const timed = timeLimit(1e9, repeat(() => ({ f: 'x', value: null })));
    expect(timed.next(context({ timeNs: 5e8 })).type).toBe('op');
    expect(timed.next(context({ timeNs: 1.4e9 })).type).toBe('op');
    expect(timed.next(context({ timeNs: 1.5e9 })).type).toBe('done');
    const late = timeLimit(1e9, delay(2e9, repeat(() => ({ f: 'x', value: null }))));
    expect(late.next(context()).type).toBe('done');
  });

  it('phases waits for every thread and for in-flight ops before the next phase', () => {
    const phased = phases(sequence([{ f: 'first', value: 1 }]), sequence([{ f: 'second', value: 2 }]));
    const threads: Thread[] = [0, 1];
    expect(phased.next(context({ thread: 0, threads })).type).toBe('op');
    // Thread 0 is done with phase 1, but thread 1 has not said so: wait.
    expect(phased.next(context({ thread: 0, threads, outstanding: 1 })).type).toBe('pending');
    // Thread 1 is done too, but an op is in flight: still wait.
    expect(phased.next(context({ thread: 1, threads, outstanding: 1 })).type).toBe('pending');
    expect(phased.next(context({ thread: 1, threads, outstanding: 0 }))).toMatchObject({ type: 'op', op: { f: 'second' } });
  });

  it('eachProcess, reserve, clients, nemesis and any route by thread', () => {
    const perThread = eachProcess((thread) => sequence([{ f: `t${String(thread)}`, value: null }]));
    expect(perThread.next(context({ thread: 0 }))).toMatchObject({ op: { f: 't0' } });
    expect(perThread.next(context({ thread: 1 }))).toMatchObject({ op: { f: 't1' } });
    expect(perThread.next(context({ thread: 0 })).type).toBe('done');

    const reserved = reserve([{ threads: 1, generator: repeat(() => ({ f: 'writer', value: null })) }], repeat(() => ({ f: 'reader', value: null })));
    expect(reserved.next(context({ thread: 0 }))).toMatchObject({ op: { f: 'writer' } });
    expect(reserved.next(context({ thread: 1 }))).toMatchObject({ op: { f: 'reader' } });
    expect(reserved.next(context({ thread: 'nemesis' })).type).toBe('done');

    const both = any(clients(repeat(() => ({ f: 'client', value: null }))), nemesis(repeat(() => ({ f: 'fault', value: null }))));
    expect(both.next(context({ thread: 1 }))).toMatchObject({ op: { f: 'client' } });
    expect(both.next(context({ thread: 'nemesis' }))).toMatchObject({ op: { f: 'fault' } });
  });
});

describe('nemesis schedules', () => {
  it('periodic: quiet and faulty windows alternate, each start followed by its heal', () => {
    const events = periodicSchedule({ packages: fakePackages, intervalMs: 5000, durationMs: 30_000, random: createRandom(9) });
    expect(events.map((event) => [event.atNs / 1e6, event.action])).toEqual([
      [5000, 'start'], [10_000, 'stop'], [15_000, 'start'], [20_000, 'stop'], [25_000, 'start'],
    ]);
    for (let index = 0; index + 1 < events.length; index += 2) expect(events[index + 1].fault).toBe(events[index].fault);
  });

  it('the same seed gives the same schedule; another seed another', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const make = () => randomSchedule({ packages: fakePackages, intervalMs: 2000, durationMs: 60_000, random: createRandom(seed) });
        const events = make();
        expect(events).toEqual(make());
        for (let index = 1; index < events.length; index++) expect(events[index].atNs).toBeGreaterThan(events[index - 1].atNs);
        for (const event of events) expect(event.atNs).toBeLessThan(60e9);
      }),
      { numRuns: 50 },
    );
    const a = randomSchedule({ packages: fakePackages, intervalMs: 2000, durationMs: 60_000, random: createRandom(1) });
    const b = randomSchedule({ packages: fakePackages, intervalMs: 2000, durationMs: 60_000, random: createRandom(2) });
    expect(a).not.toEqual(b);
  });

  it('a fixed timeline is sorted, uses the packages and its overrides, and rejects unknown faults', () => {
    const events = fixedTimeline(
      [
        { atSeconds: 12, fault: 'partition', action: 'stop' },
        { atSeconds: 3, fault: 'partition', action: 'start', value: { mode: 'bridge' } },
        { atSeconds: 20, fault: 'kill', action: 'start', f: 'kill', value: { targets: 'primary' } },
      ],
      fakePackages,
      createRandom(1),
    );
    expect(events.map((event) => [event.atNs / 1e9, event.op.f, event.op.value])).toEqual([
      [3, 'start-partition', { mode: 'bridge' }],
      [12, 'stop-partition', null],
      [20, 'kill', { targets: 'primary' }],
    ]);
    expect(() => fixedTimeline([{ atSeconds: 1, fault: 'clock', action: 'start' }], fakePackages, createRandom(1))).toThrow(/clock/);
    // An override keeps the fields it does not name, such as the seed the fault picks its victims with.
    const seeded: SchedulePackage = { name: 'kill', startOp: (random) => ({ f: 'kill', value: { targets: 'one', seed: Math.floor(random() * 1000) } }), healOp: () => ({ f: 'restart', value: null }) };
    const [kill] = fixedTimeline([{ atSeconds: 1, fault: 'kill', action: 'start', value: { targets: 'all' } }], [seeded], createRandom(1));
    expect(kill.op.value).toEqual({ targets: 'all', seed: expect.any(Number) });
  });

  it('scheduleGenerator hands events only to the nemesis, at their times', () => {
    const generator = scheduleGenerator(periodicSchedule({ packages: fakePackages, intervalMs: 1000, durationMs: 4000, random: createRandom(2) }));
    expect(generator.next(context({ thread: 0 })).type).toBe('done');
    const first = generator.next(context({ thread: 'nemesis' }));
    expect(first).toMatchObject({ type: 'op', atNs: 1e9, op: { action: 'start' } });
  });
});
