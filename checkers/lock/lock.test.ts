// Proves the lock checker against a brute-force oracle (holders recomputed at every millisecond, token order over
// every pair) on small random histories, and that a simulated correct leased lock is always judged valid.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lockChecker } from './index.js';
import { historyOf, propertyParameters, type TimedOp } from '../test-support/ops.js';

const ttlMs = 6;

interface PlannedOp {
  f: 'acquire' | 'renew' | 'release' | 'write';
  gap: number;
  duration: number;
  /** Where in [invoke, complete] the store applies it, as a fraction. */
  applyAt: number;
  outcome: 'answer' | 'info' | 'none';
  lost: boolean;
}

const plannedOp = fc.record({
  f: fc.constantFrom<PlannedOp['f']>('acquire', 'acquire', 'renew', 'release', 'write'),
  gap: fc.integer({ min: 0, max: 4 }),
  duration: fc.integer({ min: 0, max: 5 }),
  applyAt: fc.double({ min: 0, max: 1, noNaN: true }),
  outcome: fc.constantFrom<PlannedOp['outcome']>('answer', 'answer', 'answer', 'info', 'none'),
  lost: fc.boolean(),
});
const plans = fc.array(fc.array(plannedOp, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 });

/**
 * Runs the planned ops against a leased lock: each op takes effect at one instant inside its interval; a lease
 * lasts ttl from its grant or renewal; fencing tokens grow; the resource accepts a write whose token is at least
 * the largest it has seen. `broken` ignores leases entirely (anyone may acquire), so holders overlap.
 */
function simulate(plan: ReadonlyArray<readonly PlannedOp[]>, broken = false): TimedOp[] {
  type Placed = { op: TimedOp; planned: PlannedOp; applyTime: number };
  const placed: Placed[] = [];
  plan.forEach((list, process) => {
    let time = 0;
    for (const planned of list) {
      const invokeAt = time + planned.gap;
      const completeAt = invokeAt + planned.duration;
      const op: TimedOp = { process, f: planned.f, value: null, invokeAt };
      if (planned.outcome !== 'none') op.completeAt = completeAt;
      placed.push({ op, planned, applyTime: invokeAt + planned.applyAt * planned.duration });
      if (planned.outcome !== 'answer') break;
      time = completeAt + 1;
    }
  });
  let holder: { process: number; expiresAt: number; token: number } | null = null;
  let lastToken = 0;
  let resourceToken = 0;
  const resource: Array<[number, string]> = [];
  const tokens = new Map<number, number>();
  for (const { op, planned, applyTime } of [...placed].sort((a, b) => a.applyTime - b.applyTime)) {
    if (holder && holder.expiresAt <= applyTime && !broken) holder = null;
    // An info op whose effect was lost never happened; an answered op always did.
    const happens = planned.outcome === 'answer' || !planned.lost;
    let ok = false;
    let result: unknown = null;
    const holds = holder?.process === op.process || (broken && tokens.has(op.process));
    if (op.f === 'acquire' && (holder === null || broken)) {
      if (happens) {
        holder = { process: op.process, expiresAt: applyTime + ttlMs, token: ++lastToken };
        tokens.set(op.process, lastToken);
      }
      ok = true;
      result = { token: lastToken, ttlMs };
    } else if (op.f === 'renew' && holds) {
      if (happens && holder) holder.expiresAt = applyTime + ttlMs;
      ok = true;
      result = { ttlMs };
    } else if (op.f === 'release' && holds) {
      if (happens) holder = null;
      ok = true;
    } else if (op.f === 'write') {
      const token = tokens.get(op.process) ?? 0;
      op.value = { token, value: `w${op.process}-${op.invokeAt}` };
      if (token >= resourceToken && token > 0) {
        if (happens) {
          resource.push([token, `w${op.process}-${op.invokeAt}`]);
          resourceToken = token;
        }
        ok = true;
      }
    }
    if (op.completeAt !== undefined) {
      op.type = planned.outcome === 'info' ? 'info' : ok ? 'ok' : 'fail';
      if (op.type === 'ok' && result !== null) op.result = result;
    }
  }
  const end = Math.max(0, ...placed.map(({ op }) => (op.completeAt ?? op.invokeAt) + 1));
  const ops = placed.map(({ op }) => op);
  ops.push({ process: plan.length, f: 'read', value: null, invokeAt: end, completeAt: end + 1, result: resource, invokeExtra: { final: true } });
  return ops;
}

