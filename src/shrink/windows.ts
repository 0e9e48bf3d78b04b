// The fault schedule a run actually went through, as fault windows (a start and its stop), and back to a
// `nemesis-timeline`: what `faultline shrink` removes and shortens, and what a shrunk spec replays.
import { readFileSync } from 'node:fs';
import type { ScheduledFault, TimelineEvent } from '../generator/schedule.js';
import type { FaultName } from '../../nemeses/types.js';

/** One fault in force from `startSeconds` to `stopSeconds`, with the exact ops that began and ended it. */
export interface FaultWindow {
  fault: FaultName;
  startSeconds: number;
  stopSeconds: number;
  start: { f: string; value: unknown };
  stop: { f: string; value: unknown };
}

/** A nemesis completion from nemesis.jsonl that started or stopped a fault (not a backend event, not a flap cut). */
export interface NemesisRecord {
  fault: FaultName;
  action: 'start' | 'stop';
  f: string;
  value: unknown;
  /** Nanoseconds since the test began. */
  time: number;
}

/**
 * nemesis.jsonl's start and stop completions, in file order. A line that is not JSON is refused with the
 * file and line; lines without `fault` and `action` (backend events, flap cuts) are not fault ops and are skipped.
 */
export function readNemesisRecords(path: string): NemesisRecord[] {
  const records: NemesisRecord[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new SyntaxError(`${path}:${index + 1}: expected one JSON object per line`);
    }
    if (parsed === null || typeof parsed !== 'object') throw new SyntaxError(`${path}:${index + 1}: expected one JSON object per line`);
    if (typeof parsed.fault !== 'string' || (parsed.action !== 'start' && parsed.action !== 'stop')) return;
    if (typeof parsed.time !== 'number' || typeof parsed.f !== 'string') throw new SyntaxError(`${path}:${index + 1}: expected a nemesis op with a numeric time and an f`);
    records.push({ fault: parsed.fault, action: parsed.action, f: parsed.f, value: parsed.value, time: parsed.time });
  });
  return records;
}

/**
 * Pairs each start with the next stop of the same fault (a nemesis holds one fault of a kind at a time). The
 * ops and times come from the planned schedule when the run's n-th start (stop) of a fault matches the plan's
 * n-th, since the plan holds what the generator drew (a kill's seed, which the completion no longer carries);
 * otherwise from the completion itself. A start never stopped within the test (the final heal stopped it)
 * ends at `timeLimitSeconds`. Stops with no open start (a retried heal) are dropped.
 */
export function faultWindows(records: readonly NemesisRecord[], planned: readonly ScheduledFault[], timeLimitSeconds: number): FaultWindow[] {
  const plannedBy = (fault: string, action: 'start' | 'stop') => planned.filter((event) => event.fault === fault && event.action === action);
  const seen = new Map<string, number>();
  const nth = (fault: string, action: string) => {
    const key = `${fault}/${action}`;
    const count = seen.get(key) ?? 0;
    seen.set(key, count + 1);
    return count;
  };
  const resolveEvent = (record: NemesisRecord) => {
    const plan = plannedBy(record.fault, record.action)[nth(record.fault, record.action)];
    if (plan && plan.op.f === record.f) return { seconds: plan.atNs / 1e9, op: { f: plan.op.f, value: plan.op.value ?? null } };
    return { seconds: record.time / 1e9, op: { f: record.f, value: record.value ?? null } };
  };
  const open = new Map<string, { seconds: number; op: { f: string; value: unknown } }>();
  const windows: FaultWindow[] = [];
  for (const record of records) {
    const event = resolveEvent(record);
    if (record.action === 'start') {
      if (!open.has(record.fault)) open.set(record.fault, event);
      continue;
    }
    const start = open.get(record.fault);
    if (!start) continue;
    open.delete(record.fault);
    // A heal past the time limit is the runner's final heal: in a replay it comes at the limit.
    const stopSeconds = Math.min(Math.max(event.seconds, start.seconds), timeLimitSeconds);
    windows.push({ fault: record.fault, startSeconds: start.seconds, stopSeconds, start: start.op, stop: event.op });
  }
  for (const [fault, start] of open) {
    const heal = planned.find((event) => event.fault === fault && event.action === 'stop');
    windows.push({ fault, startSeconds: start.seconds, stopSeconds: timeLimitSeconds, start: start.op, stop: heal ? { f: heal.op.f, value: heal.op.value ?? null } : { f: `stop-${fault}`, value: null } });
  }
  return windows.sort((a, b) => a.startSeconds - b.startSeconds);
}

/** Rounds seconds to milliseconds, so a timeline in a spec file reads cleanly. */
function seconds(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The windows as a spec's `nemesis-timeline`, each op pinned (f and value), so dropping one changes no other. */
export function windowsToTimeline(windows: readonly FaultWindow[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const window of windows) {
    events.push({ atSeconds: seconds(window.startSeconds), fault: window.fault, action: 'start', f: window.start.f, value: structuredClone(window.start.value) });
    events.push({ atSeconds: seconds(window.stopSeconds), fault: window.fault, action: 'stop', f: window.stop.f, value: structuredClone(window.stop.value) });
  }
  // Stable: a stop and a start at the same second keep the stop first (a stop is pushed right after its start).
  return events.sort((a, b) => a.atSeconds - b.atSeconds);
}

/** A short description for progress lines: "kill 3.0-4.0s, pause 5.0-6.5s". */
export function describeWindows(windows: readonly FaultWindow[]): string {
  if (windows.length === 0) return 'no faults';
  return windows.map((window) => `${window.fault} ${window.startSeconds.toFixed(1)}-${window.stopSeconds.toFixed(1)}s`).join(', ');
}
