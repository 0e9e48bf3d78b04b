// The availability checker: how long clients went unserved, how fast service came back after each heal, goodput
// and error rate before, during and after faults, and retry amplification; thresholds from the spec fail a run.
import type { Checker, CheckResult } from '../types.js';
import { isClientProcess, pairOps, type History, type Op, type OpPair } from '../../src/history/types.js';

/** Thresholds (spec field `availability`); an absent one is not judged. Seconds, ratios and rates. */
export interface AvailabilityThresholds {
  /** Longest unavailability window allowed. */
  maxUnavailableS?: number;
  /** Longest time from a heal to the first ok client completion after it. */
  maxRecoveryS?: number;
  /** Smallest goodput during faults over goodput before them. */
  minGoodputRatio?: number;
  /** Largest (fail + info) / completed over the whole main phase. */
  maxErrorRate?: number;
  /** Largest attempts / logical requests (client retries). */
  maxRetryAmplification?: number;
  /** Shortest gap without an ok completion that counts as an unavailability window (default 1 s). */
  outageThresholdS?: number;
}

export const defaultOutageThresholdS = 1;
/** Width of the sliding window in which "sustained recovery" compares the ok-rate with the pre-fault level. */
export const sustainedWindowS = 1;

/** A period with no ok completion while some client op was waiting for an answer. Times in seconds since the test began. */
export interface UnavailabilityWindow {
  startS: number;
  endS: number;
  durationS: number;
  /** True when the main phase ended inside the window (no ok completion came after it). */
  open: boolean;
}

/** One heal (a nemesis stop op's completion) and how service came back after it. */
export interface Recovery {
  /** Fault name (or the stop op's f when the history does not say). */
  fault: string;
  healS: number;
  /** Seconds from the heal to the first ok client completion after it; null when none came. */
  recoveryS: number | null;
  /** Seconds from the heal until the ok-rate over the last second is back to half the pre-fault goodput; null when it never was or nothing to compare with. */
  sustainedRecoveryS: number | null;
  /** Seconds of main phase observed after the heal (how long recovery had to show). */
  observedS: number;
}

/** A fault in force: from its start op's invocation to its stop op's completion (or the main phase's end). */
export interface FaultPeriod {
  fault: string;
  startS: number;
  endS: number;
  healed: boolean;
}

export interface PhaseStats {
  startS: number;
  endS: number;
  ok: number;
  fail: number;
  info: number;
  /** ok completions per second. */
  goodput: number;
  /** (fail + info) / completed; null when nothing completed. */
  errorRate: number | null;
}

/** Per-second counts for the report's timeline. */
export interface SecondBucket {
  second: number;
  ok: number;
  failed: number;
  retries: number;
}

export interface AvailabilityResult extends CheckResult {
  windows: UnavailabilityWindow[];
  recoveries: Recovery[];
  faults: FaultPeriod[];
  phases: { before: PhaseStats | null; during: PhaseStats | null; after: PhaseStats | null; all: PhaseStats | null };
  /** goodput during faults / goodput before them; null when either is missing or before is 0. */
  goodputRatio: number | null;
  attempts: number;
  logicalRequests: number;
  retryAmplification: number | null;
  timeline: SecondBucket[];
  thresholds: AvailabilityThresholds;
  breaches: string[];
  reason?: string;
}

const nsPerS = 1e9;

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A number for messages: at most three decimals, no trailing zeros. */
function shown(value: number): string {
  return String(round(value));
}

/**
 * Functions whose `fail` may be the store's answer, not a refusal to serve: a cas whose expected value differed
 * was served. Such a fail counts as served (like ok) here, and client workers do not retry it.
 */
export const answeredFailFunctions: readonly string[] = ['cas'];

/**
 * A fail completion that is an answer: a function of answeredFailFunctions failing with no error or with the
 * targets' own words for it ('value differed', raftkv, etcd and k8s alike). A cas refused for want of a quorum
 * or a connection carries another error and is an outage like any other fail.
 */