/** The oracle's holders at millisecond t: recomputed from scratch for every t, per process. */
function holdersAt(ops: readonly TimedOp[], t: number): number[] {
  const holders: number[] = [];
  const processes = new Set(ops.map((op) => op.process));
  for (const process of processes) {
    const mine = ops.filter((op) => op.process === process).sort((a, b) => a.invokeAt - b.invokeAt);
    for (const [position, acquire] of mine.entries()) {
      if (acquire.f !== 'acquire' || acquire.type !== 'ok' || acquire.completeAt! > t) continue;
      const after = mine.slice(position + 1);
      const stop = after.find((op) => op.f === 'release' || op.f === 'acquire');
      const renews = after.filter((op) => op.f === 'renew' && op.type === 'ok' && (stop === undefined || op.invokeAt < stop.invokeAt));
      let bound = acquire.invokeAt + ttlMs;
      for (let changed = true; changed; ) {
        changed = false;
        for (const renew of renews) {
          if (renew.invokeAt < bound && renew.invokeAt + ttlMs > bound) {
            bound = renew.invokeAt + ttlMs;
            changed = true;
          }
        }
      }
      const end = Math.min(bound, stop === undefined ? Infinity : stop.invokeAt);
      if (t < end) holders.push(process);
    }
  }
  return holders;
}

function oracle(ops: readonly TimedOp[]): { overlap: boolean; tokenViolations: number } {
  const last = Math.max(...ops.map((op) => op.completeAt ?? op.invokeAt)) + ttlMs + 1;
  let overlap = false;
  for (let t = 0; t <= last && !overlap; t++) overlap = holdersAt(ops, t).length > 1;
  const acquires = ops.filter((op) => op.f === 'acquire' && op.type === 'ok' && holdersAt(ops, op.completeAt!).includes(op.process));
  let tokenViolations = 0;
  for (const earlier of acquires) {
    for (const later of acquires) {
      const earlierToken = (earlier.result as { token: number }).token;
      const laterToken = (later.result as { token: number }).token;
      if (earlier.completeAt! < later.invokeAt && earlierToken >= laterToken) tokenViolations++;
    }
  }
  return { overlap, tokenViolations };
}

