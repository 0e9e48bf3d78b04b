// Seeded, I/O-free generators (Jepsen's idea, pull-shaped): the runner asks for the next op for one free thread at a time.
// A generator may keep state, but it draws randomness only from the context's seeded stream and reads time only
// from the context, so the same seed and the same sequence of questions give the same ops.
import type { Key, Process } from '../history/types.js';
import type { Random } from './random.js';

export { createRandom, freshSeed, type Random } from './random.js';

/** What a generator hands out: the f and value of an invocation (the runner adds process, time and index). */
export interface OpRequest {
  f: string;
  value: unknown;
  key?: Key;
  [extra: string]: unknown;
}

/** A worker thread: client threads are 0..concurrency-1; a thread's process id changes when it is retired. */
export type Thread = number | 'nemesis';

export interface GeneratorContext {
  /** Nanoseconds since the test began. */
  timeNs: number;
  /** The free thread asking, and its current process id. */
  thread: Thread;
  process: Process;
  /** Every thread of the test (client threads and 'nemesis'), so phases can wait for all of them. */
  threads: readonly Thread[];
  concurrency: number;
  /** The asking thread's own seeded stream: a thread's draws do not depend on how threads interleave. */
  random: Random;
  /** Operations currently in flight, over all threads. */
  outstanding: number;
}

/**
 * - op: invoke `op` no earlier than `atNs`;
 * - pending: nothing for this thread now; ask again at `untilNs` (if given) or after any completion;
 * - done: nothing more for this thread, ever.
 */
export type Next =
  | { type: 'op'; op: OpRequest; atNs: number }
  | { type: 'pending'; untilNs?: number }
  | { type: 'done' };

export interface Generator {
  next(context: GeneratorContext): Next;
}

const done: Next = { type: 'done' };

/** An endless generator of ops computed from the context. */
export function repeat(make: (context: GeneratorContext) => OpRequest): Generator {
  return { next: (context) => ({ type: 'op', op: make(context), atNs: context.timeNs }) };
}

/** Hands out the given ops once each, in order, to whichever thread asks. */
export function sequence(ops: readonly OpRequest[]): Generator {
  let position = 0;
  return {
    next(context) {
      if (position >= ops.length) return done;
      return { type: 'op', op: ops[position++], atNs: context.timeNs };
    },
  };
}

/** The earliest of two optional wake-up times. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * Asks the candidates in order and takes the first op; when none has one, the thread waits until the earliest
 * wake-up any pending candidate named, and is done only when every candidate is. `candidates` may be lazy, so
 * an order drawn at random is drawn only as far as it is asked.
 */
function firstOp(candidates: Iterable<Generator>, context: GeneratorContext): Next {
  let wakeAt: number | undefined;
  let anyPending = false;
  for (const generator of candidates) {
    const result = generator.next(context);
    if (result.type === 'op') return result;
    if (result.type === 'pending') {
      anyPending = true;
      wakeAt = earliest(wakeAt, result.untilNs);
    }
  }
  return anyPending ? { type: 'pending', untilNs: wakeAt } : done;
}

/**
 * Picks among generators at random (by weight) for every op; a pending or done choice falls through to the
 * others, so a mix is done only when all its members are done for the asking thread.
 */
export function mix(generators: readonly Generator[], weights?: readonly number[]): Generator {
  if (generators.length === 0) throw new RangeError('mix: needs at least one generator');
  const weightOf = (index: number) => weights?.[index] ?? 1;
  /** The members in a weighted random order, drawn one at a time. */
  function* weightedOrder(random: Random): Iterable<Generator> {
    const remaining = generators.map((_, index) => index);
    // Bounded: each round removes one candidate.
    while (remaining.length > 0) {
      const total = remaining.reduce((sum, index) => sum + weightOf(index), 0);
      let draw = random.next() * total;
      let chosenPosition = remaining.length - 1;
      for (let position = 0; position < remaining.length; position++) {
        draw -= weightOf(remaining[position]);
        if (draw < 0) {
          chosenPosition = position;
          break;
        }
      }
      const [chosen] = remaining.splice(chosenPosition, 1);
      yield generators[chosen];
    }
  }
  return { next: (context) => firstOp(weightedOrder(context.random), context) };
}

