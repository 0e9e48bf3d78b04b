// Proves the availability checker on hand-built histories whose windows, recovery times, goodput and retry
// amplification are known exactly, and its unavailability windows against a brute-force oracle on random histories.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Op } from '../../src/history/types.js';
import { availabilityChecker, checkAvailability } from './index.js';

const msToNs = 1e6;

interface Event {
  process: number | 'nemesis';
  type: Op['type'];
  f: string;
  timeMs: number;
  extra?: Record<string, unknown>;
}

/** A history from events in any order: sorted by time (stable), indexed, times in ns. */
function historyOf(events: Event[]): Op[] {
  return events
    .map((event, order) => ({ event, order }))
    .sort((a, b) => a.event.timeMs - b.event.timeMs || a.order - b.order)
    .map(({ event }, index) => ({ index, process: event.process, type: event.type, f: event.f, value: null, time: event.timeMs * msToNs, ...event.extra }) as Op);
}

function clientOp(process: number, invokeMs: number, completeMs: number | undefined, type: 'ok' | 'fail' | 'info', extra: Record<string, unknown> = {}): Event[] {
  const invoke: Event = { process, type: 'invoke', f: 'write', timeMs: invokeMs, extra };
  return completeMs === undefined ? [invoke] : [invoke, { process, type, f: 'write', timeMs: completeMs, extra }];
}

function nemesisOp(fault: string, action: 'start' | 'stop', invokeMs: number, completeMs: number, extra: Record<string, unknown> = {}): Event[] {
  const f = `${action}-${fault}`;
  return [
    { process: 'nemesis', type: 'invoke', f, timeMs: invokeMs, extra: { fault, action } },
    { process: 'nemesis', type: 'info', f, timeMs: completeMs, extra: { fault, action, ...extra } },
  ];
}

/**
 * One client: ok every 100 ms until 2.95 s, a partition from 3.0 s, fail answers until 5.95 s, the heal completing
 * at 6.02 s, a slow first ok at 6.5 s, then ok every 100 ms until 8.55 s.
 */
function partitionHistory(): Op[] {
  const events: Event[] = [];
  for (let k = 0; k < 30; k++) events.push(...clientOp(0, k * 100, k * 100 + 50, 'ok'));
  events.push(...nemesisOp('partition', 'start', 3000, 3010));
  for (let j = 0; j < 30; j++) events.push(...clientOp(0, 3000 + j * 100, 3000 + j * 100 + 50, 'fail'));
  events.push(...nemesisOp('partition', 'stop', 6000, 6020));
  events.push(...clientOp(0, 6100, 6500, 'ok'));
  for (let k = 0; k < 20; k++) events.push(...clientOp(0, 6600 + k * 100, 6600 + k * 100 + 50, 'ok'));
  return historyOf(events);
}