describe('lock checker', () => {
  it('reports two overlapping holders with the ops that prove it, and a stale write the resource accepted', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'acquire', value: null, invokeAt: 0, completeAt: 1, result: { token: 1, ttlMs: 10 } },
      { process: 1, f: 'acquire', value: null, invokeAt: 2, completeAt: 3, result: { token: 2, ttlMs: 10 } },
      { process: 1, f: 'write', value: { token: 2, value: 'b' }, invokeAt: 4, completeAt: 5 },
      { process: 0, f: 'write', value: { token: 1, value: 'a' }, invokeAt: 5, completeAt: 6 },
      { process: 0, f: 'release', value: null, invokeAt: 7, completeAt: 8 },
      { process: 2, f: 'read', value: null, invokeAt: 9, completeAt: 10, result: [[2, 'b'], [1, 'a']], invokeExtra: { final: true } },
    ];
    const result = await lockChecker().check({}, historyOf(ops));
    expect(result).toMatchObject({
      valid: false,
      overlapCount: 1,
      overlaps: [{ first: { process: 0, token: 1, startNs: 1e6, endNs: 7e6 }, second: { process: 1, token: 2, startNs: 3e6, endNs: 12e6 } }],
      staleWriteCount: 1,
      staleWrites: [{ position: 1, token: 1, value: 'a', afterToken: 2 }],
      tokenViolationCount: 0,
    });
  });

  it('in fencing mode reports overlaps without judging them, and still fails on a stale write', async () => {
    const overlapping: TimedOp[] = [
      { process: 0, f: 'acquire', value: null, invokeAt: 0, completeAt: 1, result: { token: 1, ttlMs: 10 } },
      { process: 1, f: 'acquire', value: null, invokeAt: 2, completeAt: 3, result: { token: 2, ttlMs: 10 } },
      { process: 1, f: 'write', value: { token: 2, value: 'b' }, invokeAt: 4, completeAt: 5 },
      { process: 0, f: 'write', value: { token: 1, value: 'a' }, invokeAt: 5, completeAt: 6, type: 'fail' },
    ];
    const read = (writes: unknown[]): TimedOp => ({ process: 2, f: 'read', value: null, invokeAt: 9, completeAt: 10, result: writes, invokeExtra: { final: true } });
    const fenced = await lockChecker({ overlapsInvalid: false }).check({}, historyOf([...overlapping, read([[2, 'b']])]));
    expect(fenced).toMatchObject({ valid: true, overlapCount: 1, staleWriteCount: 0 });
    expect((await lockChecker().check({}, historyOf([...overlapping, read([[2, 'b']])]))).valid).toBe(false);
    const stale = await lockChecker({ overlapsInvalid: false }).check({}, historyOf([...overlapping, read([[2, 'b'], [1, 'a']])]));
    expect(stale).toMatchObject({ valid: false, staleWriteCount: 1 });
  });

  it('lets a holding end at its lease lapse, so a later holder after it is no overlap', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'acquire', value: null, invokeAt: 0, completeAt: 1, result: { token: 1, ttlMs: 5 } },
      // Renewed only after the lease could have lapsed: it extends nothing.
      { process: 0, f: 'renew', value: null, invokeAt: 6, completeAt: 7, result: { ttlMs: 5 } },
      { process: 1, f: 'acquire', value: null, invokeAt: 5, completeAt: 6, result: { token: 2, ttlMs: 5 } },
    ];
    expect(await lockChecker().check({}, historyOf(ops))).toMatchObject({ valid: true, overlapCount: 0, holdings: 2 });
  });

  it('flags tokens that do not grow from one holder to the next', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'acquire', value: null, invokeAt: 0, completeAt: 1, result: { token: 5, ttlMs: 5 } },
      { process: 0, f: 'release', value: null, invokeAt: 2, completeAt: 3 },
      { process: 1, f: 'acquire', value: null, invokeAt: 4, completeAt: 5, result: { token: 3, ttlMs: 5 } },
    ];
    expect(await lockChecker().check({}, historyOf(ops))).toMatchObject({ valid: false, overlapCount: 0, tokenViolationCount: 1 });
  });

  it('agrees with the oracle on overlaps and token order, on correct and broken locks', async () => {
    await fc.assert(
      fc.asyncProperty(plans, fc.boolean(), async (plan, broken) => {
        const ops = simulate(plan, broken);
        const result = await lockChecker().check({}, historyOf(ops));
        const expected = oracle(ops);
        expect((result.overlapCount as number) > 0).toBe(expected.overlap);
        expect(result.tokenViolationCount).toBe(expected.tokenViolations);
      }),
      propertyParameters('lock checker property 1', 400),
    );
  });

  it('judges every history of a correct leased lock valid (or unknown when nobody acquired)', async () => {
    await fc.assert(
      fc.asyncProperty(plans, async (plan) => {
        const ops = simulate(plan);
        const result = await lockChecker().check({}, historyOf(ops));
        expect(result.valid).toBe(ops.some((op) => op.f === 'acquire' && op.type === 'ok') ? true : 'unknown');
      }),
      propertyParameters('lock checker property 2', 400),
    );
  });

  it('catches a lock that ignores leases on some history', async () => {
    let caught = 0;
    for (const plan of fc.sample(plans, { numRuns: 300, seed: 7 })) if ((await lockChecker().check({}, historyOf(simulate(plan, true)))).valid === false) caught++;
    expect(caught).toBeGreaterThan(0);
  });
});
