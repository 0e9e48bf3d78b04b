// Proves a node the disk fault took out (it refused to start on corrupted data) is left alone by the kill and
// pause nemeses: not chosen, and not restarted by their heal, whose errors would otherwise fail the run.
import { describe, expect, it } from 'vitest';
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { TestContext } from '../src/test-context.js';
import { createNemesisPackages } from './index.js';

function recordingDb(calls: string[]): Db {
  const act = (what: string) => async (_test: TestContext, { name }: { name: string }) => {
    calls.push(`${what} ${name}`);
    if (what === 'start' && name === 'n1') throw new Error('n1 refused to start: corrupt WAL');
  };
  return { setup: async () => undefined, teardown: async () => undefined, start: act('start'), kill: act('kill'), pause: act('pause'), resume: act('resume') } as unknown as Db;
}

function context(): TestContext {
  const nodes = [1, 2, 3].map((i) => ({ name: `n${i}`, host: `10.0.0.${i}`, dir: `/d/n${i}` }));
  return { name: 't', runId: 'unit', runDir: '/d', backend: {} as TestContext['backend'], nodes, seed: 1, spec: {}, log: () => undefined, nodesTakenOut: new Set(['n1']) };
}

const invoke = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });

describe('nodes taken out by a disk fault', () => {
  it('are neither killed nor restarted by the kill nemesis', async () => {
    const calls: string[] = [];
    const [kill] = createNemesisPackages(['kill']);
    const test = context();
    const db = recordingDb(calls);
    const started = await kill.nemesis.invoke(test, db, invoke('kill', { targets: 'all', seed: 1 }));
    expect(started.type).toBe('info');
    expect(calls.sort()).toEqual(['kill n2', 'kill n3']);
    const healed = await kill.nemesis.invoke(test, db, invoke(kill.healOp().f, null));
    expect(healed.error).toBeUndefined();
    expect(calls.filter((call) => call.startsWith('start')).sort()).toEqual(['start n2', 'start n3']);
    await kill.nemesis.teardown(test, db);
  });
});
