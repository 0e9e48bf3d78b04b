// Proves the transaction workloads' generator: Elle-shaped micro-ops, values unique per key, keys retired after
// their writes, final reads of every key used; and that the spec takes a consistency model and target options.
import { describe, expect, it } from 'vitest';
import { createRandom, type GeneratorContext, type OpRequest } from '../../src/generator/index.js';
import { loadSpec } from '../../src/spec/index.js';
import { errorOf } from '../../src/testing/errors.js';
import { rwRegisterWorkload } from '../rw-register/index.js';
import { listAppendWorkload } from './index.js';
import { transactionGenerator, type MicroOp, type TransactionGeneratorOptions } from './transactions.js';

function draw(options: TransactionGeneratorOptions, count: number, seed = 1) {
  const generator = transactionGenerator(options);
  const context: GeneratorContext = { timeNs: 0, thread: 0, process: 0, threads: [0], concurrency: 1, random: createRandom(seed), outstanding: 0 };
  const ops: OpRequest[] = [];
  for (let index = 0; index < count; index++) {
    const next = generator.next(context);
    if (next.type === 'op') ops.push(next.op);
  }
  return { generator, ops };
}

const base: TransactionGeneratorOptions = { write: 'append', keys: 3, keyDistribution: 'uniform', writesPerKey: 1000, transactionLengthMax: 4 };

describe('transaction generator', () => {
  it('makes txn ops of 1 to 4 micro-ops, reads with null, writes with values unique per key', () => {
    for (const write of ['append', 'w'] as const) {
      const { ops } = draw({ ...base, write }, 2000);
      const lengths = new Set<number>();
      const written = new Map<number, Set<unknown>>();
      for (const op of ops) {
        expect(op.f).toBe('txn');
        const micros = op.value as MicroOp[];
        lengths.add(micros.length);
        for (const [f, key, value] of micros) {
          expect([write, 'r']).toContain(f);
          if (f === 'r') {
            expect(value).toBeNull();
            continue;
          }
          const values = written.get(key) ?? new Set();
          expect(values.has(value)).toBe(false);
          values.add(value);
          written.set(key, values);
        }
      }
      expect([...lengths].sort()).toEqual([1, 2, 3, 4]);
      expect(written.size).toBe(3);
    }
  });

  it('retires a key after writesPerKey writes; the final phase reads every key used, marked final', () => {
    const { generator, ops } = draw({ ...base, writesPerKey: 5 }, 300);
    const writes = new Map<number, number>();
    const touched = new Set<number>();
    for (const op of ops) {
      for (const [f, key] of op.value as MicroOp[]) {
        touched.add(key);
        if (f !== 'r') writes.set(key, (writes.get(key) ?? 0) + 1);
      }
    }
    for (const count of writes.values()) expect(count).toBeLessThanOrEqual(5);
    expect(writes.size).toBeGreaterThan(10);
    expect(generator.keysUsed()).toEqual([...touched].sort((a, b) => a - b));

    const instance = listAppendWorkload.create(loadSpec({ flags: { workload: 'list-append', keys: '3', seed: '1' } }));
    const context: GeneratorContext = { timeNs: 0, thread: 0, process: 0, threads: [0], concurrency: 1, random: createRandom(2), outstanding: 0 };
    for (let index = 0; index < 40; index++) instance.generator.next(context);
    const finalOps = instance.finalOps(['n1', 'n2']);
    expect(finalOps).toEqual([{ node: 'n1', op: { f: 'txn', value: [['r', 0, null], ['r', 1, null], ['r', 2, null]], final: true } }]);
  });

  it('takes the consistency model from the spec (default strict-serializable) and refuses an unknown one', () => {
    const defaulted = rwRegisterWorkload.create(loadSpec({ flags: { workload: 'rw-register', seed: '1' } }));
    expect(defaulted.checkContext().options).toEqual({ workload: 'rw-register', consistency: 'strict-serializable' });
    const chosen = listAppendWorkload.create(loadSpec({ flags: { workload: 'list-append', consistency: 'snapshot-isolation', seed: '1' } }));
    expect(chosen.checkContext().options).toEqual({ workload: 'list-append', consistency: 'snapshot-isolation' });
    expect(errorOf(() => listAppendWorkload.create(loadSpec({ flags: { workload: 'list-append', consistency: 'linearizable', seed: '1' } }))).message).toMatch(
      /^consistency: expected one of read-uncommitted, .*strict-serializable, got "linearizable"$/,
    );
    expect(errorOf(() => loadSpec({ flags: { workload: 'register', consistency: 'serializable', seed: '1' } })).message).toBe(
      '--consistency: only the list-append and rw-register workloads take a consistency model, not register',
    );
  });

  it('--target-options name=value pairs become typed target options and replay', async () => {
    const spec = loadSpec({ flags: { target: 'postgres', nodes: '1', workload: 'list-append', targetOptions: 'isolation=read-committed,port=5433,fsync=false', seed: '1' } });
    expect(spec.targetOptions).toEqual({ isolation: 'read-committed', port: 5433, fsync: false });
    const { specToArgv } = await import('../../src/spec/load.js');
    const argv = specToArgv(spec);
    expect(argv.slice(argv.indexOf('--target-options'), argv.indexOf('--target-options') + 2)).toEqual(['--target-options', 'isolation=read-committed,port=5433,fsync=false']);
    expect(errorOf(() => loadSpec({ flags: { targetOptions: 'isolation', seed: '1' } })).message).toBe(
      "--target-options: expected name=value pairs separated by commas (e.g. isolation=serializable), got 'isolation'",
    );
  });
});
