// Proves the capacity removal takes the requested count (a majority by default) from the seed, skips nodes a disk
// fault took out, records intended and removed, and restarts the nodes one at a time on heal.
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { seededRandom } from '../common.js';
import { capacityPackage, chooseCapacityTargets, removedCount } from './index.js';

const names = ['n1', 'n2', 'n3', 'n4', 'n5'];

function recordingDb(calls: string[]): Db {
  const act = (what: string) => async (_test: TestContext, { name }: { name: string }) => {
    calls.push(`${what} ${name}`);
  };
  return { start: act('start'), kill: act('kill') } as unknown as Db;
}

function context(events: Array<{ f: string; value: unknown }>, takenOut: string[] = []): TestContext {
  const nodes = names.map((name, i) => ({ name, host: `10.0.0.${i + 1}`, dir: `/d/${name}` }));
  return {
    name: 't', runId: 'unit', runDir: '/d', backend: {} as TestContext['backend'], nodes, seed: 1, spec: {}, log: () => undefined,
    nodesTakenOut: new Set(takenOut), recordNemesisEvent: (event) => events.push(event),
  };
}

const invoke = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });

describe('capacity target choice', () => {
  it('counts selectors against the whole cluster', () => {
    expect([removedCount('one', 5), removedCount('minority', 5), removedCount('majority', 5), removedCount('all', 5)]).toEqual([1, 2, 3, 5]);
    expect([removedCount('minority', 3), removedCount('majority', 3), removedCount(2, 3)]).toEqual([1, 2, 2]);
  });

  it('draws the same nodes from the same seed, distinct and as many as asked', () => {
    for (let seed = 0; seed < 50; seed++) {
      const choice = chooseCapacityTargets(names, new Set(), 'majority', seededRandom(seed));
      expect(choice.nodes).toHaveLength(3);
      expect(new Set(choice.nodes).size).toBe(3);
      expect(chooseCapacityTargets(names, new Set(), 'majority', seededRandom(seed))).toEqual(choice);
    }
    const seen = new Set(Array.from({ length: 50 }, (_, seed) => chooseCapacityTargets(names, new Set(), 'majority', seededRandom(seed)).nodes.sort().join()));
    expect(seen.size).toBeGreaterThan(3);
  });

  it('leaves nodes taken out by a disk fault alone and says when fewer than asked could go', () => {
    const choice = chooseCapacityTargets(names, new Set(['n1', 'n2', 'n3']), 'majority', seededRandom(1));
    expect(choice.nodes.sort()).toEqual(['n4', 'n5']);
    expect(choice.note).toMatch(/taken out by the disk fault: n1, n2, n3; asked for 3, only 2/);
  });
});

describe('capacity nemesis', () => {
  it('removes a majority where one was intended, records both, and restarts them one by one', async () => {
    const calls: string[] = [];
    const events: Array<{ f: string; value: unknown }> = [];
    const test = context(events);
    const capacity = capacityPackage();
    const db = recordingDb(calls);
    const removed = await capacity.nemesis.invoke(test, db, invoke('remove-capacity', { intended: 1, seed: 4, 'restart-delay-ms': 30 }));
    expect(removed.type).toBe('info');
    const value = removed.value as { intended: number; removed: number; extra: number; nodes: string[] };
    expect(value).toMatchObject({ intended: 1, removed: 3, extra: 2 });
    expect(calls.sort()).toEqual(value.nodes.map((name) => `kill ${name}`).sort());
    calls.length = 0;
    const restored = await capacity.nemesis.invoke(test, db, invoke('restore-capacity', null));
    const restoredValue = restored.value as { nodes: string[]; restarts: Array<{ atMs: number }> };
    expect(restoredValue.nodes.sort()).toEqual([...value.nodes].sort());
    expect(calls).toHaveLength(3);
    // Staggered: each restart at least the delay after the one before.
    for (let i = 1; i < restoredValue.restarts.length; i++) {
      expect(restoredValue.restarts[i].atMs - restoredValue.restarts[i - 1].atMs).toBeGreaterThanOrEqual(25);
    }
    expect(events.filter((event) => event.f === 'capacity-restart')).toHaveLength(3);
    calls.length = 0;
    await capacity.nemesis.teardown(test, db);
    expect(calls).toEqual([]);
  });

  it('teardown restarts what a heal never did, and a node taken out is never chosen', async () => {
    const calls: string[] = [];
    const test = context([], ['n2']);
    const capacity = capacityPackage({ removed: 'all' });
    const db = recordingDb(calls);
    await capacity.nemesis.invoke(test, db, invoke('remove-capacity', { seed: 1 }));
    expect(calls.sort()).toEqual(['kill n1', 'kill n3', 'kill n4', 'kill n5']);
    calls.length = 0;
    await capacity.nemesis.teardown(test, db);
    expect(calls.sort()).toEqual(['start n1', 'start n3', 'start n4', 'start n5']);
  });

  it('refuses a removal count the cluster cannot have, with the reason', async () => {
    const test = context([]);
    const capacity = capacityPackage();
    const refused = await capacity.nemesis.invoke(test, recordingDb([]), invoke('remove-capacity', { removed: 9 }));
    expect(refused.type).toBe('fail');
    expect(refused.error).toMatch(/removed: expected one, minority, majority, all or an integer from 1 to 5, got 9/);
  });
});
