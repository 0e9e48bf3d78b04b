// The watch checker: each watcher's events, across its resumes, must be in increasing resourceVersion order,
// gap-free against the acknowledged writes, and carry the values written; a pure function of the history.
import type { Checker, CheckResult } from '../../checkers/types.js';
import type { History, Op } from '../../src/history/types.js';

/** How many violations of each kind the result lists; counts are always complete. */
const shownMax = 50;

/** One delivered event, as a `watch` op's ok value lists it. */
export interface WatchEvent {
  type: string;
  resourceVersion: string;
  value: unknown;
}

/**
 * A `watch` op's ok value: where the watch began (`from`), whether the client listed first to get that point
 * (`listed`: its first watch, or after the previous point expired), the events in arrival order, and how the
 * watch ended (`expired`: 410 Gone, the next one lists again).
 */
export interface WatchValue {
  from: string;
  listed: boolean;
  events: WatchEvent[];
  expired?: boolean;
}

function revision(resourceVersion: unknown): bigint | undefined {
  return typeof resourceVersion === 'string' && /^\d+$/.test(resourceVersion) ? BigInt(resourceVersion) : undefined;
}

function watchValue(op: Op): WatchValue | undefined {
  const value = op.value as Partial<WatchValue> | null | undefined;
  if (value === null || typeof value !== 'object' || typeof value.from !== 'string' || !Array.isArray(value.events)) return undefined;
  return { from: value.from, listed: value.listed === true, events: value.events as WatchEvent[], expired: value.expired === true };
}

export interface WatcherVerdict {
  process: number;
  node?: string;
  key: string;
  watches: number;
  /** Watches that continued from the previous one's last resourceVersion (not a fresh list). */
  resumes: number;
  lists: number;
  events: number;
  outOfOrder: Array<{ previous: string; next: string; watchIndex: number }>;
  /** Acknowledged writes inside a stretch the watcher covered (after its list, up to its last event) never delivered. */
  missed: Array<{ resourceVersion: string; value: unknown; writeIndex: number; watchIndex?: number }>;
  /** A resume that did not start where the previous watch left off (a lost position). */
  brokenResumes: Array<{ expectedFrom: string; from: string; watchIndex: number }>;
  /** Events carrying another value than the acknowledged write of that resourceVersion, or a value never written. */
  wrongValues: Array<{ resourceVersion: string; value: unknown; expected?: unknown; watchIndex: number }>;
  /** The last resourceVersion delivered, and how many acknowledged writes came after it (lag at the end). */
  lastResourceVersion?: string;
  behindAtEnd: number;
}

interface Write {
  revision: bigint;
  resourceVersion: string;
  value: unknown;
  index: number;
}

function keyOf(op: Op): string {
  return JSON.stringify(op.key ?? null);
}