export function isAnsweredFail(completion: Pick<Op, 'type' | 'f' | 'error'>): boolean {
  return completion.type === 'fail' && answeredFailFunctions.includes(completion.f) && (completion.error === undefined || completion.error === 'value differed');
}

/**
 * Client pairs of the main phase (the final phase, `final: true`, comes after the recovery wait and is not
 * measured), with answered fails counted as ok.
 */
export function mainPhasePairs(history: readonly Op[]): OpPair[] {
  return pairOps(history)
    .filter((pair) => pair.invoke.final !== true)
    .map((pair) => (pair.completion && isAnsweredFail(pair.completion) ? { invoke: pair.invoke, completion: { ...pair.completion, type: 'ok' as const } } : pair));
}

/** Nemesis ops as fault starts and stops: the runner's `fault`/`action` fields, else Jepsen's `start-*`/`stop-*` names. */
function faultEvent(op: Op): { fault: string; action: 'start' | 'stop' } | undefined {
  if (op.process !== 'nemesis') return undefined;
  const action = op.action === 'start' || op.action === 'stop' ? op.action : /^start/.test(op.f) ? 'start' : /^stop/.test(op.f) ? 'stop' : undefined;
  if (!action) return undefined;
  const fault = typeof op.fault === 'string' ? op.fault : op.f.replace(/^(start|stop)-?/, '') || op.f;
  return { fault, action };
}

/**
 * Fault periods and heals. A fault starts at its start op's invocation; it ends at the completion of a stop op
 * that healed it (`healed: false` means it did not). A stop with no fault in force still counts as a heal.
 */
export function faultPeriods(history: readonly Op[], endNs: number): { periods: FaultPeriod[]; heals: Array<{ fault: string; timeNs: number }> } {
  const periods: FaultPeriod[] = [];
  const heals: Array<{ fault: string; timeNs: number }> = [];
  const openStarts = new Map<string, number>();
  for (const op of history) {
    const event = faultEvent(op);
    if (!event) continue;
    if (event.action === 'start' && op.type === 'invoke') {
      if (!openStarts.has(event.fault)) openStarts.set(event.fault, op.time);
    } else if (event.action === 'start' && op.type === 'fail') {
      // A start that certainly did not happen leaves no fault in force.
      openStarts.delete(event.fault);
    } else if (event.action === 'stop' && op.type !== 'invoke' && op.healed !== false && op.error === undefined && op.type !== 'fail') {
      heals.push({ fault: event.fault, timeNs: op.time });
      const startNs = openStarts.get(event.fault);
      if (startNs !== undefined) {
        periods.push({ fault: event.fault, startS: startNs / nsPerS, endS: op.time / nsPerS, healed: true });
        openStarts.delete(event.fault);
      }
    }
  }
  for (const [fault, startNs] of openStarts) periods.push({ fault, startS: startNs / nsPerS, endS: Math.max(startNs, endNs) / nsPerS, healed: false });
  periods.sort((a, b) => a.startS - b.startS);
  return { periods, heals };
}

/**
 * Unavailability windows: after each ok completion (or the first invocation), from the moment some client op is
 * outstanding until the next ok completion (or the main phase's end), when that lasts at least `thresholdNs`.
 * An op is outstanding from its invocation to its completion (forever when it has none).
 */
