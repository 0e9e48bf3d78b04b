// Proves the register workload's generator keeps values unique per key, rotates keys after opsPerKey, skews
// toward a hot key under zipfian, and reads every key it used in the final phase, by drawing many ops.
import { describe, expect, it } from 'vitest';
import { createRandom, type GeneratorContext, type OpRequest } from '../../src/generator/index.js';
import { loadSpec } from '../../src/spec/index.js';
import { registerGenerator, registerWorkload, slotWeights } from './index.js';

function draw(options: Parameters<typeof registerGenerator>[0], count: number, seed = 1) {
  const generator = registerGenerator(options);
  const context: GeneratorContext = { timeNs: 0, thread: 0, process: 0, threads: [0], concurrency: 1, random: createRandom(seed), outstanding: 0 };
  const ops: OpRequest[] = [];
  for (let index = 0; index < count; index++) {
    const next = generator.next(context);
    if (next.type === 'op') ops.push(next.op);
  }
  return { generator, ops };
}

describe('register workload', () => {
  it('writes and cas-new values are unique per key, and cas expects an earlier value of that key', () => {
    const { ops } = draw({ keys: 3, keyDistribution: 'uniform', opsPerKey: 10_000 }, 3000);
    const seen = new Map<unknown, Set<unknown>>();
    for (const op of ops) {
      expect(['read', 'write', 'cas']).toContain(op.f);
      if (op.f === 'read') continue;
      const written = op.f === 'write' ? op.value : (op.value as [number, number])[1];
      const values = seen.get(op.key) ?? new Set();
      expect(values.has(written)).toBe(false);
      if (op.f === 'cas') expect(values.has((op.value as [number, number])[0])).toBe(true);
      values.add(written);
      seen.set(op.key, values);
    }
    const kinds = new Set(ops.map((op) => op.f));
    expect(kinds.size).toBe(3);
  });

  it('retires a key after opsPerKey ops and the final phase reads every key used', () => {
    const { generator, ops } = draw({ keys: 2, keyDistribution: 'uniform', opsPerKey: 10 }, 100);
    const perKey = new Map<unknown, number>();
    for (const op of ops) perKey.set(op.key, (perKey.get(op.key) ?? 0) + 1);
    for (const count of perKey.values()) expect(count).toBeLessThanOrEqual(10);
    expect(perKey.size).toBeGreaterThanOrEqual(10);
    expect(generator.keysUsed()).toEqual([...perKey.keys()].map(Number).sort((a, b) => a - b));
  });

  it('zipfian makes the first key hot; uniform does not', () => {
    expect(slotWeights(4, 'uniform')).toEqual([0.25, 0.5, 0.75, 1]);
    const hot = draw({ keys: 10, keyDistribution: 'zipfian', opsPerKey: 1e9 }, 5000).ops.filter((op) => op.key === 0).length;
    const flat = draw({ keys: 10, keyDistribution: 'uniform', opsPerKey: 1e9 }, 5000).ops.filter((op) => op.key === 0).length;
    expect(hot).toBeGreaterThan(1200); // about 34% of ops
    expect(flat).toBeLessThan(700); // about 10%
  });

  it('its final phase is one marked read per key, spread over the nodes', () => {
    const instance = registerWorkload.create(loadSpec({ flags: { keys: '3', seed: '1' } }));
    const context: GeneratorContext = { timeNs: 0, thread: 0, process: 0, threads: [0], concurrency: 1, random: createRandom(2), outstanding: 0 };
    for (let index = 0; index < 60; index++) instance.generator.next(context);
    const finalOps = instance.finalOps(['n1', 'n2']);
    expect(finalOps).toEqual([
      { node: 'n1', op: { f: 'read', key: 0, value: null, final: true } },
      { node: 'n2', op: { f: 'read', key: 1, value: null, final: true } },
      { node: 'n1', op: { f: 'read', key: 2, value: null, final: true } },
    ]);
  });
});
