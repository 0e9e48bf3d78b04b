// Seeded histories of a simulated linearizable register store, for the checker benchmark and tests.
//
// Each process has at most one op outstanding. An op takes effect atomically at a random instant between
// its invoke and its completion (its linearization point), so the history is linearizable by construction.
// Crashes complete as `info` (the op took effect or not, at random) and retire the process, as in Jepsen.
// Invalid histories get stale reads: a read returns a value that two completed writes had already
// replaced before the read began (values are unique per key, so each such read is a certain violation).
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { HistoryWriter } from '../../src/history/writer.js';
import type { AppendableOp } from '../../src/history/writer.js';
import type { OpType } from '../../src/history/types.js';

export interface GeneratedHistoryOptions {
  /** Invocations (a history has about twice as many events). */
  ops: number;
  keys: number;
  /** Concurrent client processes. */
  processes: number;
  seed: number;
  /** Fraction of ops that crash (complete as `info`). Default 0.03. */
  infoRate?: number;
  /** Fraction of ops that certainly fail. Default 0.01. */
  failRate?: number;
  /** Stale reads to inject (0: a linearizable history). */
  staleReads?: number;
}

export interface GenerationSummary {
  events: number;
  info: number;
  staleReadsInjected: number;
}

/** mulberry32: a tiny, fast, seeded generator; plenty for schedules. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

type Phase = 'invoke' | 'effect' | 'complete';

interface Slot {
  process: number;
  time: number;
  phase: Phase;
  f: 'read' | 'write' | 'cas';
  key: string;
  value: unknown;
  outcome: 'ok' | 'fail' | 'info';
  /** For info ops: whether the crashed op took effect. */
  takesEffect: boolean;
  invokeTime: number;
}

interface CompletedWrite {
  value: number;
  invokeTime: number;
  completeTime: number;
}

const recentWritesKept = 32;

/** A binary min-heap of slot numbers ordered by (time, slot), so equal times break deterministically. */
class SlotQueue {
  private readonly heap: number[] = [];
  constructor(private readonly slots: Slot[]) {}
  get size(): number {
    return this.heap.length;
  }
  private less(a: number, b: number): boolean {
    const timeA = this.slots[a].time;
    const timeB = this.slots[b].time;
    return timeA < timeB || (timeA === timeB && a < b);
  }
  push(slot: number): void {
    const heap = this.heap;
    heap.push(slot);
    let child = heap.length - 1;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(heap[child], heap[parent])) break;
      [heap[child], heap[parent]] = [heap[parent], heap[child]];
      child = parent;
    }
  }
  pop(): number {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      let parent = 0;
      for (;;) {
        const left = parent * 2 + 1;
        const right = left + 1;
        let smallest = parent;
        if (left < heap.length && this.less(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && this.less(heap[right], heap[smallest])) smallest = right;
        if (smallest === parent) break;
        [heap[smallest], heap[parent]] = [heap[parent], heap[smallest]];
        parent = smallest;
      }
    }
    return top;
  }
}