export function unavailabilityWindows(pairs: readonly OpPair[], endNs: number, thresholdNs: number): UnavailabilityWindow[] {
  if (pairs.length === 0) return [];
  const okTimes = pairs.filter((pair) => pair.completion?.type === 'ok').map((pair) => pair.completion!.time).sort((a, b) => a - b);
  const windows: UnavailabilityWindow[] = [];
  // Invocations sorted, so the earliest op still waiting after each ok completion is found by one forward scan
  // over ops not yet answered: an op matters to the gap after `previous` when it completes after it (or never).
  const byInvoke = [...pairs].sort((a, b) => a.invoke.time - b.invoke.time);
  const boundaries = [...okTimes, Number.POSITIVE_INFINITY];
  let previous = Number.NEGATIVE_INFINITY;
  let cursor = 0;
  for (const next of boundaries) {
    // Ops completed (or answered) at or before `previous` never matter again; skip the settled prefix.
    while (cursor < byInvoke.length && completionTime(byInvoke[cursor]) <= previous) cursor++;
    let demandNs = Number.POSITIVE_INFINITY;
    for (let index = cursor; index < byInvoke.length; index++) {
      const pair = byInvoke[index];
      if (pair.invoke.time >= next) break;
      if (completionTime(pair) > previous) {
        demandNs = Math.max(previous, pair.invoke.time);
        break;
      }
    }
    const stopNs = Math.min(next, endNs);
    if (demandNs < stopNs && stopNs - demandNs >= thresholdNs) {
      windows.push({ startS: demandNs / nsPerS, endS: stopNs / nsPerS, durationS: (stopNs - demandNs) / nsPerS, open: next === Number.POSITIVE_INFINITY || next > endNs });
    }
    previous = next;
  }
  return windows;
}

function completionTime(pair: OpPair): number {
  return pair.completion ? pair.completion.time : Number.POSITIVE_INFINITY;
}

/** ok, fail and info completions with completion times in [startNs, endNs), goodput over that span. */
export function phaseStats(pairs: readonly OpPair[], startNs: number, endNs: number, inside: (timeNs: number) => boolean = () => true, spanNs = endNs - startNs): PhaseStats | null {
  if (spanNs <= 0) return null;
  let ok = 0;
  let fail = 0;
  let info = 0;
  for (const pair of pairs) {
    const completion = pair.completion;
    if (!completion || completion.time < startNs || completion.time >= endNs || !inside(completion.time)) continue;
    if (completion.type === 'ok') ok++;
    else if (completion.type === 'fail') fail++;
    else info++;
  }
  const completed = ok + fail + info;
  return { startS: startNs / nsPerS, endS: endNs / nsPerS, ok, fail, info, goodput: ok / (spanNs / nsPerS), errorRate: completed === 0 ? null : (fail + info) / completed };
}

/** The first time at or after `healNs` at which the ok completions in the trailing window reach `needed`. */
function sustainedRecoveryNs(okTimes: readonly number[], healNs: number, windowNs: number, needed: number): number | undefined {
  if (needed <= 0) return healNs;
  // The heal itself counts when the trailing window already holds enough (the fault did not cost goodput).
  const atHeal = okTimes.filter((time) => time > healNs - windowNs && time <= healNs).length;
  if (atHeal >= needed) return healNs;
  let low = 0;
  for (let high = 0; high < okTimes.length; high++) {
    while (okTimes[low] <= okTimes[high] - windowNs) low++;
    const at = okTimes[high];
    if (at < healNs) continue;
    if (high - low + 1 >= needed) return at;
  }
  return undefined;
}