/**
 * Spaces ops out to about `ratePerSecond` over all threads together: each op's earliest start is the previous
 * one's plus a random gap in [0, 2/rate) seconds (mean 1/rate, as Jepsen's stagger).
 */
export function stagger(ratePerSecond: number, generator: Generator): Generator {
  if (!(ratePerSecond > 0)) throw new RangeError(`stagger: rate must be > 0, got ${ratePerSecond}`);
  const meanGapNs = 1e9 / ratePerSecond;
  let nextAtNs: number | undefined;
  return {
    next(context) {
      const result = generator.next(context);
      if (result.type !== 'op') return result;
      const atNs = Math.max(result.atNs, nextAtNs ?? context.timeNs);
      nextAtNs = atNs + context.random.next() * 2 * meanGapNs;
      return { ...result, atNs };
    },
  };
}

/** At most `count` ops in total. */
export function limit(count: number, generator: Generator): Generator {
  let handedOut = 0;
  return {
    next(context) {
      if (handedOut >= count) return done;
      const result = generator.next(context);
      if (result.type === 'op') handedOut++;
      return result;
    },
  };
}

/** Ops only until `durationNs` after the first question; an op that would start past the deadline is dropped. */
export function timeLimit(durationNs: number, generator: Generator): Generator {
  let deadlineNs: number | undefined;
  return {
    next(context) {
      deadlineNs ??= context.timeNs + durationNs;
      if (context.timeNs >= deadlineNs) return done;
      const result = generator.next(context);
      if (result.type === 'op' && result.atNs >= deadlineNs) return done;
      if (result.type === 'pending' && result.untilNs !== undefined && result.untilNs >= deadlineNs) {
        return { type: 'pending', untilNs: deadlineNs };
      }
      return result;
    },
  };
}

/**
 * Runs generators one after another, Jepsen-style synchronised: a phase ends once it is done for every
 * thread and no op is in flight; threads that finish early wait (pending) for the others.
 */
export function phases(...generators: Generator[]): Generator {
  let current = 0;
  let finishedThreads = new Set<Thread>();
  return {
    next(context) {
      // Bounded by the number of phases: each pass either returns or advances one phase.
      while (current < generators.length) {
        if (!finishedThreads.has(context.thread)) {
          const result = generators[current].next(context);
          if (result.type !== 'done') return result;
          finishedThreads.add(context.thread);
        }
        const everyoneFinished = context.threads.every((thread) => finishedThreads.has(thread));
        if (!everyoneFinished || context.outstanding > 0) return { type: 'pending' };
        current++;
        finishedThreads = new Set();
      }
      return done;
    },
  };
}

/** One independent generator per thread (Jepsen's each-thread): a retired process's successor continues it. */
export function eachProcess(make: (thread: Thread) => Generator): Generator {
  const perThread = new Map<Thread, Generator>();
  return {
    next(context) {
      let generator = perThread.get(context.thread);
      if (!generator) {
        generator = make(context.thread);
        perThread.set(context.thread, generator);
      }
      return generator.next(context);
    },
  };
}

/**
 * Jepsen's reserve: the first `threads` client threads of each group run that group's generator; the
 * remaining client threads run `rest`. The nemesis thread is never a client thread here: it gets done.
 */
export function reserve(groups: ReadonlyArray<{ threads: number; generator: Generator }>, rest: Generator): Generator {
  return {
    next(context) {
      if (context.thread === 'nemesis') return done;
      let start = 0;
      for (const group of groups) {
        if (context.thread < start + group.threads) return group.generator.next(context);
        start += group.threads;
      }
      return rest.next(context);
    },
  };
}

