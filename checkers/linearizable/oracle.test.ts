// Proves the engine's verdicts right: on small random histories (crashes, info, fail, injected stale
// reads) both search strategies agree with a brute-force oracle that tries every real-time order; and
// histories from a simulated linearizable store are judged valid. fast-check prints the seed on failure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../../src/history/types.js';
import { searchKey, type SearchStrategy } from './engine.js';
import { checkLinearizable, getModel, splitHistory } from './index.js';
import { oracleLinearizable } from './test-support/oracle.js';
import { seededRandom, simulate, storeSpecs } from './test-support/simulate.js';

const unlimited = { deadline: Number.POSITIVE_INFINITY, maxConfigurations: 1_000_000 };

/** The engine's verdict per key, with one strategy. */
function engineVerdicts(modelName: string, initial: unknown, history: History, strategy: SearchStrategy): Map<unknown, boolean | 'unknown'> {
  const model = getModel(modelName, { initial });
  const verdicts = new Map<unknown, boolean | 'unknown'>();
  for (const input of splitHistory(history, model)) verdicts.set(input.key, searchKey(model, input, unlimited, false, strategy).valid);
  return verdicts;
}

/** Replaces the value of one ok read-like completion with a value some other op of the same f completed with. */
function injectStaleRead(history: History, seed: number): History {
  const random = seededRandom(seed);
  const readLike = new Set(['read', 'get', 'dequeue', 'txn']);
  const candidates = history.filter((op) => op.type === 'ok' && readLike.has(op.f));
  if (candidates.length < 2) return history;
  const victim = candidates[Math.floor(random() * candidates.length)];
  const donor = candidates[Math.floor(random() * candidates.length)];
  const key = (op: Op): unknown => op.key ?? null;
  if (donor === victim || donor.f !== victim.f || key(donor) !== key(victim)) return history;
  return history.map((op) => (op === victim ? { ...op, value: donor.value } : op));
}

/** Turns one failed completion into ok (a lost write: acknowledged, never seen), or an info op into ok. */
function acknowledgeSomething(history: History, seed: number): History {
  const random = seededRandom(seed);
  const candidates = history.filter((op) => op.type === 'fail' || op.type === 'info');
  if (candidates.length === 0) return history;
  const victim = candidates[Math.floor(random() * candidates.length)];
  return history.map((op) => (op === victim ? { ...op, type: 'ok' } : op));
}

const modelsUnderTest = Object.keys(storeSpecs);
/** Runs per property; raise it (environment) to hunt for rare disagreements. */
const propertyRuns = Number(process.env.LINEARIZABLE_PROPERTY_RUNS ?? 400);
/** Most ops in an oracle-checked history (the oracle is exponential; at most ORACLE_MAX_OPS). */
const oracleOps = Number(process.env.LINEARIZABLE_PROPERTY_OPS ?? 9);

describe('engine agrees with the brute-force oracle', () => {
  for (const name of modelsUnderTest) {
    const spec = storeSpecs[name];
    it(`${name}: random small histories, with crashes, info, fail and injected faults`, () => {
      let invalidSeen = 0;
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.integer({ min: 2, max: oracleOps }),
          fc.integer({ min: 1, max: 5 }),
          fc.constantFrom(0, 0.15, 0.4),
          fc.constantFrom('none', 'stale', 'acknowledge', 'both'),
          (seed, ops, processes, crashProbability, mutation) => {
            let history = simulate(spec, { ops, processes, crashProbability, seed });
            if (mutation === 'stale' || mutation === 'both') history = injectStaleRead(history, seed + 1);
            if (mutation === 'acknowledge' || mutation === 'both') history = acknowledgeSomething(history, seed + 2);
            const model = getModel(spec.model, { initial: spec.initial });
            const frontier = engineVerdicts(spec.model, spec.initial, history, 'frontier');
            const depth = engineVerdicts(spec.model, spec.initial, history, 'depth');
            for (const [key, verdict] of frontier) {
              const keyHistory = history.filter((op) => (op.key ?? null) === key);
              const expected = oracleLinearizable(model, keyHistory, key as never);
              if (!expected) invalidSeen++;
              expect({ key, verdict }).toEqual({ key, verdict: expected });
              expect({ key, depth: depth.get(key) }).toEqual({ key, depth: expected });
            }
          },
        ),
        { numRuns: propertyRuns },
      );
      // Faults were really injected: a property that never sees a violation proves little.
      expect(invalidSeen).toBeGreaterThan(10);
    });
  }
});

/**
 * Sizes the search handles quickly. Models without pruning hints (multi-register txns, info appends
 * and enqueues that stay available forever) are exponential in the ops a crash leaves open, so their
 * histories are kept smaller; the budget turns a regression into a failure with a seed, not a hang.
 */
const simulatedSizes: Record<string, { ops: number; processes: number }> = {
  'multi-register': { ops: 60, processes: 5 },
  'kv-append-one-key': { ops: 60, processes: 5 },
  set: { ops: 60, processes: 5 },
  'fifo-queue': { ops: 30, processes: 4 },
};

describe('histories of a simulated linearizable store are valid', () => {
  for (const name of modelsUnderTest) {
    const spec = storeSpecs[name];
    const size = simulatedSizes[name] ?? { ops: 150, processes: 8 };
    it(`${name}: larger histories with random overlaps, crashes and info ops`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.integer({ min: 20, max: size.ops }),
          fc.integer({ min: 2, max: size.processes }),
          fc.constantFrom(0, 0.03, 0.1),
          async (seed, ops, processes, crashProbability) => {
            const history = simulate(spec, { ops, processes, crashProbability, seed });
            const result = await checkLinearizable(history, { model: spec.model, initial: spec.initial, workers: 0, timeoutMs: 20_000 });
            expect(result.keys.filter((key) => key.valid !== true)).toEqual([]);
            expect(result.valid).toBe(true);
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});
