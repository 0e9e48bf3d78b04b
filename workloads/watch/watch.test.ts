// Proves the watch checker on hand-built histories: in-order, gap-free, resumed watches are valid; a missed
// write, an event out of order, a resume from the wrong point or a wrong value is caught and named; and, by
// property, that dropping any one delivered event of a gap-free stream is always found.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from '../../src/history/types.js';
import { defaultSpec } from '../../src/spec/types.js';
import { checkWatch, watchWorkload } from './index.js';

type Draft = Omit<Op, 'index'>;

function write(process: number, atMs: number, value: number, resourceVersion: string | undefined, type: 'ok' | 'info' = 'ok'): Draft[] {
  return [
    { process, type: 'invoke', f: 'write', key: 0, value, time: atMs * 1e6 },
    { process, type, f: 'write', key: 0, value, time: (atMs + 1) * 1e6, ...(resourceVersion ? { resourceVersion } : {}) },
  ];
}

function watch(process: number, atMs: number, from: string, listed: boolean, events: Array<[string, number]>, expired = false): Draft[] {
  return [
    { process, type: 'invoke', f: 'watch', key: 0, value: { spanMs: 100 }, time: atMs * 1e6 },
    {
      process,
      type: 'ok',
      f: 'watch',
      key: 0,
      value: { from, listed, events: events.map(([resourceVersion, value]) => ({ type: 'MODIFIED', resourceVersion, value })), ...(expired ? { expired: true } : {}) },
      time: (atMs + 100) * 1e6,
    },
  ];
}

function history(...drafts: Draft[][]): Op[] {
  return drafts
    .flat()
    .map((op, order) => ({ op, order }))
    .sort((a, b) => a.op.time - b.op.time || a.order - b.order)
    .map(({ op }, index) => ({ ...op, index }) as Op);
}

const writes = [write(0, 10, 1, '11'), write(0, 20, 2, '12'), write(0, 30, 3, '13'), write(0, 40, 4, '14')];

describe('watch checker', () => {
  it('valid: a listed watch and its resumes deliver every write after the list, in order', () => {
    const result = checkWatch(history(...writes, watch(1, 0, '10', true, [['11', 1], ['12', 2]]), watch(1, 101, '12', false, [['13', 3], ['14', 4]])));
    expect(result.valid).toBe(true);
    expect(result).toMatchObject({ watchers: 1, events: 4, resumes: 1, missed: 0, outOfOrder: 0, brokenResumes: 0, wrongValues: 0 });
  });

  it('invalid: a write inside the covered stretch that was never delivered is missed, with its op', () => {
    const ops = history(...writes, watch(1, 0, '10', true, [['11', 1]]), watch(1, 101, '11', false, [['13', 3]]));
    const result = checkWatch(ops);
    expect(result.valid).toBe(false);
    const [watcher] = result.perWatcher as Array<{ missed: Array<{ resourceVersion: string; writeIndex: number }> }>;
    expect(watcher.missed.map((missed) => missed.resourceVersion)).toEqual(['12']);
    expect(ops[watcher.missed[0].writeIndex]).toMatchObject({ f: 'write', type: 'ok', resourceVersion: '12' });
  });

  it('invalid: events out of order, a resume from another point than the last delivered, a value not written', () => {
    expect(checkWatch(history(...writes, watch(1, 0, '10', true, [['12', 2], ['11', 1]]))).outOfOrder).toBe(1);
    expect(checkWatch(history(...writes, watch(1, 0, '10', true, [['11', 1]]), watch(1, 101, '10', false, [['12', 2]]))).brokenResumes).toBe(1);
    const wrong = checkWatch(history(...writes, watch(1, 0, '10', true, [['11', 7]])));
    expect(wrong.valid).toBe(false);
    expect(wrong.wrongValues).toBe(1);
  });

  it('an event of an unacknowledged write is fine; an expired watch lists again and starts a new stretch', () => {
    const unknown = checkWatch(history(write(0, 5, 9, undefined, 'info'), ...writes, watch(1, 0, '10', true, [['11', 1], ['12', 2], ['13', 3], ['14', 4], ['15', 9]])));
    expect(unknown.valid).toBe(true);
    expect(unknown.unknownWrites).toBe(1);
    // Expired after 11: the relist at 13 starts over, so 12 is not a gap of this watcher.
    const expired = checkWatch(history(...writes, watch(1, 0, '10', true, [['11', 1]], true), watch(1, 101, '13', true, [['14', 4]])));
    expect(expired.valid).toBe(true);
    expect(expired).toMatchObject({ resumes: 0, missed: 0 });
    expect((expired.perWatcher as Array<{ lists: number }>)[0].lists).toBe(2);
  });

  it('unknown when no watcher delivered anything', () => {
    expect(checkWatch(history(...writes, watch(1, 0, '14', true, []))).valid).toBe('unknown');
  });

  it('property: a gap-free stream split into resumes at any points is valid, and dropping any one event is found', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 6 }), fc.option(fc.nat()), (count, cuts, dropped) => {
        const written = Array.from({ length: count }, (_, position) => write(0, 10 * position + 10, position + 1, String(100 + position + 1)));
        const events: Array<[string, number]> = Array.from({ length: count }, (_, position) => [String(100 + position + 1), position + 1]);
        const drop = dropped === null ? undefined : dropped % count;
        const delivered = events.filter((_, position) => position !== drop);
        const points = [...new Set(cuts.map((cut) => cut % (delivered.length + 1)))].sort((a, b) => a - b);
        const watches: Draft[][] = [];
        let start = 0;
        let from = '100';
        for (const [position, end] of [...points, delivered.length].entries()) {
          const slice = delivered.slice(start, end);
          watches.push(watch(1, 1000 + position * 200, from, position === 0, slice));
          if (slice.length > 0) from = slice[slice.length - 1][0];
          start = end;
        }
        const result = checkWatch(history(...written, ...watches));
        // A dropped last event leaves no gap (the stretch ends before it): only the watcher's lag shows it.
        const gap = drop !== undefined && drop < count - 1;
        expect(result.valid).toBe(gap ? false : delivered.length === 0 ? 'unknown' : true);
        expect(result.missed).toBe(gap ? 1 : 0);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('watch workload', () => {
  it('even threads write unique values, odd threads watch; options from target options', () => {
    const instance = watchWorkload.create({ ...defaultSpec, name: 'watch', seed: 1, targetOptions: { 'watch-span-ms': 1000 } });
    expect(instance.checkContext().options).toEqual({ spanMs: 1000, writeIntervalMs: 150 });
    expect(() => watchWorkload.create({ ...defaultSpec, name: 'watch', seed: 1, targetOptions: { 'watch-span-ms': 0 } })).toThrow(/watch-span-ms > 0/);
  });
});