describe('availability checker on hand-built histories', () => {
  it('measures the outage, the recovery after the heal, and goodput before, during and after', () => {
    const result = checkAvailability(partitionHistory());
    expect(result.valid).toBe(true);
    expect(result.windows).toHaveLength(1);
    expect(result.windows[0].startS).toBeCloseTo(3.0, 9);
    expect(result.windows[0].endS).toBeCloseTo(6.5, 9);
    expect(result.windows[0].durationS).toBeCloseTo(3.5, 9);
    expect(result.windows[0].open).toBe(false);
    expect(result.faults).toEqual([{ fault: 'partition', startS: 3, endS: 6.02, healed: true }]);
    expect(result.recoveries).toHaveLength(1);
    expect(result.recoveries[0].healS).toBeCloseTo(6.02, 9);
    expect(result.recoveries[0].recoveryS).toBeCloseTo(0.48, 9);
    // Pre-fault goodput is 10 ok/s: half of it is 5 ok completions in a trailing second, first reached at 6.95 s.
    expect(result.phases.before?.goodput).toBeCloseTo(10, 9);
    expect(result.recoveries[0].sustainedRecoveryS).toBeCloseTo(0.93, 9);
    expect(result.phases.during?.ok).toBe(0);
    expect(result.phases.during?.fail).toBe(30);
    expect(result.phases.during?.errorRate).toBe(1);
    expect(result.goodputRatio).toBe(0);
    expect(result.phases.after?.ok).toBe(21);
    expect(result.phases.after?.goodput).toBeCloseTo(21 / 2.53, 9);
    expect(result.phases.all?.errorRate).toBeCloseTo(30 / 81, 9);
    expect(result.retryAmplification).toBe(1);
  });

  it('fails on each breached threshold with its name and the measured value, and passes lax ones', () => {
    const strict = checkAvailability(partitionHistory(), { maxRecoveryS: 0.1, maxUnavailableS: 2, minGoodputRatio: 0.5, maxErrorRate: 0.2 });
    expect(strict.valid).toBe(false);
    expect(strict.breaches).toEqual([
      'unavailable from 3 s for 3.5 s > max-unavailable-s 2',
      'recovery after heal at 6.02 s took 0.48 s > max-recovery-s 0.1',
      'goodput during faults / before was 0 < min-goodput-ratio 0.5',
      'error rate 0.37 > max-error-rate 0.2',
    ]);
    expect(strict.reason).toContain('max-recovery-s 0.1');
    const lax = checkAvailability(partitionHistory(), { maxRecoveryS: 1, maxUnavailableS: 4, minGoodputRatio: 0, maxErrorRate: 0.5, maxRetryAmplification: 1 });
    expect(lax.valid).toBe(true);
    expect(lax.breaches).toEqual([]);
  });

  it('counts attempts over logical requests and shows retries per second', () => {
    const events = [
      ...clientOp(0, 0, 10, 'fail', { request: 1, attempt: 1 }),
      ...clientOp(0, 20, 30, 'fail', { request: 1, attempt: 2 }),
      ...clientOp(0, 1040, 1050, 'ok', { request: 1, attempt: 3 }),
      ...clientOp(1, 0, 10, 'ok', { request: 1, attempt: 1 }),
    ];
    const result = checkAvailability(historyOf(events), { maxRetryAmplification: 1.5 });
    expect(result.attempts).toBe(4);
    expect(result.logicalRequests).toBe(2);
    expect(result.retryAmplification).toBe(2);
    expect(result.timeline.map((bucket) => bucket.retries)).toEqual([1, 1]);
    expect(result.valid).toBe(false);
    expect(result.breaches).toEqual(['retry amplification 2 > max-retry-amplification 1.5']);
  });

  it('keeps a window open to the end when no ok came after it, and ignores the final phase', () => {
    const events = [
      ...clientOp(0, 0, 100, 'ok'),
      ...clientOp(0, 1000, 1100, 'ok'),
      ...clientOp(0, 1100, 4100, 'info'),
      ...clientOp(1, 1200, undefined, 'info'),
      // The final phase's reads come after the recovery wait: not part of the measured run.
      ...clientOp(5, 9000, 9010, 'ok', { final: true }),
    ];
    const result = checkAvailability(historyOf(events));
    expect(result.windows).toEqual([{ startS: 1.1, endS: 4.1, durationS: 3, open: true }]);
  });

  it('counts a cas that failed on its value as served, not as an error', () => {
    const cas = (process: number, invokeMs: number, completeMs: number): Event[] => [
      { process, type: 'invoke', f: 'cas', timeMs: invokeMs },
      { process, type: 'fail', f: 'cas', timeMs: completeMs, extra: { error: 'value differed' } },
    ];
    const events = [...clientOp(0, 0, 100, 'ok'), ...cas(0, 200, 900), ...cas(0, 1000, 1900), ...clientOp(0, 2000, 2100, 'ok')];
    const result = checkAvailability(historyOf(events));
    expect(result.windows).toEqual([]);
    expect(result.phases.all?.errorRate).toBe(0);
    expect(result.phases.all?.ok).toBe(4);
    // The same cas refused for want of a connection is a fail like any other: 1.9 s with no answer.
    const refused = historyOf(events.map((event) => (event.f === 'cas' && event.type === 'fail' ? { ...event, extra: { error: 'connection refused' } } : event)));
    expect(checkAvailability(refused).windows).toEqual([{ startS: 0.2, endS: 2.1, durationS: 1.9, open: false }]);
  });

  it('does not count an idle gap or a short one', () => {
    const events = [...clientOp(0, 0, 100, 'ok'), ...clientOp(0, 5000, 5100, 'ok'), ...clientOp(0, 5200, 5900, 'fail'), ...clientOp(0, 5950, 6000, 'ok')];
    expect(checkAvailability(historyOf(events)).windows).toEqual([]);
  });

  it('reports a heal with no ok after it as not recovered, a breach once observed longer than the limit', () => {
    const events = [
      ...clientOp(0, 0, 100, 'ok'),
      ...nemesisOp('kill', 'start', 200, 210),
      ...nemesisOp('kill', 'stop', 500, 520),
      ...clientOp(0, 300, 3000, 'info'),
    ];
    const result = checkAvailability(historyOf(events), { maxRecoveryS: 1 });
    expect(result.recoveries).toEqual([{ fault: 'kill', healS: 0.52, recoveryS: null, sustainedRecoveryS: null, observedS: 2.48 }]);
    expect(result.breaches).toEqual(['no recovery after heal at 0.52 s within 2.48 s observed > max-recovery-s 1']);
  });

  it('does not count a heal that erred, and the checker is named availability', async () => {
    const events = [...clientOp(0, 0, 100, 'ok'), ...nemesisOp('partition', 'start', 200, 210), ...nemesisOp('partition', 'stop', 500, 520, { healed: false, error: 'iptables failed' }), ...clientOp(0, 600, 700, 'ok')];
    const checker = availabilityChecker({});
    expect(checker.name).toBe('availability');
    const result = (await checker.check({}, historyOf(events))) as ReturnType<typeof checkAvailability>;
    expect(result.recoveries).toEqual([]);
    expect(result.faults).toEqual([{ fault: 'partition', startS: 0.2, endS: 0.7, healed: false }]);
  });
});