/** Runs the simulation, handing each event to `emit` in time order. */
export function generateRegisterHistory(
  options: GeneratedHistoryOptions,
  emit: (op: AppendableOp) => void,
): GenerationSummary {
  const random = seededRandom(options.seed);
  const infoRate = options.infoRate ?? 0.03;
  const failRate = options.failRate ?? 0.01;
  const staleReads = options.staleReads ?? 0;
  const keyNames = Array.from({ length: options.keys }, (_, index) => `k${index}`);
  const state = new Map<string, number | null>(keyNames.map((key) => [key, null]));
  const lastValue = new Map<string, number>(keyNames.map((key) => [key, 0]));
  const recentWrites = new Map<string, CompletedWrite[]>(keyNames.map((key) => [key, []]));
  // Reads at which to start trying a stale-read injection, spread evenly over the expected reads.
  const expectedReads = Math.max(1, Math.floor(options.ops * 0.5));
  let nextInjectionAtRead = staleReads > 0 ? Math.floor(expectedReads / (staleReads + 1)) : Infinity;
  let readsCompleted = 0;
  let staleReadsInjected = 0;
  let events = 0;
  let info = 0;
  let invoked = 0;
  let nextProcess = options.processes;
  const latencyNs = (): number => 5_000 + Math.floor(random() * random() * 2_000_000);

  const slots: Slot[] = [];
  for (let index = 0; index < options.processes; index++) {
    slots.push({
      process: index,
      time: Math.floor(random() * 10_000),
      phase: 'invoke',
      f: 'read',
      key: keyNames[0],
      value: null,
      outcome: 'ok',
      takesEffect: false,
      invokeTime: 0,
    });
  }
  const queue = new SlotQueue(slots);
  for (let index = 0; index < slots.length; index++) queue.push(index);

  const record = (slot: Slot, type: OpType, value: unknown): void => {
    emit({ process: slot.process, type, f: slot.f, key: slot.key, value, time: slot.time });
    events++;
  };

  // Bounded: each slot cycles through three phases per op and stops invoking after `ops` invocations.
  while (queue.size > 0) {
    const slotNumber = queue.pop();
    const slot = slots[slotNumber];
    if (slot.phase === 'invoke') {
      if (invoked >= options.ops) continue;
      invoked++;
      const roll = random();
      slot.f = roll < 0.5 ? 'read' : roll < 0.75 ? 'write' : 'cas';
      slot.key = keyNames[Math.floor(random() * keyNames.length)];
      const outcomeRoll = random();
      slot.outcome = outcomeRoll < infoRate ? 'info' : outcomeRoll < infoRate + failRate ? 'fail' : 'ok';
      slot.takesEffect = random() < 0.5;
      slot.invokeTime = slot.time;
      if (slot.f === 'read') slot.value = null;
      else if (slot.f === 'write') {
        const value = (lastValue.get(slot.key) as number) + 1;
        lastValue.set(slot.key, value);
        slot.value = value;
      } else {
        const current = state.get(slot.key) ?? null;
        const newValue = (lastValue.get(slot.key) as number) + 1;
        lastValue.set(slot.key, newValue);
        // Mostly the value now held (a cas likely to succeed), sometimes an older one (likely to fail).
        const expected =
          random() < 0.7 || current === null ? current : Math.max(1, current - 1 - Math.floor(random() * 3));
        slot.value = [expected, newValue];
      }
      record(slot, 'invoke', slot.value);
      slot.phase = 'effect';
      slot.time += latencyNs();
      queue.push(slotNumber);
    } else if (slot.phase === 'effect') {
      const effective = slot.outcome === 'ok' || (slot.outcome === 'info' && slot.takesEffect);
      if (slot.f === 'read') {
        slot.value = state.get(slot.key) ?? null;
      } else if (slot.f === 'write') {
        if (effective) state.set(slot.key, slot.value as number);
      } else {
        const [expected, newValue] = slot.value as [number | null, number];
        if ((state.get(slot.key) ?? null) !== expected) {
          // A cas that finds another value certainly did nothing.
          if (slot.outcome === 'ok') slot.outcome = 'fail';
        } else if (effective) {
          state.set(slot.key, newValue);
        }
      }
      slot.phase = 'complete';
      slot.time += latencyNs();
      queue.push(slotNumber);
    } else {
      if (slot.outcome === 'info') {
        record(slot, 'info', slot.f === 'read' ? null : slot.value);
        info++;
        slot.process = nextProcess++;
      } else if (slot.outcome === 'fail') {
        record(slot, 'fail', slot.f === 'read' ? null : slot.value);
      } else {
        let value = slot.value;
        if (slot.f === 'read') {
          readsCompleted++;
          if (readsCompleted >= nextInjectionAtRead && staleReadsInjected < staleReads) {
            const stale = findStaleValue(recentWrites.get(slot.key) as CompletedWrite[], slot.invokeTime);
            if (stale !== undefined) {
              value = stale;
              staleReadsInjected++;
              nextInjectionAtRead = Math.floor((expectedReads * (staleReadsInjected + 1)) / (staleReads + 1));
            }
          }
        } else {
          const written = slot.f === 'write' ? (slot.value as number) : (slot.value as [unknown, number])[1];
          const writes = recentWrites.get(slot.key) as CompletedWrite[];
          writes.push({ value: written, invokeTime: slot.invokeTime, completeTime: slot.time });
          if (writes.length > recentWritesKept) writes.shift();
        }
        record(slot, 'ok', value);
      }
      slot.phase = 'invoke';
      slot.time += Math.floor(random() * 20_000);
      queue.push(slotNumber);
    }
  }
  return { events, info, staleReadsInjected };
}

/** A value W1 such that W1 completed before W2 began and W2 completed before the read began. */
function findStaleValue(writes: readonly CompletedWrite[], readInvokeTime: number): number | undefined {
  for (let second = writes.length - 1; second > 0; second--) {
    const overwrite = writes[second];
    if (overwrite.completeTime >= readInvokeTime) continue;
    for (let first = second - 1; first >= 0; first--) {
      if (writes[first].completeTime < overwrite.invokeTime) return writes[first].value;
    }
    return undefined;
  }
  return undefined;
}

/** The cache file name for a set of parameters: same parameters, same history. */
export function generatedHistoryName(options: GeneratedHistoryOptions): string {
  const info = options.infoRate ?? 0.03;
  const fail = options.failRate ?? 0.01;
  return `register-o${options.ops}-k${options.keys}-p${options.processes}-s${options.seed}-i${info}-f${fail}-stale${options.staleReads ?? 0}.jsonl`;
}

/** Writes the generated history to `directory` unless an identical one is already cached there. */
export async function cachedGeneratedHistory(directory: string, options: GeneratedHistoryOptions): Promise<string> {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, generatedHistoryName(options));
  if (existsSync(path)) return path;
  // Written under a temporary name and renamed, so an interrupted run never leaves a half file in the cache.
  const temporary = `${path}.partial-${process.pid}`;
  const writer = new HistoryWriter(temporary, { flushIntervalMs: 1000 });
  const summary = generateRegisterHistory(options, (op) => writer.append(op));
  await writer.close();
  if ((options.staleReads ?? 0) > 0 && summary.staleReadsInjected === 0) {
    throw new Error(`no stale read could be injected into ${path}; use more ops per key`);
  }
  renameSync(temporary, path);
  return path;
}
