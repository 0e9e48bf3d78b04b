// The leader-election checker: from the candidates' recorded beliefs (acquired, renewed, lost), no two
// candidates may have believed they led at the same moment of real time; a pure function of the history.
import type { Checker, CheckResult } from '../../checkers/types.js';
import type { History, Op } from '../../src/history/types.js';

/** How many overlaps and intervals the result lists; counts are always complete. */
const shownMax = 50;

/** The events an `elect` op's ok completion reports in `value.event` (what the candidate believes after the step). */
export type ElectionEvent = 'acquired' | 'renewed' | 'lost' | 'standby';

/**
 * One leadership as its candidate believed it: from the completion of the `elect` op that acquired the Lease
 * to the completion of the one that found the renew deadline passed (or the candidate's retirement, or the end
 * of the history for a leader still leading then). Completions, not invocations: the candidate acts as leader
 * only once it knows, and stops only when it knows, which is how client-go's callbacks fire.
 */
export interface Leadership {
  process: number;
  node?: string;
  holder?: string;
  transitions?: number;
  startNs: number;
  /** Infinity when the history ended with it still leading. */
  endNs: number;
  acquiredIndex: number;
  /** The op whose completion ended it; undefined when the history ended first. */
  endedIndex?: number;
  ended: 'lost' | 'retired' | 'end-of-history';
  renewals: number;
}

export interface LeaderOverlap {
  first: Leadership;
  second: Leadership;
  /** How long both believed they led, in milliseconds. */
  overlapMs: number;
}

function eventOf(op: Op): ElectionEvent | undefined {
  const value = op.value as { event?: unknown } | null | undefined;
  const event = value !== null && typeof value === 'object' ? value.event : undefined;
  return event === 'acquired' || event === 'renewed' || event === 'lost' || event === 'standby' ? event : undefined;
}

/** Every leadership in the history, in order of start. */
export function leaderships(history: History): Leadership[] {
  const open = new Map<number, Leadership>();
  const closed: Leadership[] = [];
  let lastTimeNs = 0;
  for (const op of history) {
    lastTimeNs = Math.max(lastTimeNs, op.time);
    if (typeof op.process !== 'number' || op.f !== 'elect' || op.type === 'invoke') continue;
    const current = open.get(op.process);
    if (op.type !== 'ok') {
      // A candidate whose step timed out is retired by the runner (a fresh client takes its place): whatever
      // it believed ends here.
      if (op.type === 'info' && current) {
        closed.push({ ...current, endNs: op.time, endedIndex: op.index, ended: 'retired' });
        open.delete(op.process);
      }
      continue;
    }
    const event = eventOf(op);
    const value = (op.value ?? {}) as { holder?: unknown; transitions?: unknown };
    if (event === 'acquired' && !current) {
      open.set(op.process, {
        process: op.process,
        ...(op.node === undefined ? {} : { node: op.node }),
        ...(typeof value.holder === 'string' ? { holder: value.holder } : {}),
        ...(typeof value.transitions === 'number' ? { transitions: value.transitions } : {}),
        startNs: op.time,
        endNs: Number.POSITIVE_INFINITY,
        acquiredIndex: op.index,
        ended: 'end-of-history',
        renewals: 0,
      });
    } else if (event === 'renewed' && current) {
      current.renewals++;
    } else if (event === 'lost' && current) {
      closed.push({ ...current, endNs: op.time, endedIndex: op.index, ended: 'lost' });
      open.delete(op.process);
    }
  }
  // Still leading when the history ends: it leads past every later moment (Infinity), so any later acquisition overlaps.
  for (const leadership of open.values()) closed.push(leadership);
  return closed.sort((a, b) => a.startNs - b.startNs || a.acquiredIndex - b.acquiredIndex);
}

/** Pairs of leaderships of different candidates that share a moment (sorted by start: a sweep). */
export function leaderOverlaps(sorted: readonly Leadership[], historyEndNs = 0): LeaderOverlap[] {
  const overlaps: LeaderOverlap[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].startNs < sorted[i].endNs; j++) {
      if (sorted[j].process === sorted[i].process) continue;
      overlaps.push({ first: sorted[i], second: sorted[j], overlapMs: (Math.min(sorted[i].endNs, sorted[j].endNs, Math.max(historyEndNs, sorted[j].startNs)) - sorted[j].startNs) / 1e6 });
    }
  }
  return overlaps;
}

