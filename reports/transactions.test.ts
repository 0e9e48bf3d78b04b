// Proves the report explains a transactional anomaly: the anomaly's name and each step of its cycle appear,
// and a hostile value from the history is escaped, never markup.
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../src/history/types.js';
import { checkTransactions } from '../checkers/txn/index.js';
import { buildReportHtml } from './index.js';

/** Two concurrent transactions and a later reader: T0 reads x empty and y with T1's append (read skew). */
function readSkew(hostileKey: string): History {
  const ops: Array<Omit<Op, 'index'>> = [
    { process: 0, type: 'invoke', f: 'txn', value: [['r', 'x', null], ['r', hostileKey, null]], time: 1 },
    { process: 1, type: 'invoke', f: 'txn', value: [['append', 'x', 1], ['append', hostileKey, 1]], time: 2 },
    { process: 1, type: 'ok', f: 'txn', value: [['append', 'x', 1], ['append', hostileKey, 1]], time: 3 },
    { process: 0, type: 'ok', f: 'txn', value: [['r', 'x', []], ['r', hostileKey, [1]]], time: 4 },
    { process: 2, type: 'invoke', f: 'txn', value: [['r', 'x', null]], time: 5 },
    { process: 2, type: 'ok', f: 'txn', value: [['r', 'x', [1]]], time: 6 },
  ];
  return ops.map((op, index) => ({ ...op, index }));
}

describe('report of a transactional check', () => {
  it('names the anomaly, draws its cycle step by step and escapes history values', () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const history = readSkew(hostile);
    const result = checkTransactions(history, { workload: 'list-append', consistency: 'snapshot-isolation' });
    expect(result.valid).toBe(false);
    const html = buildReportHtml({ title: 'txn', source: 'test', results: { valid: result.valid, checkers: { 'list-append': result } }, history });
    const section = html.slice(html.indexOf('<section id="transactions">'));
    expect(html).toContain('<section id="transactions">');
    expect(section).toMatch(/G-single/);
    expect(section).toMatch(/<ol class="txn-cycle">(<li>[\s\S]*?<\/li>){2,}<\/ol>/);
    expect(html).not.toContain(hostile);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('has no transactions section for other checkers', () => {
    const html = buildReportHtml({ title: 'plain', source: 'test', results: { valid: true, checkers: { set: { valid: true } } }, history: [] });
    expect(html).not.toContain('id="transactions"');
  });
});

describe('why a transactional verdict is invalid', () => {
  it('names the forbidden anomalies and the model', async () => {
    const { verdictReasons } = await import('./html.js');
    const result = checkTransactions(readSkew('y'), { workload: 'list-append', consistency: 'snapshot-isolation' });
    expect(verdictReasons({ valid: false, checkers: { elle: result } })).toEqual(['elle: G-single x1: forbidden under snapshot-isolation']);
  });
});
