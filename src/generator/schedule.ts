// Nemesis schedules as data: the whole timeline of fault starts and heals is computed from the seed up front,
// so it can be printed, tested and replayed; scheduleGenerator then hands it to the nemesis thread on time.
import type { FaultName, NemesisPackage } from '../../nemeses/types.js';
import type { Generator, OpRequest } from './index.js';
import type { Random } from './random.js';

/** What a schedule needs of a nemesis package. */
export type SchedulePackage = Pick<NemesisPackage, 'name' | 'startOp' | 'healOp'>;

export interface ScheduledFault {
  /** Nanoseconds since the test began. */
  atNs: number;
  fault: FaultName;
  action: 'start' | 'stop';
  op: OpRequest;
}

/** One event of a fixed timeline from a spec: `{at: 10, fault: partition, action: start}`. */
export interface TimelineEvent {
  atSeconds: number;
  fault: FaultName;
  action: 'start' | 'stop';
  /** Overrides the package's own op for this event. */
  f?: string;
  value?: unknown;
}

const nsPerMs = 1e6;

function startEvent(atNs: number, pack: SchedulePackage, random: Random): ScheduledFault {
  const op = pack.startOp(() => random.next());
  return { atNs, fault: pack.name, action: 'start', op: { f: op.f, value: op.value } };
}

function stopEvent(atNs: number, pack: SchedulePackage): ScheduledFault {
  const op = pack.healOp();
  return { atNs, fault: pack.name, action: 'stop', op: { f: op.f, value: op.value } };
}

/** What the periodic and random schedules are drawn from. */
export interface ScheduleOptions {
  packages: readonly SchedulePackage[];
  intervalMs: number;
  durationMs: number;
  random: Random;
  /** Faults a window may hold at once (default 1: one at a time, never overlapping). */
  concurrentFaultsMax?: number;
}

/**
 * Quiet window, fault window, quiet, fault, ... until durationMs, each window `window()` ms long; a fault whose
 * heal would fall past the end is left for the runner's final heal. A window holds `faultsIn()` faults of
 * different kinds: the first starts as the window opens, each other one at a seeded moment in the window's first
 * half (while the earlier ones are in force), and all heal as it closes, the last started first.
 */
function alternatingSchedule(options: ScheduleOptions, window: () => number, faultsIn: (available: number) => number): ScheduledFault[] {
  const { packages, intervalMs, durationMs, random } = options;
  const events: ScheduledFault[] = [];
  if (packages.length === 0 || !(intervalMs > 0)) return events;
  let timeMs = window();
  // Bounded: every window is at least intervalMs / 2 long.
  while (timeMs < durationMs) {
    const count = faultsIn(packages.length);
    // One fault per window draws exactly what it always did, so a seed's single-fault schedule is unchanged.
    const chosen = count === 1 ? [random.pick(packages)] : shuffled(packages, random).slice(0, count);
    events.push(startEvent(Math.round(timeMs * nsPerMs), chosen[0], random));
    const windowMs = window();
    const later = chosen.slice(1).map((pack) => ({ pack, offsetMs: random.next() * (windowMs / 2) })).sort((a, b) => a.offsetMs - b.offsetMs);
    for (const { pack, offsetMs } of later) events.push(startEvent(Math.round((timeMs + offsetMs) * nsPerMs), pack, random));
    timeMs += windowMs;
    if (timeMs >= durationMs) break;
    for (const pack of [chosen[0], ...later.map((entry) => entry.pack)].reverse()) events.push(stopEvent(Math.round(timeMs * nsPerMs), pack));
    timeMs += window();
  }
  return events;
}

/** A seeded Fisher-Yates shuffle (a copy). */
function shuffled<T>(items: readonly T[], random: Random): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = random.int(index + 1);
    [copy[index], copy[other]] = [copy[other], copy[index]];
  }
  return copy;
}

/** The most faults one window may hold: the option, at most one per package. */
function concurrentFaultsMax(options: ScheduleOptions, available: number): number {
  return Math.max(1, Math.min(available, Math.floor(options.concurrentFaultsMax ?? 1)));
}

/**
 * Alternates quiet and faulty windows of `intervalMs` each (Jepsen's default): quiet, fault, quiet, fault, ...
 * With `concurrentFaultsMax` above 1, every fault window holds that many faults (at most one per package).
 */
export function periodicSchedule(options: ScheduleOptions): ScheduledFault[] {
  return alternatingSchedule(options, () => options.intervalMs, (available) => concurrentFaultsMax(options, available));
}

/**
 * Like periodic, but every quiet and faulty window lasts a random 0.5x to 1.5x of `intervalMs`, and a fault window
 * holds a random 1 to `concurrentFaultsMax` faults.
 */
export function randomSchedule(options: ScheduleOptions): ScheduledFault[] {
  const window = () => options.intervalMs * (0.5 + options.random.next());
  return alternatingSchedule(options, window, (available) => {
    const most = concurrentFaultsMax(options, available);
    return most === 1 ? 1 : options.random.between(1, most);
  });
}

/** An override object keeps the drawn fields it does not name (e.g. the seed a fault picks its nodes with). */
function mergeValue(drawn: unknown, override: unknown): unknown {
  const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
  return isRecord(drawn) && isRecord(override) ? { ...drawn, ...override } : override;
}

/** A fixed timeline from the spec; starts without an explicit op draw one from their package. */
export function fixedTimeline(
  timeline: readonly TimelineEvent[],
  packages: readonly SchedulePackage[],
  random: Random,
): ScheduledFault[] {
  const byName = new Map(packages.map((pack) => [pack.name, pack]));
  const sorted = [...timeline].sort((a, b) => a.atSeconds - b.atSeconds);
  return sorted.map((event) => {
    const pack = byName.get(event.fault);
    if (!pack) throw new RangeError(`timeline: fault '${event.fault}' is not among the test's nemeses`);
    const atNs = Math.round(event.atSeconds * 1e9);
    const base = event.action === 'start' ? startEvent(atNs, pack, random) : stopEvent(atNs, pack);
    if (event.f !== undefined) base.op = { f: event.f, value: event.value ?? null };
    else if (event.value !== undefined) base.op = { ...base.op, value: mergeValue(base.op.value, event.value) };
    return base;
  });
}

/** Hands a schedule to the nemesis thread, each event at its time; client threads are told it is done. */
export function scheduleGenerator(events: readonly ScheduledFault[]): Generator {
  let position = 0;
  return {
    next(context) {
      if (context.thread !== 'nemesis' || position >= events.length) return { type: 'done' };
      const event = events[position++];
      return { type: 'op', op: { ...event.op, fault: event.fault, action: event.action }, atNs: event.atNs };
    },
  };
}
