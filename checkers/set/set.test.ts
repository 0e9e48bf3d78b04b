// Proves the set checker finds lost, unexpected and recovered elements (and only those), on hand-built histories
// and on random histories of a simulated correct set, where it must always say valid.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { History, Op } from '../../src/history/types.js';
import { setChecker } from './index.js';
import { statsChecker } from '../stats/index.js';

/** Builds a history from [process, type, f, value, extra?] rows; time is the row number in milliseconds. */
function history(rows: Array<[number, Op['type'], string, unknown, Record<string, unknown>?]>): History {
  return rows.map(([process, type, f, value, extra], index) => ({ index, process, type, f, value, time: index * 1_000_000, ...extra }));
}

describe('set checker', () => {
  it('is valid when every acknowledged add is read and nothing else is', async () => {
    const result = await setChecker().check({}, history([
      [0, 'invoke', 'add', 1], [0, 'ok', 'add', 1],
      [1, 'invoke', 'add', 2], [1, 'info', 'add', 2],
      [3, 'invoke', 'add', 3], [3, 'fail', 'add', 3],
      [0, 'invoke', 'read', null, { final: true }], [0, 'ok', 'read', [1, 2], { final: true, node: 'n1' }],
      [4, 'invoke', 'read', null, { final: true }], [4, 'ok', 'read', [1], { final: true, node: 'n2' }],
    ]));
    expect(result).toMatchObject({ valid: true, attempted: 3, acknowledged: 1, okCount: 1, lostCount: 0, unexpectedCount: 0, recoveredCount: 1, recovered: [2], finalReads: 2 });
  });

  it('reports a lost element (per node) and an unexpected one as invalid', async () => {
    const result = await setChecker().check({}, history([
      [0, 'invoke', 'add', 1], [0, 'ok', 'add', 1],
      [1, 'invoke', 'add', 2], [1, 'ok', 'add', 2],
      [0, 'invoke', 'read', null, { final: true }], [0, 'ok', 'read', [1, 2, 99], { final: true, node: 'n1' }],
      [1, 'invoke', 'read', null, { final: true }], [1, 'ok', 'read', [1], { final: true, node: 'n3' }],
    ]));
    expect(result).toMatchObject({ valid: false, lostCount: 1, lost: [2], lostByNode: { n3: 1 }, unexpectedCount: 1, unexpected: [99], okCount: 1 });
  });

  it('does not count an add acknowledged after a read began as lost from it', async () => {
    const result = await setChecker().check({}, history([
      [0, 'invoke', 'add', 1],
      [1, 'invoke', 'read', null], [0, 'ok', 'add', 1], [1, 'ok', 'read', []],
    ]));
    expect(result.valid).toBe(true);
  });

  it('judges an add recorded as fail that a read shows invalid, and names the element', async () => {
    const result = await setChecker().check({}, history([
      [0, 'invoke', 'add', 1], [0, 'ok', 'add', 1],
      [1, 'invoke', 'add', 2], [1, 'fail', 'add', 2, { error: 'connection reset' }],
      [2, 'invoke', 'add', 3], [2, 'fail', 'add', 3],
      [0, 'invoke', 'read', null, { final: true }], [0, 'ok', 'read', [1, 2], { final: true, node: 'n1' }],
    ]));
    expect(result).toMatchObject({ valid: false, failedButReadCount: 1, failedButRead: [2], lostCount: 0, unexpectedCount: 0 });
    expect(String(result.reason)).toMatch(/completed as fail.*appeared in a read/);
  });

  it('counts a failed add seen only in a read during the run (not a final one) too', async () => {
    const result = await setChecker().check({}, history([
      [1, 'invoke', 'add', 2], [1, 'fail', 'add', 2],
      [3, 'invoke', 'read', null], [3, 'ok', 'read', [2]],
      [0, 'invoke', 'read', null, { final: true }], [0, 'ok', 'read', [], { final: true }],
    ]));
    expect(result).toMatchObject({ valid: false, failedButRead: [2] });
  });

  it('does not judge a failed add whose element another add may have added (info, ok or never completed)', async () => {
    const result = await setChecker().check({}, history([
      [1, 'invoke', 'add', 2], [1, 'fail', 'add', 2],
      [1, 'invoke', 'add', 2], [1, 'info', 'add', 2],
      [2, 'invoke', 'add', 5], [2, 'fail', 'add', 5],
      [2, 'invoke', 'add', 5], [2, 'ok', 'add', 5],
      [0, 'invoke', 'read', null, { final: true }], [0, 'ok', 'read', [2, 5], { final: true }],
    ]));
    expect(result).toMatchObject({ valid: true, failedButReadCount: 0 });
  });

  it('is unknown without a successful read', async () => {
    const result = await setChecker().check({}, history([[0, 'invoke', 'add', 1], [0, 'ok', 'add', 1], [1, 'invoke', 'read', null], [1, 'info', 'read', null]]));
    expect(result.valid).toBe('unknown');
  });

  it('judges every history of a simulated correct set valid', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('ok', 'fail', 'info', 'none'), { minLength: 1, maxLength: 60 }), fc.infiniteStream(fc.boolean()), async (outcomes, applies) => {
        // A correct store: ok adds applied, fail adds not, info/none adds maybe.
        const rows: Array<[number, Op['type'], string, unknown, Record<string, unknown>?]> = [];
        const stored: number[] = [];
        const iterator = applies[Symbol.iterator]();
        outcomes.forEach((outcome, element) => {
          rows.push([element, 'invoke', 'add', element]);
          if (outcome === 'ok' || ((outcome === 'info' || outcome === 'none') && iterator.next().value)) stored.push(element);
          if (outcome !== 'none') rows.push([element, outcome as Op['type'], 'add', element]);
        });
        rows.push([1000, 'invoke', 'read', null, { final: true }], [1000, 'ok', 'read', [...stored], { final: true }]);
        const result = await setChecker().check({}, history(rows));
        expect(result.valid).toBe(true);
        expect(result.lostCount).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

describe('stats checker', () => {
  it('counts completions per f and gives latency percentiles; a function that never succeeded makes it unknown', async () => {
    const result = await statsChecker().check({}, history([
      [0, 'invoke', 'add', 1], [0, 'ok', 'add', 1],
      [1, 'invoke', 'add', 2], [1, 'info', 'add', 2],
      [2, 'invoke', 'read', null], [2, 'fail', 'read', null],
      [3, 'invoke', 'read', null],
    ]));
    expect(result).toMatchObject({
      valid: 'unknown', count: 4, ok: 1, fail: 1, info: 1, incomplete: 1,
      byF: { add: { count: 2, ok: 1, info: 1, latencyMs: { p50: 1, p99: 1, max: 1 } }, read: { count: 2, fail: 1, incomplete: 1, latencyMs: null } },
      neverOk: ['read'],
    });
  });
});