/**
 * The Lease's transition count must grow from one leadership to the next (each takeover increments it under a
 * resourceVersion precondition); an acquisition that did not raise it means two candidates wrote over one record.
 * A candidate taking back a Lease that still names it keeps the count, as client-go does: only a new holder counts.
 */
export function transitionRegressions(sorted: readonly Leadership[]): Array<{ previous: Leadership; next: Leadership }> {
  const regressions: Array<{ previous: Leadership; next: Leadership }> = [];
  let previous: Leadership | undefined;
  for (const leadership of sorted) {
    if (leadership.transitions === undefined) continue;
    const newHolder = previous?.holder === undefined || leadership.holder === undefined || previous.holder !== leadership.holder;
    if (previous?.transitions !== undefined && newHolder && leadership.transitions <= previous.transitions) regressions.push({ previous, next: leadership });
    previous = leadership;
  }
  return regressions;
}

function shown(leadership: Leadership) {
  return {
    process: leadership.process,
    node: leadership.node,
    holder: leadership.holder,
    transitions: leadership.transitions,
    startMs: Math.round(leadership.startNs / 1e6),
    endMs: Number.isFinite(leadership.endNs) ? Math.round(leadership.endNs / 1e6) : null,
    acquiredIndex: leadership.acquiredIndex,
    endedIndex: leadership.endedIndex,
    ended: leadership.ended,
    renewals: leadership.renewals,
  };
}

export function checkLeaderElection(history: History): CheckResult {
  const all = leaderships(history);
  const historyEndNs = history.reduce((latest, op) => Math.max(latest, op.time), 0);
  const overlaps = leaderOverlaps(all, historyEndNs);
  const regressions = transitionRegressions(all);
  const ok = history.filter((op) => op.f === 'elect' && op.type === 'ok');
  const steps = { acquired: 0, renewed: 0, lost: 0, standby: 0 };
  for (const op of ok) {
    const event = eventOf(op);
    if (event) steps[event]++;
  }
  // Time with nobody leading, between one leadership's end and the next start: what a failover costs.
  let longestLeaderlessMs = 0;
  let coveredUntilNs: number | undefined;
  for (const leadership of all) {
    if (coveredUntilNs !== undefined && leadership.startNs > coveredUntilNs) longestLeaderlessMs = Math.max(longestLeaderlessMs, (leadership.startNs - coveredUntilNs) / 1e6);
    coveredUntilNs = Math.max(coveredUntilNs ?? 0, Math.min(leadership.endNs, historyEndNs));
  }
  const valid = all.length === 0 ? 'unknown' : overlaps.length === 0 && regressions.length === 0;
  return {
    valid,
    ...(all.length === 0 ? { reason: 'no candidate ever acquired the Lease: nothing to judge' } : {}),
    ...(overlaps.length > 0 ? { reason: `${overlaps.length} time(s) two candidates believed they led at once` } : {}),
    ...(overlaps.length === 0 && regressions.length > 0 ? { reason: `${regressions.length} takeover(s) did not raise the Lease's transition count` } : {}),
    leaderships: all.length,
    steps,
    longestLeaderlessMs: Math.round(longestLeaderlessMs),
    overlapCount: overlaps.length,
    overlaps: overlaps.slice(0, shownMax).map((overlap) => ({
      overlapMs: Math.round(overlap.overlapMs),
      first: shown(overlap.first),
      second: shown(overlap.second),
      // The ops that prove it: the second candidate's acquisition completed before the first one's end.
      ops: [overlap.first.acquiredIndex, overlap.second.acquiredIndex, ...(overlap.first.endedIndex === undefined ? [] : [overlap.first.endedIndex])],
    })),
    transitionRegressions: regressions.slice(0, shownMax).map((regression) => ({ previous: shown(regression.previous), next: shown(regression.next) })),
    intervals: all.slice(0, shownMax).map(shown),
  };
}

export function leaderElectionChecker(): Checker {
  return { name: 'leader-election', check: async (_context, history) => checkLeaderElection(history) };
}
