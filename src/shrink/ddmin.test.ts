// Proves ddmin finds the minimal failing subset of a pure predicate within its call budget, never asks the same
// subset twice, and stops at the budget or at an interrupted trial with the smallest failing subset seen.
import { describe, expect, it } from 'vitest';
import { ddmin } from './ddmin.js';

/** A predicate that fails when every item of `needed` is present, counting its calls and subsets seen. */
function needs(needed: number[]) {
  const asked: string[] = [];
  return {
    asked,
    stillFails: async (subset: number[]) => {
      asked.push(subset.join(','));
      return needed.every((item) => subset.includes(item));
    },
  };
}

describe('ddmin', () => {
  const items = Array.from({ length: 16 }, (_, index) => index);

  it('finds the one item that matters among 16, in few calls', async () => {
    const predicate = needs([11]);
    const result = await ddmin(items, predicate.stillFails, { callsMax: 1000 });
    expect(result.minimal).toEqual([11]);
    expect(result.exhausted).toBe(false);
    // Halving a 16-item set down to one item: at most two trials per level, four levels.
    expect(result.calls).toBeLessThanOrEqual(8);
    expect(new Set(predicate.asked).size).toBe(predicate.asked.length);
  });

  it('finds two items far apart that only fail together (complements needed)', async () => {
    const predicate = needs([2, 13]);
    const result = await ddmin(items, predicate.stillFails, { callsMax: 1000 });
    expect(result.minimal).toEqual([2, 13]);
    expect(new Set(predicate.asked).size).toBe(predicate.asked.length);
    // 1-minimal: removing either item makes it pass.
    expect(await needs([2, 13]).stillFails([2])).toBe(false);
    expect(await needs([2, 13]).stillFails([13])).toBe(false);
  });

  it('keeps everything when every item is needed, within n log n-ish calls', async () => {
    const four = [0, 1, 2, 3];
    const predicate = needs(four);
    const result = await ddmin(four, predicate.stillFails, { callsMax: 1000 });
    expect(result.minimal).toEqual(four);
    expect(result.calls).toBeLessThanOrEqual(4 * 4);
  });

  it('stops at the call budget with the smallest failing subset found so far', async () => {
    const predicate = needs([5, 6, 7]);
    const result = await ddmin(items, predicate.stillFails, { callsMax: 3 });
    expect(result.calls).toBe(3);
    expect(predicate.asked).toHaveLength(3);
    expect(result.exhausted).toBe(true);
    expect(result.minimal.length).toBeLessThan(items.length);
    expect([5, 6, 7].every((item) => result.minimal.includes(item))).toBe(true);
  });

  it('stops when a trial cannot be run (undefined), keeping what failed before', async () => {
    let calls = 0;
    const result = await ddmin(items, async (subset) => {
      calls++;
      if (calls === 2) return undefined;
      return subset.includes(3);
    }, { callsMax: 100 });
    expect(calls).toBe(2);
    expect(result.minimal).toEqual(items.slice(0, 8));
    expect(result.exhausted).toBe(false);
  });
});