/** A first-in first-out queue of dealt ops: taking from the front is O(1), even for a long queue. */
class DealtQueue {
  private items: Array<{ op: OpRequest; delayNs: number }> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: { op: OpRequest; delayNs: number }): void {
    this.items.push(item);
  }

  shift(): { op: OpRequest; delayNs: number } | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    // Drop the taken prefix when the queue empties, or once it is large and half the array, so memory follows
    // what is still queued without copying on every take.
    if (this.head === this.items.length) this.clear();
    else if (this.head > 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** A generator dealt to threads in a fixed order; `retire` drops a thread whose worker ended (no more questions). */
export interface DealtGenerator extends Generator {
  retire(thread: Thread): void;
}

/**
 * Replay under any timing. A workload's generator keeps state shared by every thread (live keys, the next value
 * per key), so what it hands a thread depends on which thread happened to ask first. `dealt` asks it on the
 * threads' behalf in one fixed round-robin order (thread 0, 1, ..., n-1, 0, ...), each thread with its own
 * seeded stream forked from `random`, and keeps a queue per thread: thread t's k-th op is a function of the
 * seed alone, never of when the threads asked. A thread whose process is retired (info) continues its queue,
 * since how many ops a process did before its info is itself a matter of timing.
 * The dealt generator should not read time or process from the context (they are the asker's); a delay it asks
 * for (atNs past the question's time) is kept, counted from when the thread takes the op. A thread may
 * run ahead of the slowest live thread by at most `leadMax` ops, then waits for it (a bound on memory).
 */
export function dealt(threads: readonly number[], random: Random, generator: Generator, leadMax = 100_000): DealtGenerator {
  /** Each dealt op keeps how long after its question it was due (e.g. a lock workload's pause before an acquire). */
  const queues = new Map<Thread, DealtQueue>(threads.map((thread) => [thread, new DealtQueue()]));
  const streams = new Map<Thread, Random>(threads.map((thread) => [thread, random.fork(`deal:${thread}`)]));
  const live = new Set<Thread>(threads);
  let turn = 0;
  /** Deals one op to the thread whose turn it is; false when the generator is pending for it or the lead is full. */
  const dealOne = (context: GeneratorContext): { dealt: boolean; untilNs?: number } => {
    const thread = threads[turn];
    if (!live.has(thread)) {
      turn = (turn + 1) % threads.length;
      return { dealt: true };
    }
    const queue = queues.get(thread)!;
    if (queue.length >= leadMax) return { dealt: false };
    const result = generator.next({ ...context, thread, process: thread, random: streams.get(thread)! });
    if (result.type === 'pending') return { dealt: false, untilNs: result.untilNs };
    if (result.type === 'op') queue.push({ op: result.op, delayNs: Math.max(0, result.atNs - context.timeNs) });
    else live.delete(thread);
    turn = (turn + 1) % threads.length;
    return { dealt: true };
  };
  return {
    next(context) {
      const queue = queues.get(context.thread);
      if (!queue) return done;
      // Bounded: each deal advances the turn, so one pass over every thread fills the asker's queue unless the
      // generator is pending, a lead is full, or the asker is done.
      for (let deals = 0; queue.length === 0 && live.has(context.thread) && deals <= threads.length; deals++) {
        const outcome = dealOne(context);
        if (!outcome.dealt) return { type: 'pending', untilNs: outcome.untilNs };
      }
      const entry = queue.shift();
      if (entry) return { type: 'op', op: entry.op, atNs: context.timeNs + entry.delayNs };
      return live.has(context.thread) ? { type: 'pending' } : done;
    },
    retire(thread) {
      live.delete(thread);
      queues.get(thread)?.clear();
    },
  };
}

/** Only client threads ask this generator; the nemesis is told it is done. */
export function clients(generator: Generator): Generator {
  return { next: (context) => (context.thread === 'nemesis' ? done : generator.next(context)) };
}

/** Only the nemesis thread asks this generator; client threads are told it is done. */
export function nemesis(generator: Generator): Generator {
  return { next: (context) => (context.thread === 'nemesis' ? generator.next(context) : done) };
}

/** Asks each generator in turn and takes the first op: the way client and nemesis generators run side by side. */
export function any(...generators: Generator[]): Generator {
  return { next: (context) => firstOp(generators, context) };
}

/** Holds every op back by `delayNs` from when it was asked for (Jepsen's delay). */
export function delay(delayNs: number, generator: Generator): Generator {
  return {
    next(context) {
      const result = generator.next(context);
      return result.type === 'op' ? { ...result, atNs: Math.max(result.atNs, context.timeNs + delayNs) } : result;
    },
  };
}

export {
  periodicSchedule,
  randomSchedule,
  fixedTimeline,
  scheduleGenerator,
  type ScheduledFault,
  type TimelineEvent,
  type SchedulePackage,
} from './schedule.js';
