// Proves the counter checker against a brute-force oracle: on small random histories, a read value some choice
// of the possibly-applied increments explains is never flagged, and with unit increments the verdict is exact.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { counterChecker } from './index.js';
import { historyOf, propertyParameters, type TimedOp } from '../test-support/ops.js';

/** Random small concurrent histories of adds and reads; each process runs its ops one after another. */
function arbitraryOps(deltas: fc.Arbitrary<number>): fc.Arbitrary<TimedOp[]> {
  const op = fc.record({
    f: fc.constantFrom('add', 'add', 'read'),
    delta: deltas,
    gap: fc.integer({ min: 0, max: 5 }),
    duration: fc.integer({ min: 1, max: 8 }),
    type: fc.constantFrom<'ok' | 'fail' | 'info' | 'none'>('ok', 'ok', 'ok', 'fail', 'info', 'none'),
    value: fc.integer({ min: -2, max: 14 }),
  });
  return fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }).map((processes) => {
    const ops: TimedOp[] = [];
    processes.forEach((list, process) => {
      let time = 0;
      for (const spec of list) {
        const invokeAt = time + spec.gap;
        const completeAt = invokeAt + spec.duration;
        const isRead = spec.f === 'read';
        const type = isRead ? 'ok' : spec.type;
        ops.push({
          process,
          f: spec.f,
          value: isRead ? null : spec.delta,
          invokeAt,
          ...(type === 'none' ? {} : { completeAt, type }),
          ...(isRead ? { result: spec.value } : {}),
        });
        if (type === 'none' || type === 'info') break;
        time = completeAt + 1;
      }
    });
    return ops;
  });
}

/** The oracle: every set of adds a correct counter may have applied when the read took effect. */
function achievable(ops: readonly TimedOp[], read: TimedOp): Set<number> {
  const must = ops.filter((op) => op.f === 'add' && op.type === 'ok' && op.completeAt! < read.invokeAt);
  const may = ops.filter((op) => op.f === 'add' && op.type !== 'fail' && !must.includes(op) && op.invokeAt < read.completeAt!);
  const base = must.reduce((sum, op) => sum + (op.value as number), 0);
  const sums = new Set<number>();
  for (let subset = 0; subset < 1 << may.length; subset++) {
    let sum = base;
    may.forEach((op, bit) => {
      if (subset & (1 << bit)) sum += op.value as number;
    });
    sums.add(sum);
  }
  return sums;
}

describe('counter checker', () => {
  it('flags a read below what was certainly added and one above what was possibly added', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'add', value: 2, invokeAt: 0, completeAt: 1 },
      { process: 1, f: 'add', value: 3, invokeAt: 0, completeAt: 9, type: 'info' },
      { process: 2, f: 'read', value: null, invokeAt: 2, completeAt: 3, result: 1 },
      { process: 3, f: 'read', value: null, invokeAt: 2, completeAt: 3, result: 6 },
      { process: 4, f: 'read', value: null, invokeAt: 2, completeAt: 3, result: 5 },
    ];
    const result = await counterChecker().check({}, historyOf(ops));
    expect(result).toMatchObject({ valid: false, errorCount: 2 });
    expect((result.errors as Array<{ value: number; lower: number; upper: number }>).map(({ value, lower, upper }) => [value, lower, upper])).toEqual([[1, 2, 5], [6, 2, 5]]);
  });

  it('is unknown without a successful read', async () => {
    expect((await counterChecker().check({}, historyOf([{ process: 0, f: 'add', value: 1, invokeAt: 0, completeAt: 1 }]))).valid).toBe('unknown');
  });

  it('never flags a read the oracle can explain (any deltas)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryOps(fc.integer({ min: -3, max: 5 })), async (ops) => {
        const result = await counterChecker().check({}, historyOf(ops));
        const flagged = new Set((result.errors as Array<{ invokeIndex: number }> | undefined ?? []).map((error) => error.invokeIndex));
        const history = historyOf(ops);
        for (const read of ops.filter((op) => op.f === 'read')) {
          const invoke = history.find((op) => op.type === 'invoke' && op.process === read.process && op.time === read.invokeAt * 1e6)!;
          if (achievable(ops, read).has(read.result as number)) expect(flagged.has(invoke.index)).toBe(false);
        }
      }),
      propertyParameters('counter checker property 1', 300),
    );
  });

  it('agrees exactly with the oracle when every increment is 1', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryOps(fc.constant(1)), async (ops) => {
        const result = await counterChecker().check({}, historyOf(ops));
        const reads = ops.filter((op) => op.f === 'read');
        const oracleValid = reads.every((read) => achievable(ops, read).has(read.result as number));
        expect(result.valid).toBe(reads.length === 0 ? 'unknown' : oracleValid);
      }),
      propertyParameters('counter checker property 2', 500),
    );
  });
});