/** Everything measured, and the thresholds judged. Pure: same history, same result. */
export function checkAvailability(history: readonly Op[], thresholds: AvailabilityThresholds = {}): AvailabilityResult {
  const pairs = mainPhasePairs(history);
  // Loops rather than Math.min(...): a long run's history would overflow the argument list.
  let startNs = pairs.length > 0 ? Number.POSITIVE_INFINITY : 0;
  let endNs = 0;
  for (const pair of pairs) {
    startNs = Math.min(startNs, pair.invoke.time);
    endNs = Math.max(endNs, pair.invoke.time, pair.completion?.time ?? 0);
  }
  const thresholdNs = (thresholds.outageThresholdS ?? defaultOutageThresholdS) * nsPerS;
  const windows = unavailabilityWindows(pairs, endNs, thresholdNs);
  const { periods, heals } = faultPeriods(history, endNs);

  const firstFaultNs = periods.length > 0 ? periods[0].startS * nsPerS : undefined;
  // Heals after the main phase (the runner's final heal) have no client ops after them to measure.
  const mainHeals = heals.filter((heal) => heal.timeNs <= endNs);
  const lastHealNs = mainHeals.length > 0 ? mainHeals[mainHeals.length - 1].timeNs : undefined;
  const inFault = (timeNs: number) => periods.some((period) => timeNs >= period.startS * nsPerS && timeNs < period.endS * nsPerS);
  const faultSpanNs = unionLengthNs(periods.map((period) => [Math.max(startNs, period.startS * nsPerS), Math.min(endNs, period.endS * nsPerS)]));
  const all = clip(phaseStats(pairs, startNs, endNs + 1, () => true, endNs - startNs), endNs);
  const before = clip(phaseStats(pairs, startNs, firstFaultNs ?? endNs + 1, () => true, (firstFaultNs ?? endNs) - startNs), endNs);
  const duringStats = periods.length > 0 ? phaseStats(pairs, startNs, endNs + 1, inFault, faultSpanNs) : null;
  // Shown as from the first fault's start to the last one's end (the measured span is their union).
  const during = duringStats ? { ...duringStats, startS: Math.max(startNs, firstFaultNs ?? startNs) / nsPerS, endS: Math.min(endNs, Math.max(...periods.map((period) => period.endS * nsPerS))) / nsPerS } : null;
  const after = lastHealNs !== undefined && !periods.some((period) => !period.healed && period.endS * nsPerS > lastHealNs)
    ? clip(phaseStats(pairs, lastHealNs, endNs + 1, () => true, endNs - lastHealNs), endNs)
    : null;
  const goodputRatio = before && during && before.goodput > 0 ? during.goodput / before.goodput : null;

  const okTimes = pairs.filter((pair) => pair.completion?.type === 'ok').map((pair) => pair.completion!.time).sort((a, b) => a - b);
  const preFaultGoodput = firstFaultNs !== undefined && before ? before.goodput : null;
  const recoveries: Recovery[] = mainHeals.map((heal) => {
    const firstOk = okTimes.find((time) => time >= heal.timeNs);
    const needed = preFaultGoodput !== null && preFaultGoodput > 0 ? Math.ceil(0.5 * preFaultGoodput * sustainedWindowS) : undefined;
    const sustained = needed === undefined ? undefined : sustainedRecoveryNs(okTimes, heal.timeNs, sustainedWindowS * nsPerS, needed);
    return {
      fault: heal.fault,
      healS: heal.timeNs / nsPerS,
      recoveryS: firstOk === undefined ? null : (firstOk - heal.timeNs) / nsPerS,
      sustainedRecoveryS: sustained === undefined ? null : (sustained - heal.timeNs) / nsPerS,
      observedS: Math.max(0, endNs - heal.timeNs) / nsPerS,
    };
  });

  const retried = pairs.filter((pair) => typeof pair.invoke.attempt === 'number');
  const attempts = pairs.length;
  const logicalRequests = pairs.filter((pair) => typeof pair.invoke.attempt !== 'number' || pair.invoke.attempt <= 1).length;
  const retryAmplification = logicalRequests > 0 ? attempts / logicalRequests : null;

  const breaches = judge(thresholds, { windows, recoveries, goodputRatio, all, retryAmplification });
  const result: AvailabilityResult = {
    valid: breaches.length === 0,
    windows,
    recoveries,
    faults: periods,
    phases: { before, during, after, all },
    goodputRatio,
    attempts,
    logicalRequests,
    retryAmplification,
    retriedAttempts: retried.filter((pair) => (pair.invoke.attempt as number) > 1).length,
    timeline: timeline(pairs, endNs),
    thresholds,
    breaches,
  };
  if (breaches.length > 0) result.reason = breaches.join('; ');
  return result;
}

/** A phase's shown end is the main phase's end, not the exclusive bound used to include the last completion. */
function clip(phase: PhaseStats | null, endNs: number): PhaseStats | null {
  return phase ? { ...phase, endS: Math.min(phase.endS, endNs / nsPerS) } : null;
}

