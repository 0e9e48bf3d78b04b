// Proves the benchmark's history generator is trustworthy: the same seed gives the same history, every
// history is well formed, linearizable ones are judged valid and stale-read ones invalid (fast-check seeds).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairOps, type Op } from '../../src/history/types.js';
import type { AppendableOp } from '../../src/history/writer.js';
import { checkLinearizable } from '../linearizable/index.js';
import { generateRegisterHistory, type GeneratedHistoryOptions } from './generate-history.js';

function generate(options: GeneratedHistoryOptions): { history: Op[]; staleReadsInjected: number; info: number } {
  const history: Op[] = [];
  const summary = generateRegisterHistory(options, (op: AppendableOp) => history.push({ ...op, index: history.length }));
  expect(summary.events).toBe(history.length);
  return { history, staleReadsInjected: summary.staleReadsInjected, info: summary.info };
}

const parameters = fc.record({
  ops: fc.integer({ min: 20, max: 400 }),
  keys: fc.integer({ min: 1, max: 4 }),
  processes: fc.integer({ min: 1, max: 8 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  infoRate: fc.constantFrom(0, 0.03, 0.2),
});

describe('generateRegisterHistory', () => {
  it('is deterministic for a seed', () => {
    const options = { ops: 300, keys: 3, processes: 5, seed: 7 };
    expect(generate(options).history).toEqual(generate(options).history);
    expect(generate({ ...options, seed: 8 }).history).not.toEqual(generate(options).history);
  });

  it('produces well-formed histories: one invocation per op, time never decreasing, one op open per process', () => {
    fc.assert(
      fc.property(parameters, (options) => {
        const { history } = generate(options);
        expect(history.filter((op) => op.type === 'invoke')).toHaveLength(options.ops);
        for (let position = 1; position < history.length; position++) {
          expect(history[position].time).toBeGreaterThanOrEqual(history[position - 1].time);
        }
        const open = new Set<unknown>();
        for (const op of history) {
          if (op.type === 'invoke') {
            expect(open.has(op.process)).toBe(false);
            open.add(op.process);
          } else {
            expect(open.delete(op.process)).toBe(true);
          }
        }
        expect(pairOps(history).every((pair) => pair.completion !== undefined)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('histories without injected reads are linearizable', async () => {
    await fc.assert(
      fc.asyncProperty(parameters, async (options) => {
        const { history } = generate(options);
        const result = await checkLinearizable(history, { model: 'cas-register', initial: null, workers: 0, timeoutMs: 20_000 });
        expect(result.valid).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('histories with an injected stale read are not linearizable', async () => {
    await fc.assert(
      fc.asyncProperty(parameters, fc.integer({ min: 1, max: 3 }), async (options, staleReads) => {
        const { history, staleReadsInjected } = generate({ ...options, ops: options.ops + 200, staleReads });
        // Too few writes per key can leave no stale value to inject; such runs prove nothing either way.
        fc.pre(staleReadsInjected > 0);
        const result = await checkLinearizable(history, { model: 'cas-register', initial: null, workers: 0, timeoutMs: 20_000 });
        expect(result.valid).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
