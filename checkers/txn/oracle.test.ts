// Property tests against brute-force oracles on small histories: the checker never reports a forbidden anomaly
// the oracle can explain away, and, for list-append histories whose version orders the reads fully determine,
// it finds a violation exactly when the oracle finds no allowed execution.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/generator/random.js';
import type { History } from '../../src/history/types.js';
import { generateTxnHistory } from './generate.js';
import { checkTransactions, type TxnWorkload } from './index.js';
import { oracleAllows, type OracleModel } from './test-support/oracle.js';

const models: OracleModel[] = ['serializable', 'strict-serializable', 'strong-session-serializable', 'snapshot-isolation', 'strong-snapshot-isolation'];

interface Case {
  workload: TxnWorkload;
  seed: number;
  transactions: number;
  processes: number;
  isolation: 'serializable' | 'snapshot';
  anomalyRate: number;
  finalReads: boolean;
  /** 0: as simulated; else the chance that each ok read is replaced by a random one. */
  noise: number;
}

const caseArbitrary = (workload: TxnWorkload): fc.Arbitrary<Case> =>
  fc.record({
    workload: fc.constant(workload),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    transactions: fc.integer({ min: 2, max: 5 }),
    processes: fc.integer({ min: 1, max: 3 }),
    isolation: fc.constantFrom('serializable' as const, 'snapshot' as const),
    anomalyRate: fc.constantFrom(0, 0.3),
    finalReads: fc.boolean(),
    noise: fc.constantFrom(0, 0, 0.3, 0.7),
  });

/** The simulated history, then some ok reads replaced by random ones made of values written to that key. */
function historyFor(testCase: Case): History {
  const history = generateTxnHistory({
    workload: testCase.workload,
    transactions: testCase.transactions,
    processes: testCase.processes,
    seed: testCase.seed,
    activeKeys: 2,
    writesPerKey: 50,
    opsPerTransactionMax: 3,
    isolation: testCase.isolation,
    infoRate: 0.15,
    failRate: 0.1,
    anomalyRate: testCase.anomalyRate,
    finalReads: testCase.finalReads,
  });
  if (testCase.noise === 0) return history;
  const random = createRandom(testCase.seed ^ 0x5eed);
  const written = new Map<unknown, unknown[]>();
  for (const op of history) {
    if (op.type !== 'invoke') continue;
    for (const [f, key, value] of op.value as Array<[string, unknown, unknown]>) {
      if (f === 'r') continue;
      if (!written.has(key)) written.set(key, []);
      written.get(key)?.push(value);
    }
  }
  for (const op of history) {
    if (op.type !== 'ok') continue;
    op.value = (op.value as Array<[string, unknown, unknown]>).map((micro) => {
      if (micro[0] !== 'r' || random.next() >= testCase.noise) return micro;
      const values = written.get(micro[1]) ?? [];
      if (testCase.workload === 'rw-register') return ['r', micro[1], values.length > 0 && random.next() < 0.8 ? random.pick(values) : null];
      const shuffled = [...values].sort(() => random.next() - 0.5);
      return ['r', micro[1], shuffled.slice(0, random.int(shuffled.length + 1))];
    });
  }
  return history;
}

/**
 * Every read is a prefix of its key's longest read, and on each key at most one committed transaction (ok, or
 * info with some append read) appended values no read shows: then the reads fix every version order.
 */
