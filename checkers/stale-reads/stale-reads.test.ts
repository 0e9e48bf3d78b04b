// Proves the stale-read labels: a cache read that returned an older version than a write acknowledged before it
// began is stale (with the op and how many writes it missed); one concurrent with the write is not; the entry
// never changes a verdict.
import { describe, expect, it } from 'vitest';
import type { Op } from '../../src/history/types.js';
import { checkStaleReads } from './index.js';

function op(index: number, process: number, type: Op['type'], f: string, extra: Partial<Op> = {}): Op {
  return { index, process, type, f, key: 1, value: null, time: index * 1e6, ...extra };
}

describe('stale-reads checker', () => {
  it('counts cache reads, labels the stale ones with examples, and stays valid', () => {
    const history: Op[] = [
      op(0, 0, 'invoke', 'write', { value: 1 }),
      op(1, 0, 'ok', 'write', { value: 1, resourceVersion: '100' }),
      op(2, 0, 'invoke', 'write', { value: 2 }),
      op(3, 0, 'ok', 'write', { value: 2, resourceVersion: '105' }),
      // Began after 105 was acknowledged, saw 100: stale by one write.
      op(4, 1, 'invoke', 'read', { node: 'n2' }),
      op(5, 1, 'ok', 'read', { node: 'n2', value: 1, readFrom: 'watch-cache', resourceVersion: '100' }),
      // Concurrent with the write of 110: not stale.
      op(6, 2, 'invoke', 'read'),
      op(7, 0, 'invoke', 'write', { value: 3 }),
      op(8, 0, 'ok', 'write', { value: 3, resourceVersion: '110' }),
      op(9, 2, 'ok', 'read', { value: 2, readFrom: 'watch-cache', resourceVersion: '105' }),
      // A consistent read is not a cache read.
      op(10, 3, 'invoke', 'read'),
      op(11, 3, 'ok', 'read', { value: 3, resourceVersion: '110' }),
    ];
    const result = checkStaleReads(history);
    expect(result.valid).toBe(true);
    expect(result).toMatchObject({ cacheReads: 2, staleReads: 1, staleByNode: { n2: 1 }, mostMissedWrites: 1 });
    expect(result.examples).toEqual([{ index: 5, key: 1, node: 'n2', readResourceVersion: '100', newerResourceVersion: '105', missedWrites: 1, value: 1 }]);
  });
});