/** The brute-force oracle: sample every half millisecond and say whether a client is waiting since the last ok. */
function oracleWindows(events: Event[], thresholdMs: number): Array<[number, number]> {
  const invokes = events.filter((event) => event.type === 'invoke');
  const completions = events.filter((event) => event.type !== 'invoke');
  const completionOf = (invoke: Event) => completions.find((event) => event.process === invoke.process && event.extra?.id === invoke.extra?.id);
  const okTimes = completions.filter((event) => event.type === 'ok').map((event) => event.timeMs);
  const times = events.map((event) => event.timeMs);
  const startMs = Math.min(...invokes.map((event) => event.timeMs));
  const endMs = Math.max(...times);
  const waiting = (t: number) => {
    const lastOk = Math.max(Number.NEGATIVE_INFINITY, ...okTimes.filter((time) => time <= t));
    return invokes.some((invoke) => {
      const completion = completionOf(invoke);
      return invoke.timeMs <= t && (completion === undefined || completion.timeMs > lastOk);
    });
  };
  const windows: Array<[number, number]> = [];
  let runStart: number | undefined;
  // Events fall on whole milliseconds, so the sample k + 0.5 stands for the whole millisecond (k, k + 1).
  for (let k = startMs; k < endMs; k++) {
    if (!waiting(k + 0.5)) continue;
    runStart ??= k;
    // A run ends at an ok completion (the next one starts afresh) or where the next sample is not waiting.
    if (okTimes.includes(k + 1) || k + 1 === endMs || !waiting(k + 1.5)) {
      if (k + 1 - runStart >= thresholdMs) windows.push([runStart, k + 1]);
      runStart = undefined;
    }
  }
  return windows;
}

