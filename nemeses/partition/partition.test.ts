// Proves the partition grudges have Jepsen's shapes for every cluster size: symmetric, never self-cutting,
// and (per mode) the right components, by checking properties over generated node lists with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../common.js';
import { bridge, decidePartition, grudgeFromComponents, halves, majoritiesRing, type Grudge } from './index.js';

const names = (count: number): string[] => Array.from({ length: count }, (_, i) => `n${i + 1}`);

function symmetric(grudge: Grudge): boolean {
  return Object.entries(grudge).every(([node, peers]) => peers.every((peer) => grudge[peer]?.includes(node)));
}

/** Who each node can still reach (itself included). */
function visible(grudge: Grudge, all: string[], node: string): string[] {
  return all.filter((other) => !grudge[node].includes(other));
}

describe('partition grudges', () => {
  it('halves puts the minority first and cuts exactly across the halves', () => {
    expect(halves(names(5))).toEqual([['n1', 'n2'], ['n3', 'n4', 'n5']]);
    expect(grudgeFromComponents(names(3), halves(names(3)))).toEqual({ n1: ['n2', 'n3'], n2: ['n1'], n3: ['n1'] });
  });

  it('every mode gives a symmetric grudge that never cuts a node from itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer(), fc.constantFrom('halves', 'random-halves', 'majorities-ring', 'bridge', 'one', 'primary' as const), (count, seed, mode) => {
        const all = names(count);
        const { grudge } = decidePartition(mode, all, seededRandom(seed), [all[0]]);
        expect(Object.keys(grudge).sort()).toEqual([...all].sort());
        expect(symmetric(grudge)).toBe(true);
        for (const node of all) expect(grudge[node]).not.toContain(node);
      }),
    );
  });

  it('majorities-ring: from 4 nodes up, every node sees a majority yet no two see the same set', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 9 }), (count) => {
        const all = names(count);
        const grudge = majoritiesRing(all);
        const views = all.map((node) => visible(grudge, all, node).sort().join(','));
        for (const node of all) expect(visible(grudge, all, node).length).toBeGreaterThan(count / 2);
        expect(new Set(views).size).toBe(count);
      }),
    );
  });

  it('bridge: one node talks to everyone, the two sides it joins cannot talk', () => {
    const { grudge, bridgeNode } = bridge(names(5));
    expect(bridgeNode).toBe('n3');
    expect(grudge.n3).toEqual([]);
    expect(grudge.n1.sort()).toEqual(['n4', 'n5']);
    expect(grudge.n5.sort()).toEqual(['n1', 'n2']);
  });

  it('one and primary isolate exactly the chosen nodes; the same seed chooses the same node', () => {
    const all = names(5);
    const first = decidePartition('one', all, seededRandom(42), []);
    const again = decidePartition('one', all, seededRandom(42), []);
    expect(again).toEqual(first);
    const [isolated] = first.description.isolated as string[];
    expect(grudge(first).filter(([, peers]) => peers.length === 4).map(([node]) => node)).toEqual([isolated]);
    const primary = decidePartition('primary', all, seededRandom(1), ['n4']);
    expect(primary.grudge.n4.sort()).toEqual(['n1', 'n2', 'n3', 'n5']);
    expect(primary.grudge.n1).toEqual(['n4']);
  });
});

function grudge(decision: { grudge: Grudge }): Array<[string, string[]]> {
  return Object.entries(decision.grudge);
}
