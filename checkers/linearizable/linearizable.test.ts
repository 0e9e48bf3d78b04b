// Proves the checker's contract on hand-written histories: Jepsen's op semantics (ok, fail, info, no
// completion, nemesis, keys), the counterexample's content, the budget and memory bounds giving
// 'unknown', the Checker wrapper, and that worker threads give the same results as one thread.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { History, Op, OpType, Process } from '../../src/history/types.js';
import { checkLinearizable, linearizableChecker, type LinearizableOptions } from './index.js';
import { simulate, storeSpecs } from './test-support/simulate.js';
import { describeWhen } from '../../src/testing/requirements.js';

/** Builds a history from [process, type, f, value, key?] rows, in real-time order. */
function history(rows: [Process, OpType, string, unknown, string?][]): History {
  return rows.map(([process, type, f, value, key], index) => {
    const op: Op = { index, process, type, f, value, time: index * 1000 };
    if (key !== undefined) op.key = key;
    return op;
  });
}

const register: LinearizableOptions = { model: 'cas-register', workers: 0 };

describe('Jepsen op semantics', () => {
  it('concurrent ops may take effect in either order', async () => {
    const h = history([
      [0, 'invoke', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
      [0, 'ok', 'write', 1],
    ]);
    expect((await checkLinearizable(h, register)).valid).toBe(true);
  });

  it('a read of a value never written is a violation', async () => {
    const h = history([
      [0, 'invoke', 'write', 1],
      [0, 'ok', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 2],
    ]);
    expect((await checkLinearizable(h, register)).valid).toBe(false);
  });

  it('a failed op did not happen', async () => {
    const h = history([
      [0, 'invoke', 'write', 1],
      [0, 'fail', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
    ]);
    expect((await checkLinearizable(h, register)).valid).toBe(false);
  });

  it('an info op may take effect any time after its invocation, even much later, or never', async () => {
    const late = history([
      [0, 'invoke', 'write', 1],
      [0, 'info', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
    ]);
    expect((await checkLinearizable(late, register)).valid).toBe(true);
    const never = history([
      [0, 'invoke', 'write', 1],
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
    ]);
    expect((await checkLinearizable(never, register)).valid).toBe(true);
    const before = history([
      [1, 'invoke', 'read', null],
      [1, 'ok', 'read', 1],
      [0, 'invoke', 'write', 1],
      [0, 'info', 'write', 1],
    ]);
    expect((await checkLinearizable(before, register)).valid).toBe(false);
  });

  it('ignores the nemesis and checks keys independently', async () => {
    const h = history([
      [0, 'invoke', 'write', 1, 'a'],
      ['nemesis', 'invoke', 'start-partition', null],
      [0, 'ok', 'write', 1, 'a'],
      ['nemesis', 'info', 'start-partition', 'cut'],
      [1, 'invoke', 'read', null, 'b'],
      [1, 'ok', 'read', 1, 'b'],
      [1, 'invoke', 'read', null, 'a'],
      [1, 'ok', 'read', 1, 'a'],
    ]);
    const result = await checkLinearizable(h, register);
    expect(result.valid).toBe(false);
    expect(result.keys.map((key) => [key.key, key.valid])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(result.opCount).toBe(3);
    expect(result.model).toBe('cas-register');
  });
});

describe('counterexample', () => {
  it('names the key, the op that failed, the ops concurrent with it (info ones too) and the prefix', async () => {
    const h = history([
      [0, 'invoke', 'write', 1, 'k'],
      [0, 'ok', 'write', 1, 'k'],
      [3, 'invoke', 'write', 5, 'k'],
      [3, 'info', 'write', 5, 'k'],
      [1, 'invoke', 'cas', [1, 2], 'k'],
      [2, 'invoke', 'read', null, 'k'],
      [2, 'ok', 'read', 7, 'k'],
      [1, 'ok', 'cas', [1, 2], 'k'],
    ]);
    const result = await checkLinearizable(h, register);
    expect(result.valid).toBe(false);
    const counterexample = result.keys[0].counterexample!;
    expect(counterexample.key).toBe('k');
    expect(counterexample.failedOps).toEqual([expect.objectContaining({ index: 5, completionIndex: 6, f: 'read', value: 7, type: 'ok' })]);
    expect(counterexample.concurrentOps.map((op) => [op.index, op.f, op.type])).toEqual([
      [2, 'write', 'info'],
      [4, 'cas', 'ok'],
    ]);
    expect(counterexample.prefix[0]).toMatchObject({ index: 0, f: 'write', value: 1, type: 'ok' });
    expect(counterexample.states).toEqual(['1']);
    expect(counterexample.explanation).toMatch(/^key "k": read → 7 by process 2 \(history 5–6\) cannot be linearized/);
    // Machine-readable: survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(counterexample))).toEqual(counterexample);
  });

  it('a stale read: blames the read, shows the state it should have seen', async () => {
    const h = history([
      [0, 'invoke', 'write', 1],
      [0, 'ok', 'write', 1],
      [0, 'invoke', 'write', 2],
      [0, 'ok', 'write', 2],
      [1, 'invoke', 'write', 9],
      [2, 'invoke', 'read', null],
      [2, 'ok', 'read', 1],
    ]);
    const result = await checkLinearizable(h, register);
    const counterexample = result.keys[0].counterexample!;
    expect(counterexample.failedOps[0]).toMatchObject({ index: 5, completionIndex: 6, f: 'read', value: 1, process: 2 });
    expect(counterexample.concurrentOps.map((op) => op.index)).toEqual([4]);
    expect(counterexample.prefix.map((op) => op.value)).toEqual([1, 2]);
    expect(counterexample.prefixLength).toBe(2);
    expect(counterexample.states).toEqual(['2']);
    expect(counterexample.explanation).toMatch(/read → 1 by process 2 .*state was 2/);
  });
});

describe('bounds', () => {
  const hard = simulate(storeSpecs['cas-register'], { ops: 400, processes: 8, crashProbability: 0.05, seed: 7 });

  it('a spent time budget gives unknown, never a guess', async () => {
    const result = await checkLinearizable(hard, { ...register, timeoutMs: 0 });
    expect(result.valid).toBe('unknown');
    expect(result.keys[0].reason).toMatch(/time budget/);
  });

  it('a configuration cap gives unknown with a reason', async () => {
    const result = await checkLinearizable(hard, { ...register, maxConfigurations: 1 });
    expect(result.valid).toBe('unknown');
    expect(result.keys[0].reason).toMatch(/configurations/);
  });

  it('with room, the same history is valid', async () => {
    expect((await checkLinearizable(hard, register)).valid).toBe(true);
  });
});

describe('linearizableChecker', () => {
  it('is named linearizable and takes model options from the check context', async () => {
    const checker = linearizableChecker({ model: 'register', workers: 0 });
    expect(checker.name).toBe('linearizable');
    const h = history([
      [0, 'invoke', 'read', null],
      [0, 'ok', 'read', 0],
    ]);
    expect((await checker.check({}, h)).valid).toBe(false);
    expect((await checker.check({ options: { model: 'cas-register', initial: 0 } }, h)).valid).toBe(true);
  });
});

const compiledIndex = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/checkers/linearizable/index.js');

describeWhen('the worker-thread test', { [`the build (${compiledIndex}; npx tsc -p tsconfig.json)`]: existsSync(compiledIndex) })('worker threads (compiled build)', () => {
  it('give the same verdicts and counterexamples as one thread', async () => {
    const compiled = (await import(compiledIndex)) as typeof import('./index.js');
    const spec = storeSpecs['kv-append'];
    const valid = simulate(spec, { ops: 600, processes: 6, crashProbability: 0.05, seed: 11 });
    const broken = valid.map((op) => (op.type === 'ok' && op.f === 'get' && op.index % 7 === 0 ? { ...op, value: 'stale' } : op));
    for (const h of [valid, broken]) {
      const inThread = await compiled.checkLinearizable(h, { model: 'kv-append', workers: 0 });
      const batchesBefore = compiled.workerStatistics.batchesChecked;
      const inWorkers = await compiled.checkLinearizable(h, { model: 'kv-append', workers: 2 });
      // The threads really ran (a silent fallback to one thread would give equal results and prove nothing).
      expect(compiled.workerStatistics.batchesChecked).toBeGreaterThan(batchesBefore);
      expect(inWorkers).toEqual(inThread);
    }
  });
});
