// Proves the register workload's generator keeps values unique per key, rotates keys after opsPerKey, skews
// toward a hot key under zipfian, and reads every key it used in the final phase, by drawing many ops; and that
// its checkers judge a run whose reads or writes never succeeded unknown, while an all-fail cas is allowed.
import { describe, expect, it } from 'vitest';
import { composeCheckers } from '../../checkers/types.js';
import type { History, Op } from '../../src/history/types.js';
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

/** Builds a one-key history from [process, type, f, value] rows; time is the row number in milliseconds. */
function history(rows: Array<[number, Op['type'], string, unknown]>): History {
  return rows.map(([process, type, f, value], index) => ({ index, process, type, f, key: 0, value, time: index * 1_000_000 }));
}

async function verdictOf(rows: Array<[number, Op['type'], string, unknown]>) {
  const instance = registerWorkload.create(loadSpec({ flags: { seed: '1' } }));
  return composeCheckers('register', await instance.checkers()).check(instance.checkContext(), history(rows));
}

describe('register workload verdict', () => {
  it('is unknown when no read succeeded (writes alone are always linearizable)', async () => {
    const result = await verdictOf([
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'read', null], [1, 'fail', 'read', null],
    ]);
    expect(result.valid).toBe('unknown');
    const checkers = result.checkers as Record<string, { valid: unknown; reason?: string }>;
    expect(checkers.linearizable.valid).toBe(true);
    expect(checkers.stats.reason).toMatch(/no read ever succeeded/);
  });

  it('is unknown when no write succeeded, even though reads did (a cluster down the whole run, read after healing)', async () => {
    const result = await verdictOf([
      [0, 'invoke', 'write', 1], [0, 'info', 'write', 1],
      [2, 'invoke', 'read', null], [2, 'ok', 'read', null],
    ]);
    expect(result.valid).toBe('unknown');
  });

  it('is valid when reads and writes succeeded though every cas failed', async () => {
    const result = await verdictOf([
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'cas', [7, 8]], [1, 'fail', 'cas', [7, 8]],
      [2, 'invoke', 'read', null], [2, 'ok', 'read', 1],
    ]);
    expect(result.valid).toBe(true);
  });

  it('an invalid history stays invalid whatever the stats say (false beats unknown)', async () => {
    const result = await verdictOf([
      [0, 'invoke', 'read', null], [0, 'ok', 'read', 5],
      [1, 'invoke', 'write', 1], [1, 'fail', 'write', 1],
    ]);
    expect(result.valid).toBe(false);
  });
});
