// Proves the leader-election checker on hand-built histories (one leader at a time is valid; a takeover before
// the old leader stepped down is an overlap naming its ops) and, by property, against a brute-force sweep.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from '../../src/history/types.js';
import { defaultSpec } from '../../src/spec/types.js';
import { checkLeaderElection, electionTiming, leaderElectionWorkload, leaderships } from './index.js';

/** An elect op pair of `process`, invoked at `atMs` and completing `durationMs` later with `event`. */
function step(process: number, atMs: number, durationMs: number, event: string, transitions = 1): Array<Omit<Op, 'index'>> {
  const value = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 800 };
  return [
    { process, type: 'invoke', f: 'elect', key: 'leader', value, time: atMs * 1e6 },
    { process, type: 'ok', f: 'elect', key: 'leader', value: { event, holder: `c${process}`, transitions }, time: (atMs + durationMs) * 1e6 },
  ];
}

/** Orders by time (invokes before completions at equal times) and numbers the ops. */
function history(...pairs: Array<Array<Omit<Op, 'index'>>>): Op[] {
  return pairs
    .flat()
    .map((op, order) => ({ op, order }))
    .sort((a, b) => a.op.time - b.op.time || a.order - b.order)
    .map(({ op }, index) => ({ ...op, index }) as Op);
}

describe('leader-election checker', () => {
  it('valid: a leader renews, loses at its deadline, and the next one acquires after it', () => {
    const result = checkLeaderElection(
      history(step(0, 0, 10, 'acquired', 1), step(1, 5, 10, 'standby'), step(0, 800, 10, 'renewed', 1), step(0, 1600, 4000, 'lost', 1), step(1, 8000, 10, 'acquired', 2)),
    );
    expect(result.valid).toBe(true);
    expect(result.leaderships).toBe(2);
    expect(result.overlapCount).toBe(0);
    expect(result.steps).toEqual({ acquired: 2, renewed: 1, lost: 1, standby: 1 });
    expect(result.longestLeaderlessMs).toBe(8010 - 5600);
  });

  it('invalid: a takeover completes while the old leader still believes it leads; the ops that prove it are named', () => {
    const ops = history(step(0, 0, 10, 'acquired', 1), step(0, 800, 10, 'renewed', 1), step(1, 3000, 10, 'acquired', 2), step(0, 1600, 4000, 'lost', 1));
    const result = checkLeaderElection(ops);
    expect(result.valid).toBe(false);
    expect(result.overlapCount).toBe(1);
    const [overlap] = result.overlaps as Array<{ ops: number[]; overlapMs: number; first: { process: number }; second: { process: number } }>;
    expect(overlap.first.process).toBe(0);
    expect(overlap.second.process).toBe(1);
    expect(overlap.overlapMs).toBe(5600 - 3010);
    const acquiredBy1 = ops.find((op) => op.process === 1 && op.type === 'ok')!.index;
    const lostBy0 = ops.find((op) => op.process === 0 && op.type === 'ok' && (op.value as { event: string }).event === 'lost')!.index;
    expect(overlap.ops).toEqual([ops[1].index, acquiredBy1, lostBy0]);
  });

  it('a leader never heard from again leads to the end of the history; a retired one (info) stops at its info', () => {
    const open = history(step(0, 0, 10, 'acquired', 1), step(1, 9000, 10, 'acquired', 2));
    expect(checkLeaderElection(open).valid).toBe(false);
    const retired = history(step(0, 0, 10, 'acquired', 1), [
      { process: 0, type: 'invoke', f: 'elect', value: null, time: 800e6 },
      { process: 0, type: 'info', f: 'elect', value: null, time: 5000e6 },
    ], step(3, 9000, 10, 'acquired', 2));
    expect(leaderships(retired).map((leadership) => leadership.ended)).toEqual(['retired', 'end-of-history']);
    expect(checkLeaderElection(retired).valid).toBe(true);
  });

  it('invalid when a takeover did not raise the transition count; unknown when nobody ever led', () => {
    const result = checkLeaderElection(history(step(0, 0, 10, 'acquired', 3), step(0, 800, 10, 'lost', 3), step(1, 2000, 10, 'acquired', 3)));
    expect(result.valid).toBe(false);
    expect((result.transitionRegressions as unknown[]).length).toBe(1);
    expect(checkLeaderElection(history(step(0, 0, 10, 'standby'))).valid).toBe('unknown');
    // The same candidate taking back the Lease that still names it keeps the count (client-go's renew path).
    expect(checkLeaderElection(history(step(0, 0, 10, 'acquired', 3), step(0, 800, 10, 'lost', 3), step(0, 2000, 10, 'acquired', 3))).valid).toBe(true);
  });

  it('property: valid exactly when no two processes\' intervals share a moment (brute force over 1 ms ticks)', () => {
    const interval = fc.record({ start: fc.integer({ min: 0, max: 200 }), length: fc.integer({ min: 1, max: 60 }) });
    fc.assert(
      fc.property(fc.array(interval, { minLength: 1, maxLength: 6 }), (intervals) => {
        // Each process leads once: acquired completes at start, lost completes at start + length.
        const pairs = intervals.flatMap(({ start, length }, process) => [step(process, start, 0, 'acquired', process + 1), step(process, start + length, 0, 'lost', process + 1)]);
        const ops = history(...pairs);
        let overlapping = false;
        for (let a = 0; a < intervals.length; a++) {
          for (let b = a + 1; b < intervals.length; b++) {
            const [x, y] = [intervals[a], intervals[b]];
            // Share an open moment: some t with start <= t < end for both (an end equal to a start is a handover).
            if (Math.max(x.start, y.start) < Math.min(x.start + x.length, y.start + y.length)) overlapping = true;
          }
        }
        const sortedByStart = [...intervals.keys()].sort((a, b) => intervals[a].start - intervals[b].start || a - b);
        const transitionsGrow = sortedByStart.every((process, position) => position === 0 || process + 1 > sortedByStart[position - 1] + 1);
        const result = checkLeaderElection(ops);
        expect(result.overlapCount > 0).toBe(overlapping);
        expect(result.valid).toBe(!overlapping && transitionsGrow);
      }),
      { numRuns: 300, seed: 12 },
    );
  });
});

describe('leader-election workload', () => {
  it('takes client-go timing from target options and refuses timing client-go refuses', () => {
    expect(electionTiming({ 'lease-duration-ms': 3000, 'renew-deadline-ms': 2000, 'retry-period-ms': 500 })).toEqual({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    expect(() => electionTiming({ 'lease-duration-ms': 3000, 'renew-deadline-ms': 4000 })).toThrow(/retry-period-ms < renew-deadline-ms < lease-duration-ms/);
    const instance = leaderElectionWorkload.create({ ...defaultSpec, name: 'election', seed: 1, targetOptions: {} });
    expect(instance.finalOps(['n1'])).toEqual([]);
    expect(instance.checkContext().options).toEqual({ leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 800 });
  });
});
