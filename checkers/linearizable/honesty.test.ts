// Proves the checker never passes off a doubt as a verdict: a re-search that contradicts the search is an
// internal error (verdict unknown, error named), worker threads really run and a failed one is reported,
// and --first-violation stops after the first invalid key without hiding that the rest were not searched.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateRegisterHistory } from '../bench/generate-history.js';
import type { History, Op } from '../../src/history/types.js';
import { searchKey, type SearchLimits } from './engine.js';
import { checkKeys, checkLinearizable, getModel, mergeKeyResults, NOT_SEARCHED_AFTER_VIOLATION, splitHistory } from './index.js';

const unlimited: SearchLimits = { deadline: Number.POSITIVE_INFINITY, maxConfigurations: 200_000 };

function generated(keys: number, staleReads: number, ops = 2000, seed = 3): History {
  const history: History = [];
  generateRegisterHistory({ ops, keys, processes: 6, seed, infoRate: 0.02, failRate: 0.01, staleReads }, (op) =>
    history.push({ ...op, index: history.length, value: op.value ?? null, time: op.time ?? history.length } as Op),
  );
  return history;
}

describe('a re-search that disagrees with the search', () => {
  it('is an internal error: the key and the whole verdict are unknown, with the error named', () => {
    const model = getModel('cas-register', { initial: null });
    const inputs = splitHistory(generated(1, 2), model);
    expect(checkKeys(model, inputs, unlimited)[0].valid).toBe(false);
    // The explaining search (the one recording paths) made to contradict the first: an engine bug, simulated.
    const contradicting: typeof searchKey = (...args) => {
      const result = searchKey(...args);
      return args[3] === true ? { ...result, valid: true, counterexample: undefined } : result;
    };
    const [key] = checkKeys(model, inputs, unlimited, {}, contradicting);
    expect(key.valid).toBe('unknown');
    expect(key.error).toMatch(/^internal error: the (frontier|depth) search found key "k0" not linearizable, but the same search recording paths found it linearizable$/);
    const merged = mergeKeyResults(model.name, [key], key.ops);
    expect(merged.valid).toBe('unknown');
    expect(merged.error).toBe(key.error);
  });
});

describe('--first-violation', () => {
  it('explains the first invalid key and leaves the keys after it unsearched, saying so; the verdict stays invalid', async () => {
    const history = generated(8, 40, 4000, 5);
    const full = await checkLinearizable(history, { model: 'cas-register', initial: null, workers: 0 });
    const invalidKeys = full.keys.filter((key) => key.valid === false);
    expect(invalidKeys.length).toBeGreaterThan(1);
    const first = await checkLinearizable(history, { model: 'cas-register', initial: null, workers: 0, firstViolation: true });
    expect(first.valid).toBe(false);
    const firstInvalid = full.keys.findIndex((key) => key.valid === false);
    expect(first.keys.slice(0, firstInvalid + 1)).toEqual(full.keys.slice(0, firstInvalid + 1));
    expect(first.keys[firstInvalid].counterexample).toBeDefined();
    for (const key of first.keys.slice(firstInvalid + 1)) {
      expect(key.valid).toBe('unknown');
      expect(key.reason).toBe(NOT_SEARCHED_AFTER_VIOLATION);
    }
  });
});

const compiledIndex = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/checkers/linearizable/index.js');

describe('worker threads (compiled build)', () => {
  it('really run, and give the one-thread results', async () => {
    expect(existsSync(compiledIndex), `${compiledIndex}: build first (npx tsc -p tsconfig.json)`).toBe(true);
    const compiled = (await import(compiledIndex)) as typeof import('./index.js');
    for (const history of [generated(6, 0), generated(6, 10)]) {
      const before = compiled.workerStatistics.batchesChecked;
      const inWorkers = await compiled.checkLinearizable(history, { model: 'cas-register', initial: null, workers: 2 });
      expect(compiled.workerStatistics.batchesChecked - before).toBe(2);
      expect(inWorkers.warnings).toBeUndefined();
      const inThread = await compiled.checkLinearizable(history, { model: 'cas-register', initial: null, workers: 0 });
      expect(inWorkers).toEqual(inThread);
    }
  });

  it('that fail are reported as a warning, and the check still runs in this thread', async () => {
    const compiled = (await import(compiledIndex)) as typeof import('./index.js');
    // A function cannot be sent to a thread (structured clone refuses it), so starting the workers fails;
    // in this thread it reads as a truthy nilReadsAny, a more lenient rule, on a valid history.
    const unsendable = (() => true) as unknown as boolean;
    const before = compiled.workerStatistics.batchesChecked;
    const result = await compiled.checkLinearizable(generated(6, 0), { model: 'cas-register', initial: null, workers: 2, nilReadsAny: unsendable });
    expect(compiled.workerStatistics.batchesChecked).toBe(before);
    expect(result.warnings?.[0]).toMatch(/^linearizability worker threads failed \(.*\): checked in one thread instead$/);
    expect(result.valid).toBe(true);
  });
});
