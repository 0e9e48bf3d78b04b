// Proves the set workload's checkers judge a run whose adds never succeeded unknown (an empty final read of an
// empty set proves nothing), one with lost adds invalid, and one with acknowledged adds all read valid.
import { describe, expect, it } from 'vitest';
import { composeCheckers } from '../../checkers/types.js';
import type { History, Op } from '../../src/history/types.js';
import { loadSpec } from '../../src/spec/index.js';
import { setWorkload } from './index.js';

/** Builds a history from [process, type, f, value, final?] rows; time is the row number in milliseconds. */
function history(rows: Array<[number, Op['type'], string, unknown, boolean?]>): History {
  return rows.map(([process, type, f, value, final], index) => ({ index, process, type, f, value, time: index * 1_000_000, ...(final ? { final } : {}) }));
}

async function verdictOf(rows: Array<[number, Op['type'], string, unknown, boolean?]>) {
  const instance = setWorkload.create(loadSpec({ flags: { seed: '1', workload: 'set' } }));
  return composeCheckers('set', await instance.checkers()).check(instance.checkContext(), history(rows));
}

describe('set workload verdict', () => {
  it('is unknown when every add failed or timed out and the final read is empty', async () => {
    const result = await verdictOf([
      [0, 'invoke', 'add', 0], [0, 'fail', 'add', 0],
      [1, 'invoke', 'add', 1], [1, 'info', 'add', 1],
      [5, 'invoke', 'read', null, true], [5, 'ok', 'read', [], true],
    ]);
    expect(result.valid).toBe('unknown');
    const checkers = result.checkers as Record<string, { valid: unknown; reason?: string }>;
    expect(checkers.set.valid).toBe(true);
    expect(checkers.stats.reason).toMatch(/no add ever succeeded \(0 ok of 2: 1 fail, 1 info\)/);
  });

  it('is invalid when an acknowledged add is missing, and valid when every one is read', async () => {
    const lost = await verdictOf([
      [0, 'invoke', 'add', 0], [0, 'ok', 'add', 0],
      [5, 'invoke', 'read', null, true], [5, 'ok', 'read', [], true],
    ]);
    expect(lost.valid).toBe(false);
    const kept = await verdictOf([
      [0, 'invoke', 'add', 0], [0, 'ok', 'add', 0],
      [5, 'invoke', 'read', null, true], [5, 'ok', 'read', [0], true],
    ]);
    expect(kept.valid).toBe(true);
  });
});
