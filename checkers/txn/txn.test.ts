// Proves the transactional checker names each anomaly on the smallest history that shows it, explains its cycle,
// and judges it by the consistency model asked for.
import { describe, expect, it } from 'vitest';
import { composeCheckers } from '../types.js';
import { checkTransactions, renderTxnResultHtml, renderTxnResultText, TransactionFormatError, txnChecker, type ConsistencyModel, type CycleAnomaly, type TxnWorkload } from './index.js';
import { alone, historyOf, type TxnSpec } from './test-support/build.js';
import type { History } from '../../src/history/types.js';

const check = (history: History, consistency: ConsistencyModel, workload: TxnWorkload = 'list-append') =>
  checkTransactions(history, { workload, consistency });

const both = (a: TxnSpec['ops'], b: TxnSpec['ops']): TxnSpec[] => [
  { process: 0, ops: a },
  { process: 1, ops: b },
];

describe('list-append anomalies', () => {
  it('G0: two transactions append to two keys in opposite orders', () => {
    const history = historyOf(both([['append', 'x', 1], ['append', 'y', 1]], [['append', 'x', 2], ['append', 'y', 2]]), alone(2, [['r', 'x', [1, 2]], ['r', 'y', [2, 1]]]));
    const result = check(history, 'read-uncommitted');
    expect(result.valid).toBe(false);
    expect(result.prohibited).toEqual(['G0']);
    const cycle = (result.anomalies.G0[0] as CycleAnomaly).cycle;
    expect(cycle.map((step) => step.edge)).toEqual(['ww', 'ww']);
    expect(cycle.map((step) => step.key).sort()).toEqual(['x', 'y']);
  });

  it('G1a: a read sees an append of a failed transaction', () => {
    const history = historyOf(alone(0, [['append', 'x', 1]], 'fail'), alone(1, [['r', 'x', [1]]]));
    const result = check(history, 'read-committed');
    expect(result.prohibited).toEqual(['G1a']);
    expect(check(history, 'read-uncommitted').valid).toBe(true);
  });

  it('G1b: a read sees a value its transaction appended over', () => {
    const history = historyOf(alone(0, [['append', 'x', 1], ['append', 'x', 2]]), alone(1, [['r', 'x', [1]]]));
    expect(check(history, 'read-committed').prohibited).toEqual(['G1b']);
  });

  it('G1c: two transactions each read the other one\'s append', () => {
    const history = historyOf(both([['append', 'x', 1], ['r', 'y', [1]]], [['append', 'y', 1], ['r', 'x', [1]]]));
    const result = check(history, 'read-committed');
    expect(result.prohibited).toEqual(['G1c']);
    expect((result.anomalies.G1c[0] as CycleAnomaly).cycle.map((step) => step.edge)).toEqual(['wr', 'wr']);
  });

  it('G-single: read skew, forbidden by snapshot isolation', () => {
    const history = historyOf(both([['r', 'x', []], ['r', 'y', [1]]], [['append', 'x', 1], ['append', 'y', 1]]), alone(2, [['r', 'x', [1]]]));
    const result = check(history, 'snapshot-isolation');
    expect(result.prohibited).toEqual(['G-single']);
    const cycle = (result.anomalies['G-single'][0] as CycleAnomaly).cycle;
    expect(cycle.map((step) => step.edge).sort()).toEqual(['rw', 'wr']);
    expect(cycle.find((step) => step.edge === 'rw')?.explanation).toMatch(/read key "x" without 1/);
    expect(check(history, 'read-committed').valid).toBe(true);
  });

  it('G2-item: write skew, allowed by snapshot isolation and forbidden by serializable', () => {
    const history = historyOf(
      both([['r', 'x', []], ['r', 'y', []], ['append', 'x', 1]], [['r', 'x', []], ['r', 'y', []], ['append', 'y', 1]]),
      alone(2, [['r', 'x', [1]], ['r', 'y', [1]]]),
    );
    const snapshot = check(history, 'snapshot-isolation');
    expect(snapshot.valid).toBe(true);
    expect(snapshot.anomalyTypes).toEqual(['G2-item']);
    expect(check(history, 'serializable').prohibited).toEqual(['G2-item']);
  });

  it('an exhausted search budget makes a snapshot-isolation verdict unknown, never valid', () => {
    const history = historyOf(
      both([['r', 'x', []], ['r', 'y', []], ['append', 'x', 1]], [['r', 'x', []], ['r', 'y', []], ['append', 'y', 1]]),
      alone(2, [['r', 'x', [1]], ['r', 'y', [1]]]),
    );
    const result = checkTransactions(history, { workload: 'list-append', consistency: 'snapshot-isolation', searchStepsMax: 1 });
    expect(result.valid).toBe('unknown');
    expect(result.notes.join(' ')).toMatch(/search budget/);
  });

  it('G-nonadjacent: two rw edges separated by wr edges, forbidden by snapshot isolation', () => {
    // T1 -rw(x)-> T2 -wr(y)-> T3 -rw(z)-> T4 -wr(w)-> T1
    const history = historyOf(
      [
        { process: 0, ops: [['r', 'x', []], ['r', 'w', [1]]] },
        { process: 1, ops: [['append', 'x', 1], ['append', 'y', 1]] },
        { process: 2, ops: [['r', 'y', [1]], ['r', 'z', []]] },
        { process: 3, ops: [['append', 'z', 1], ['append', 'w', 1]] },
      ],
      alone(4, [['r', 'x', [1]], ['r', 'z', [1]]]),
    );
    const result = check(history, 'snapshot-isolation');
    expect(result.prohibited).toEqual(['G-nonadjacent']);
    expect((result.anomalies['G-nonadjacent'][0] as CycleAnomaly).cycle).toHaveLength(4);
  });

  it('realtime and process variants: a read misses an append completed before it began', () => {
    const sameProcess = historyOf(alone(0, [['append', 'x', 1]]), alone(0, [['r', 'x', []]]), alone(2, [['r', 'x', [1]]]));
    expect(check(sameProcess, 'serializable').valid).toBe(true);
    expect(check(sameProcess, 'strong-session-serializable').prohibited).toEqual(['G-single-process']);
    expect(check(sameProcess, 'strict-serializable').prohibited).toEqual(['G-single-realtime']);
    const otherProcess = historyOf(alone(0, [['append', 'x', 1]]), alone(1, [['r', 'x', []]]), alone(2, [['r', 'x', [1]]]));
    expect(check(otherProcess, 'strong-session-serializable').valid).toBe(true);
    const result = check(otherProcess, 'strict-serializable');
    expect(result.prohibited).toEqual(['G-single-realtime']);
    const cycle = (result.anomalies['G-single-realtime'][0] as CycleAnomaly).cycle;
    expect(cycle.map((step) => step.edge)).toEqual(['realtime', 'rw']);
    expect(cycle[0].explanation).toMatch(/completed before T\d+ was invoked/);
  });

  it('the same history concurrently is strict serializable', () => {
    const history = historyOf(both([['append', 'x', 1]], [['r', 'x', []]]), alone(2, [['r', 'x', [1]]]));
    expect(check(history, 'strict-serializable').valid).toBe(true);
  });

  it('internal: a transaction does not see its own append', () => {
    const history = historyOf(alone(0, [['append', 'x', 1], ['r', 'x', []]]));
    expect(check(history, 'serializable').prohibited).toEqual(['internal']);
    expect(check(historyOf(alone(0, [['r', 'x', []], ['append', 'x', 1], ['r', 'x', [1]]])), 'serializable').valid).toBe(true);
  });

  it('garbage reads, duplicate elements and incompatible orders are forbidden by every model', () => {
    const garbage = historyOf(alone(0, [['r', 'x', [7]]]));
    expect(check(garbage, 'read-uncommitted').prohibited).toEqual(['garbage-read']);
    const duplicate = historyOf(alone(0, [['append', 'x', 1]]), alone(1, [['r', 'x', [1, 1]]]));
    expect(check(duplicate, 'read-uncommitted').prohibited).toEqual(['duplicate-elements']);
    const incompatible = historyOf(both([['append', 'x', 1]], [['append', 'x', 2]]), alone(2, [['r', 'x', [1, 2]]]), alone(3, [['r', 'x', [2, 1]]]));
    expect(check(incompatible, 'read-uncommitted').prohibited).toContain('incompatible-order');
  });

  it('info transactions count as committed when their appends are read, and are ignored otherwise', () => {
    const read = historyOf(alone(0, [['append', 'x', 1]], 'info'), alone(1, [['r', 'x', [1]]]));
    expect(check(read, 'strict-serializable').valid).toBe(true);
    const unread = historyOf(alone(0, [['append', 'x', 1]], 'never'), alone(1, [['r', 'x', []]]));
    expect(check(unread, 'strict-serializable').valid).toBe(true);
  });
});