function versionOrdersDetermined(history: History): boolean {
  const longest = new Map<unknown, unknown[]>();
  const reads: Array<[unknown, unknown[]]> = [];
  const everRead = new Set<string>();
  for (const op of history) {
    if (op.type !== 'ok') continue;
    for (const [f, key, value] of op.value as Array<[string, unknown, unknown]>) {
      if (f !== 'r') continue;
      const list = (value as unknown[] | null) ?? [];
      reads.push([key, list]);
      for (const element of list) everRead.add(JSON.stringify([key, element]));
      if (list.length > (longest.get(key)?.length ?? -1)) longest.set(key, list);
    }
  }
  for (const [key, list] of reads) if (!list.every((value, position) => longest.get(key)?.[position] === value)) return false;
  const unreadWriters = new Map<unknown, Set<number>>();
  for (const op of history) {
    if (op.type !== 'ok' && op.type !== 'info') continue;
    const appends = (op.value as Array<[string, unknown, unknown]>).filter(([f]) => f === 'append');
    const committed = op.type === 'ok' || appends.some(([, key, value]) => everRead.has(JSON.stringify([key, value])));
    if (!committed) continue;
    for (const [, key, value] of appends) {
      if ((longest.get(key) ?? []).includes(value)) continue;
      if (!unreadWriters.has(key)) unreadWriters.set(key, new Set());
      unreadWriters.get(key)?.add(op.index);
    }
  }
  return [...unreadWriters.values()].every((writers) => writers.size <= 1);
}

function judge(testCase: Case): Array<{ model: OracleModel; checker: unknown; oracle: boolean; determined: boolean }> {
  const history = historyFor(testCase);
  const determined = testCase.workload === 'list-append' && versionOrdersDetermined(history);
  return models.map((model) => ({
    model,
    checker: checkTransactions(history, { workload: testCase.workload, consistency: model }).valid,
    oracle: oracleAllows(history, testCase.workload, model),
    determined,
  }));
}

describe('transactional checker against brute-force oracles', () => {
  it('list-append: sound always, and exact when the reads determine every version order', () => {
    let determinedInvalid = 0;
    let determinedValid = 0;
    fc.assert(
      fc.property(caseArbitrary('list-append'), (testCase) => {
        for (const verdict of judge(testCase)) {
          if (verdict.checker === false) expect(verdict, JSON.stringify(historyFor(testCase))).toMatchObject({ oracle: false });
          if (verdict.determined) {
            expect(verdict.checker, `${verdict.model} ${JSON.stringify(historyFor(testCase))}`).toBe(verdict.oracle);
            if (verdict.oracle) determinedValid++;
            else determinedInvalid++;
          }
        }
      }),
      { numRuns: 400 },
    );
    // The generator must exercise both answers, or the exactness claim is hollow.
    expect(determinedValid).toBeGreaterThan(50);
    expect(determinedInvalid).toBeGreaterThan(50);
  });

  it('rw-register: never reports a forbidden anomaly the oracle can explain', () => {
    let invalid = 0;
    fc.assert(
      fc.property(caseArbitrary('rw-register'), (testCase) => {
        for (const verdict of judge(testCase)) {
          if (verdict.checker === false) {
            invalid++;
            expect(verdict, JSON.stringify(historyFor(testCase))).toMatchObject({ oracle: false });
          }
        }
      }),
      { numRuns: 300 },
    );
    expect(invalid).toBeGreaterThan(20);
  });

  it('the simulated stores without injected anomalies pass the models they implement', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom<TxnWorkload>('list-append', 'rw-register'), (seed, workload) => {
        const serializable = generateTxnHistory({ workload, transactions: 300, processes: 5, seed, finalReads: true, infoRate: 0.05, failRate: 0.05 });
        expect(checkTransactions(serializable, { workload, consistency: 'strict-serializable' }).valid).toBe(true);
        const snapshot = generateTxnHistory({ workload, transactions: 300, processes: 5, seed, finalReads: true, isolation: 'snapshot' });
        expect(checkTransactions(snapshot, { workload, consistency: 'snapshot-isolation' }).valid).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('with injected lost updates the list-append store is never called serializable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const history = generateTxnHistory({ workload: 'list-append', transactions: 400, processes: 5, seed, finalReads: true, anomalyRate: 0.05 });
        const result = checkTransactions(history, { workload: 'list-append', consistency: 'serializable' });
        expect(result.valid).toBe(false);
      }),
      { numRuns: 20 },
    );
  });
});