function unionLengthNs(intervals: Array<[number, number]>): number {
  const sorted = intervals.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let currentStart = Number.NEGATIVE_INFINITY;
  let currentEnd = Number.NEGATIVE_INFINITY;
  for (const [start, end] of sorted) {
    if (start > currentEnd) {
      if (currentEnd > currentStart) total += currentEnd - currentStart;
      currentStart = start;
      currentEnd = end;
    } else currentEnd = Math.max(currentEnd, end);
  }
  if (currentEnd > currentStart) total += currentEnd - currentStart;
  return total;
}

function timeline(pairs: readonly OpPair[], endNs: number): SecondBucket[] {
  const seconds = Math.min(100_000, Math.floor(endNs / nsPerS) + 1);
  const buckets: SecondBucket[] = Array.from({ length: seconds }, (_, second) => ({ second, ok: 0, failed: 0, retries: 0 }));
  for (const pair of pairs) {
    const second = Math.floor((pair.completion?.time ?? pair.invoke.time) / nsPerS);
    const bucket = buckets[second];
    if (!bucket) continue;
    if (pair.completion?.type === 'ok') bucket.ok++;
    else if (pair.completion) bucket.failed++;
    if (typeof pair.invoke.attempt === 'number' && pair.invoke.attempt > 1) bucket.retries++;
  }
  return buckets;
}

/** One line per threshold breached, naming it and the measured value. */
function judge(
  thresholds: AvailabilityThresholds,
  measured: { windows: UnavailabilityWindow[]; recoveries: Recovery[]; goodputRatio: number | null; all: PhaseStats | null; retryAmplification: number | null },
): string[] {
  const breaches: string[] = [];
  if (thresholds.maxUnavailableS !== undefined) {
    const longest = measured.windows.reduce<UnavailabilityWindow | undefined>((best, window) => (!best || window.durationS > best.durationS ? window : best), undefined);
    if (longest && longest.durationS > thresholds.maxUnavailableS) {
      breaches.push(`unavailable from ${shown(longest.startS)} s for ${shown(longest.durationS)} s > max-unavailable-s ${shown(thresholds.maxUnavailableS)}`);
    }
  }
  if (thresholds.maxRecoveryS !== undefined) {
    const limit = thresholds.maxRecoveryS;
    for (const recovery of measured.recoveries) {
      if (recovery.recoveryS !== null && recovery.recoveryS > limit) {
        breaches.push(`recovery after heal at ${shown(recovery.healS)} s took ${shown(recovery.recoveryS)} s > max-recovery-s ${shown(limit)}`);
      } else if (recovery.recoveryS === null && recovery.observedS > limit) {
        breaches.push(`no recovery after heal at ${shown(recovery.healS)} s within ${shown(recovery.observedS)} s observed > max-recovery-s ${shown(limit)}`);
      }
    }
  }
  if (thresholds.minGoodputRatio !== undefined && measured.goodputRatio !== null && measured.goodputRatio < thresholds.minGoodputRatio) {
    breaches.push(`goodput during faults / before was ${shown(measured.goodputRatio)} < min-goodput-ratio ${shown(thresholds.minGoodputRatio)}`);
  }
  const errorRate = measured.all?.errorRate ?? null;
  if (thresholds.maxErrorRate !== undefined && errorRate !== null && errorRate > thresholds.maxErrorRate) {
    breaches.push(`error rate ${shown(errorRate)} > max-error-rate ${shown(thresholds.maxErrorRate)}`);
  }
  if (thresholds.maxRetryAmplification !== undefined && measured.retryAmplification !== null && measured.retryAmplification > thresholds.maxRetryAmplification) {
    breaches.push(`retry amplification ${shown(measured.retryAmplification)} > max-retry-amplification ${shown(thresholds.maxRetryAmplification)}`);
  }
  return breaches;
}

/** The checker under the name `availability`; informational (valid) without thresholds. */
export function availabilityChecker(thresholds: AvailabilityThresholds = {}): Checker {
  return {
    name: 'availability',
    async check(_context, history: History) {
      return checkAvailability(history.filter((op) => isClientProcess(op.process) || op.process === 'nemesis'), thresholds);
    },
  };
}