describe('availability windows against a brute-force oracle', () => {
  it('agree on random small histories', () => {
    const step = fc.record({
      gap: fc.integer({ min: 0, max: 6 }),
      duration: fc.integer({ min: 1, max: 9 }),
      type: fc.constantFrom<'ok' | 'fail' | 'info' | 'none'>('ok', 'ok', 'fail', 'fail', 'info', 'none'),
    });
    const histories = fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(histories, fc.integer({ min: 1, max: 6 }), (processes, thresholdMs) => {
        const events: Event[] = [];
        processes.forEach((steps, process) => {
          let time = 0;
          steps.forEach((spec, id) => {
            const invokeAt = time + spec.gap;
            const completeAt = invokeAt + spec.duration;
            events.push(...clientOp(process, invokeAt, spec.type === 'none' ? undefined : completeAt, spec.type === 'none' ? 'info' : spec.type, { id }));
            time = completeAt;
          });
        });
        // Jepsen's rule: a process with an op that never completed invokes nothing more.
        const trimmed = events.filter((event) => {
          const open = events.find((other) => other.process === event.process && other.type === 'invoke' && !events.some((done) => done !== other && done.process === other.process && done.type !== 'invoke' && done.extra?.id === other.extra?.id));
          return !open || (event.extra?.id as number) <= (open.extra?.id as number);
        });
        const result = checkAvailability(historyOf(trimmed), { outageThresholdS: thresholdMs / 1000 });
        const found = result.windows.map((window) => [Math.round(window.startS * 1000), Math.round(window.endS * 1000)]);
        expect(found).toEqual(oracleWindows(trimmed, thresholdMs));
      }),
      { numRuns: 300 },
    );
  });
});

describe('sustained recovery against a brute-force oracle', () => {
  it('is the first moment after the heal when the trailing second holds half the pre-fault goodput', () => {
    const okGaps = fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 2, maxLength: 40 });
    fc.assert(
      fc.property(okGaps, fc.integer({ min: 200, max: 3000 }), fc.integer({ min: 1, max: 3000 }), (gaps, faultAtMs, healAfterMs) => {
        // One client, ops back to back, each ok after its gap; a fault from faultAtMs, healed healAfterMs later.
        const events: Event[] = [];
        let time = 0;
        gaps.forEach((gap, id) => {
          events.push(...clientOp(0, time, time + gap, 'ok', { id }));
          time += gap;
        });
        const healMs = faultAtMs + healAfterMs;
        events.push(...nemesisOp('kill', 'start', faultAtMs, faultAtMs), ...nemesisOp('kill', 'stop', healMs, healMs));
        const result = checkAvailability(historyOf(events));
        const recovery = result.recoveries[0];
        if (healMs > time) {
          expect(recovery).toBeUndefined();
          return;
        }
        const okTimes = events.filter((event) => event.type === 'ok').map((event) => event.timeMs);
        const okBefore = okTimes.filter((at) => at < faultAtMs).length;
        const needed = Math.ceil((0.5 * okBefore) / ((faultAtMs - okTimes[0] + gaps[0]) / 1000));
        // Every whole millisecond from the heal on, the ok completions in (t - 1000, t].
        let expected: number | null = null;
        for (let t = healMs; t <= time; t++) {
          if (okTimes.filter((at) => at > t - 1000 && at <= t).length >= needed) {
            expected = t - healMs;
            break;
          }
        }
        if (okBefore === 0) expect(recovery.sustainedRecoveryS).toBeNull();
        else if (expected === null) expect(recovery.sustainedRecoveryS).toBeNull();
        else expect(Math.round(recovery.sustainedRecoveryS! * 1000)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