/** Judges every watcher (one per client process) against the writes to its key. */
export function judgeWatchers(history: History): { watchers: WatcherVerdict[]; acknowledgedWrites: number; unknownWrites: number } {
  const invokes = new Map<number | string, Op>();
  const acknowledged = new Map<string, Write[]>();
  /** Every value a write was invoked with, per key (acknowledged or not): a delivered value must be one of them. */
  const invokedValues = new Map<string, Set<string>>();
  let unknownWrites = 0;
  const watchOps: Op[] = [];
  for (const op of history) {
    if (typeof op.process !== 'number') continue;
    if (op.type === 'invoke') {
      invokes.set(op.process, op);
      if (op.f === 'write') {
        const values = invokedValues.get(keyOf(op)) ?? new Set<string>();
        values.add(JSON.stringify(op.value));
        invokedValues.set(keyOf(op), values);
      }
      continue;
    }
    invokes.delete(op.process);
    if (op.f === 'write') {
      const rv = revision(op.resourceVersion);
      if (op.type === 'ok' && rv !== undefined) {
        const list = acknowledged.get(keyOf(op)) ?? [];
        list.push({ revision: rv, resourceVersion: op.resourceVersion as string, value: op.value, index: op.index });
        acknowledged.set(keyOf(op), list);
      } else if (op.type === 'info') unknownWrites++;
    } else if (op.f === 'watch' && op.type === 'ok' && watchValue(op)) watchOps.push(op);
  }
  const byProcess = new Map<number, Op[]>();
  for (const op of watchOps) byProcess.set(op.process as number, [...(byProcess.get(op.process as number) ?? []), op]);
  const watchers: WatcherVerdict[] = [];
  for (const [process, ops] of byProcess) {
    const key = keyOf(ops[0]);
    const writes = [...(acknowledged.get(key) ?? [])].sort((a, b) => (a.revision < b.revision ? -1 : a.revision > b.revision ? 1 : 0));
    const writeByRevision = new Map(writes.map((write) => [write.resourceVersion, write]));
    const verdict: WatcherVerdict = {
      process,
      ...(ops[0].node === undefined ? {} : { node: ops[0].node }),
      key,
      watches: ops.length,
      resumes: 0,
      lists: 0,
      events: 0,
      outOfOrder: [],
      missed: [],
      brokenResumes: [],
      wrongValues: [],
      behindAtEnd: 0,
    };
    // A stretch: from a list's resourceVersion through the events of the watches that resume from it.
    let stretchStart: bigint | undefined;
    let last: { resourceVersion: string; revision: bigint } | undefined;
    const delivered = new Set<string>();
    const closeStretch = (watchIndex: number) => {
      if (stretchStart === undefined || last === undefined) return;
      for (const write of writes) {
        if (write.revision > stretchStart && write.revision <= last.revision && !delivered.has(write.resourceVersion)) {
          verdict.missed.push({ resourceVersion: write.resourceVersion, value: write.value, writeIndex: write.index, watchIndex });
        }
      }
    };
    for (const op of ops) {
      const value = watchValue(op)!;
      const from = revision(value.from);
      if (value.listed || stretchStart === undefined) {
        closeStretch(op.index);
        verdict.lists++;
        stretchStart = from;
        last = from === undefined ? undefined : { resourceVersion: value.from, revision: from };
      } else {
        verdict.resumes++;
        const expectedFrom = last?.resourceVersion;
        if (expectedFrom !== undefined && value.from !== expectedFrom) verdict.brokenResumes.push({ expectedFrom, from: value.from, watchIndex: op.index });
      }
      for (const event of value.events) {
        const rv = revision(event.resourceVersion);
        if (rv === undefined) continue;
        verdict.events++;
        if (last !== undefined && rv <= last.revision) verdict.outOfOrder.push({ previous: last.resourceVersion, next: event.resourceVersion, watchIndex: op.index });
        else last = { resourceVersion: event.resourceVersion, revision: rv };
        delivered.add(event.resourceVersion);
        const write = writeByRevision.get(event.resourceVersion);
        if (event.type === 'DELETED') continue;
        if (write && JSON.stringify(write.value) !== JSON.stringify(event.value)) {
          verdict.wrongValues.push({ resourceVersion: event.resourceVersion, value: event.value, expected: write.value, watchIndex: op.index });
        } else if (!write && !(invokedValues.get(key)?.has(JSON.stringify(event.value)) ?? false)) {
          verdict.wrongValues.push({ resourceVersion: event.resourceVersion, value: event.value, watchIndex: op.index });
        }
      }
      if (value.expired) stretchStart = undefined;
    }
    closeStretch(ops[ops.length - 1].index);
    if (last !== undefined) {
      verdict.lastResourceVersion = last.resourceVersion;
      const lastRevision = last.revision;
      verdict.behindAtEnd = writes.filter((write) => write.revision > lastRevision).length;
    }
    watchers.push(verdict);
  }
  watchers.sort((a, b) => a.process - b.process);
  const acknowledgedWrites = [...acknowledged.values()].reduce((sum, list) => sum + list.length, 0);
  return { watchers, acknowledgedWrites, unknownWrites };
}

export function checkWatch(history: History): CheckResult {
  const { watchers, acknowledgedWrites, unknownWrites } = judgeWatchers(history);
  const count = (field: 'outOfOrder' | 'missed' | 'brokenResumes' | 'wrongValues') => watchers.reduce((sum, watcher) => sum + watcher[field].length, 0);
  const violations = { outOfOrder: count('outOfOrder'), missed: count('missed'), brokenResumes: count('brokenResumes'), wrongValues: count('wrongValues') };
  const events = watchers.reduce((sum, watcher) => sum + watcher.events, 0);
  const bad = Object.values(violations).some((n) => n > 0);
  const valid = bad ? false : watchers.length === 0 || events === 0 ? 'unknown' : true;
  const reasons = Object.entries(violations).filter(([, n]) => n > 0).map(([kind, n]) => `${n} ${kind}`);
  return {
    valid,
    ...(bad ? { reason: `watch events: ${reasons.join(', ')}` } : {}),
    ...(!bad && valid === 'unknown' ? { reason: 'no watcher delivered an event: nothing to judge' } : {}),
    acknowledgedWrites,
    unknownWrites,
    watchers: watchers.length,
    events,
    resumes: watchers.reduce((sum, watcher) => sum + watcher.resumes, 0),
    ...violations,
    perWatcher: watchers.map((watcher) => ({
      ...watcher,
      outOfOrder: watcher.outOfOrder.slice(0, shownMax),
      missed: watcher.missed.slice(0, shownMax),
      brokenResumes: watcher.brokenResumes.slice(0, shownMax),
      wrongValues: watcher.wrongValues.slice(0, shownMax),
    })),
  };
}

export function watchChecker(): Checker {
  return { name: 'watch', check: async (_context, history) => checkWatch(history) };
}
