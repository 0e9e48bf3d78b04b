// Proves the two shortcuts of checkKeys change no answer: a key prepared once (prepareKey) and searched
// many times, even after an aborted search, gives exactly the results of fresh searches; and the pace cap
// (maxWorkPerEvent) stops a blowing-up breadth-first search early, while the verdict stays the same.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { History } from '../../src/history/types.js';
import { readHistoryFile } from '../../src/history/read.js';
import { prepareKey, searchKey, type SearchLimits } from './engine.js';
import { checkKeys, getModel, splitHistory } from './index.js';
import { seededRandom, simulate, storeSpecs } from './test-support/simulate.js';
import { describeWhen } from '../../src/testing/requirements.js';

const unlimited: SearchLimits = { deadline: Number.POSITIVE_INFINITY, maxConfigurations: 1_000_000 };
/**
 * The property's searches stop after a fixed number of steps: a few random one-key append histories
 * with many crashed ops take seconds per search unbounded (13 searches each), which once ran past the
 * test's timeout in CI. A step cap is deterministic, so a shared and a fresh search must still stop at
 * the same point with the same answer; the comparison then also covers the aborted result.
 */
const bounded: SearchLimits = { ...unlimited, maxConfigurations: 50_000, maxWork: 200_000 };

/** Turns one failed or info completion into ok (an acknowledged effect, often never seen). */
function acknowledgeSomething(history: History, seed: number): History {
  const random = seededRandom(seed);
  const candidates = history.filter((op) => op.type === 'fail' || op.type === 'info');
  if (candidates.length === 0) return history;
  const victim = candidates[Math.floor(random() * candidates.length)];
  return history.map((op) => (op === victim ? { ...op, type: 'ok' } : op));
}

/** Gives one ok read-like completion the value of another of the same f and key (often a violation). */
function injectStaleRead(history: History, seed: number): History {
  const random = seededRandom(seed);
  const readLike = new Set(['read', 'get', 'dequeue', 'txn']);
  const candidates = history.filter((op) => op.type === 'ok' && readLike.has(op.f));
  if (candidates.length < 2) return history;
  const victim = candidates[Math.floor(random() * candidates.length)];
  const donor = candidates[Math.floor(random() * candidates.length)];
  if (donor === victim || donor.f !== victim.f || (donor.key ?? null) !== (victim.key ?? null)) return history;
  return history.map((op) => (op === victim ? { ...op, value: donor.value } : op));
}

/** Fewer ops for the queue: with an acknowledged lost enqueue and no pruning its search is exponential. */
const maxOps: Record<string, number> = { 'fifo-queue': 14 };

describe('a prepared key searched many times', () => {
  for (const name of Object.keys(storeSpecs)) {
    const spec = storeSpecs[name];
    it(`${name}: every search of a shared preparation equals a fresh search`, () => {
      let invalidSeen = 0;
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 4, max: maxOps[name] ?? 40 }), fc.constantFrom(0, 0.1, 0.3), (seed, ops, crashProbability) => {
          const history = acknowledgeSomething(injectStaleRead(simulate(spec, { ops, processes: 4, crashProbability, seed }), seed + 1), seed + 2);
          const model = getModel(spec.model, { initial: spec.initial });
          for (const input of splitHistory(history, model)) {
            const prepared = prepareKey(model, input);
            // A search stopped at its first budget check (if it gets that far) leaves the shared
            // counters anywhere: the next searches must not care.
            searchKey(model, input, { ...unlimited, maxWork: 0 }, false, 'frontier', prepared);
            for (const strategy of ['frontier', 'depth', 'frontier'] as const) {
              for (const recordPaths of [false, true]) {
                const shared = searchKey(model, input, bounded, recordPaths, strategy, prepared);
                const fresh = searchKey(model, input, bounded, recordPaths, strategy);
                expect(shared).toEqual(fresh);
                if (fresh.valid === false) invalidSeen++;
              }
            }
          }
        }),
        { numRuns: 60 },
      );
      // Violations were really searched (and explained): a property over valid keys only proves less.
      expect(invalidSeen).toBeGreaterThan(0);
    });
  }
});

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const historiesDirectory = process.env.FAULTLINE_REFERENCE_HISTORIES ?? resolve(repositoryRoot, '../shared/histories');
// Few values (five) and a dozen processes: breadth-first holds thousands of configurations here.
const blowingUp = join(historiesDirectory, 'generated', 'ok_10k_k1_v5.jsonl');

describeWhen('the pace cap test', { [`the shared history ${blowingUp}`]: existsSync(blowingUp) })('the pace cap', () => {
  it('stops breadth-first sooner than the total cap, and checkKeys still finds the history valid', () => {
    const model = getModel('cas-register', { initial: null });
    const [input] = splitHistory(readHistoryFile(blowingUp).history, model);
    const totalCap = 8 * input.events.length + 10_000;
    const limits: SearchLimits = { ...unlimited, maxConfigurations: 5_000, maxWork: totalCap };
    const capped = searchKey(model, input, { ...limits, maxWorkPerEvent: 8, workPerEventSlack: 10_000 }, false, 'frontier');
    const uncapped = searchKey(model, input, limits, false, 'frontier');
    expect(capped).toMatchObject({ valid: 'unknown', limit: 'work' });
    expect(uncapped).toMatchObject({ valid: 'unknown', limit: 'work' });
    expect(capped.work!).toBeLessThan(uncapped.work! / 2);
    const [result] = checkKeys(model, [input], { deadline: Number.POSITIVE_INFINITY, maxConfigurations: 200_000 });
    expect(result.valid).toBe(true);
  });
});
