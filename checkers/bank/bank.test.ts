// Proves the bank checker against a brute-force oracle: histories of a simulated serial bank are valid, and on
// random (often corrupted) reads the verdict equals a direct recount of every read.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bankChecker } from './index.js';
import { historyOf, propertyParameters, type TimedOp } from '../test-support/ops.js';

const accounts = ['0', '1', '2'];
const total = 30;

/** Runs random transfers on a serial bank, reading between them; transfers that would go negative fail. */
function simulate(steps: ReadonlyArray<{ from: number; to: number; amount: number; read: boolean }>): TimedOp[] {
  const balances = [10, 10, 10];
  const ops: TimedOp[] = [];
  steps.forEach((step, position) => {
    const time = position * 2;
    if (step.read) {
      ops.push({ process: position, f: 'read', value: null, invokeAt: time, completeAt: time + 1, result: Object.fromEntries(balances.map((balance, account) => [String(account), balance])) });
      return;
    }
    const possible = step.from !== step.to && balances[step.from] >= step.amount;
    if (possible) {
      balances[step.from] -= step.amount;
      balances[step.to] += step.amount;
    }
    ops.push({ process: position, f: 'transfer', value: { from: step.from, to: step.to, amount: step.amount }, invokeAt: time, completeAt: time + 1, type: possible ? 'ok' : 'fail' });
  });
  return ops;
}

const steps = fc.array(fc.record({ from: fc.integer({ min: 0, max: 2 }), to: fc.integer({ min: 0, max: 2 }), amount: fc.integer({ min: 1, max: 15 }), read: fc.boolean() }), { minLength: 1, maxLength: 30 });

/** The oracle: a read is good when it names exactly the accounts, sums to the total and (unless allowed) has no negative. */
function readIsGood(balances: Record<string, number>, negativeAllowed: boolean): boolean {
  const keys = Object.keys(balances).sort();
  if (keys.join(',') !== accounts.join(',')) return false;
  let sum = 0;
  for (const key of keys) sum += balances[key];
  return sum === total && (negativeAllowed || keys.every((key) => balances[key] >= 0));
}

describe('bank checker', () => {
  it('names each kind of bad read with the read that shows it', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'read', value: null, invokeAt: 0, completeAt: 1, result: { 0: 10, 1: 10, 2: 10 } },
      { process: 1, f: 'read', value: null, invokeAt: 0, completeAt: 1, result: { 0: 10, 1: 10, 2: 11 } },
      { process: 2, f: 'read', value: null, invokeAt: 0, completeAt: 1, result: { 0: 35, 1: -5, 2: 0 } },
      { process: 3, f: 'read', value: null, invokeAt: 0, completeAt: 1, result: { 0: 20, 1: 10 } },
    ];
    const result = await bankChecker({ accounts, total }).check({}, historyOf(ops));
    expect(result).toMatchObject({ valid: false, reads: 4, errorCount: 3, errorCountsByKind: { 'wrong-total': 1, 'negative-balance': 1, 'wrong-accounts': 1 } });
    expect((await bankChecker({ accounts, total, negativeAllowed: true }).check({}, historyOf(ops.slice(0, 3).filter((_, index) => index !== 1)))).valid).toBe(true);
  });

  it('judges every history of a serial bank valid', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (plan) => {
        const ops = simulate(plan);
        const result = await bankChecker({ accounts, total }).check({}, historyOf(ops));
        expect(result.valid).toBe(ops.some((op) => op.f === 'read') ? true : 'unknown');
      }),
      propertyParameters('bank checker property 1', 300),
    );
  });

  it('agrees with a recount of every read when reads are corrupted at random', async () => {
    await fc.assert(
      fc.asyncProperty(steps, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 }), fc.integer({ min: -12, max: 12 })), { maxLength: 4 }), fc.boolean(), async (plan, corruptions, negativeAllowed) => {
        const ops = simulate(plan);
        const reads = ops.filter((op) => op.f === 'read');
        for (const [which, account, shift] of corruptions) {
          if (reads.length === 0) break;
          const read = reads[which % reads.length];
          const balances = { ...(read.result as Record<string, number>) };
          balances[String(account)] += shift;
          read.result = balances;
        }
        const result = await bankChecker({ accounts, total, negativeAllowed }).check({}, historyOf(ops));
        const expected = reads.length === 0 ? 'unknown' : reads.every((read) => readIsGood(read.result as Record<string, number>, negativeAllowed));
        expect(result.valid).toBe(expected);
      }),
      propertyParameters('bank checker property 2', 500),
    );
  });
});