describe('rw-register anomalies', () => {
  it('G-single from a read-then-write version order (lost update shows too)', () => {
    // T1 and T2 both read x = null and write; T3 reads T1's value: lost update.
    const history = historyOf(both([['r', 'x', null], ['w', 'x', 1]], [['r', 'x', null], ['w', 'x', 2]]));
    const result = check(history, 'snapshot-isolation', 'rw-register');
    expect(result.prohibited).toContain('lost-update');
    expect(check(history, 'read-committed', 'rw-register').valid).toBe(true);
  });

  it('G1c, G1a, G1b and garbage reads', () => {
    const cycle = historyOf(both([['w', 'x', 1], ['r', 'y', 1]], [['w', 'y', 1], ['r', 'x', 1]]));
    expect(check(cycle, 'read-committed', 'rw-register').prohibited).toEqual(['G1c']);
    const aborted = historyOf(alone(0, [['w', 'x', 1]], 'fail'), alone(1, [['r', 'x', 1]]));
    expect(check(aborted, 'read-committed', 'rw-register').prohibited).toEqual(['G1a']);
    const intermediate = historyOf(alone(0, [['w', 'x', 1], ['w', 'x', 2]]), alone(1, [['r', 'x', 1]]));
    expect(check(intermediate, 'read-committed', 'rw-register').prohibited).toEqual(['G1b']);
    const garbage = historyOf(alone(0, [['r', 'x', 9]]));
    expect(check(garbage, 'read-uncommitted', 'rw-register').prohibited).toEqual(['garbage-read']);
  });

  it('G-single: read skew with versions ordered by read-then-write', () => {
    // T0 writes x=1,y=1. T1 reads x=1 then writes x=2 and y=2 (so x: 1 < 2 and y: 1 < 2). T2 reads x=2 and y=1.
    const history = historyOf(alone(0, [['w', 'x', 1], ['w', 'y', 1]]), alone(1, [['r', 'x', 1], ['r', 'y', 1], ['w', 'x', 2], ['w', 'y', 2]]), alone(2, [['r', 'x', 2], ['r', 'y', 1]]));
    const result = check(history, 'serializable', 'rw-register');
    expect(result.prohibited).toEqual(['G-single']);
  });

  it('internal: a read disagrees with the transaction\'s own write', () => {
    expect(check(historyOf(alone(0, [['w', 'x', 1], ['r', 'x', 2]])), 'serializable', 'rw-register').prohibited).toContain('internal');
  });
});

describe('the checker as a component', () => {
  it('composes, and bad micro-ops become unknown there (thrown by checkTransactions)', async () => {
    const bad = historyOf(alone(0, [['increment' as 'r', 'x', 1]]));
    expect(() => check(bad, 'serializable')).toThrow(TransactionFormatError);
    const composed = composeCheckers('all', [txnChecker({ workload: 'list-append', consistency: 'serializable' })]);
    const result = await composed.check({}, bad);
    expect(result.valid).toBe('unknown');
  });

  it('renders text and escaped HTML', () => {
    const history = historyOf(both([['append', '<b>', 1], ['r', 'y', [1]]], [['append', 'y', 1], ['r', '<b>', [1]]]));
    const result = check(history, 'serializable');
    expect(renderTxnResultText(result)).toMatch(/G1c: 1 \(forbidden\)[\s\S]*-wr->[\s\S]*overall: INVALID/);
    const html = renderTxnResultHtml(result);
    expect(html).toContain('&quot;&lt;b&gt;&quot;');
    expect(html).not.toContain('<b>');
  });
});
