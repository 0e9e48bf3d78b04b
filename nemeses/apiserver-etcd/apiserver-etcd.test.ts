// Proves the apiserver-etcd nemesis's bookkeeping: it cuts the chosen nodes' links through the Db's optional
// power, heals exactly those on its stop op and at teardown, and refuses (fail) a target without that power.
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/backends/types.js';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { createNemesisPackages } from '../index.js';
import { apiserverEtcdPackage, hasApiserverEtcdLink } from './index.js';

const nodes: Node[] = ['n1', 'n2', 'n3'].map((name, position) => ({ name, host: `10.9.0.${position + 2}`, dir: `/tmp/${name}`, clockFile: `/tmp/${name}/clock` }));
const test = { nodes, runId: 'run' } as unknown as TestContext;

/** A Db that only records what the nemesis asked of it (the link itself is proven by the k8s e2e test). */
function recordingDb(withLink: boolean): { db: Db; cut: Set<string>; calls: string[] } {
  const cut = new Set<string>();
  const calls: string[] = [];
  const base = { clockSkewable: false } as unknown as Db;
  if (!withLink) return { db: base, cut, calls };
  const db = Object.assign(base, {
    async cutLink(_test: TestContext, node: Node) {
      calls.push(`cut ${node.name}`);
      cut.add(node.name);
    },
    async restoreLink(_test: TestContext, node: Node) {
      calls.push(`restore ${node.name}`);
      cut.delete(node.name);
    },
  });
  return { db, cut, calls };
}

const op = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });

describe('apiserver-etcd nemesis', () => {
  it('is registered under its own name; its start op picks one or a minority by default', () => {
    const [registered] = createNemesisPackages(['apiserver-etcd']);
    expect(registered.name).toBe('apiserver-etcd');
    expect(registered.nemesis.fs).toEqual(['cut-apiserver-etcd', 'heal-apiserver-etcd']);
    let draw = 0;
    const targets = new Set(Array.from({ length: 20 }, () => (registered.startOp(() => (draw++ % 10) / 10).value as { targets: string }).targets));
    expect([...targets].sort()).toEqual(['minority', 'one']);
    expect(registered.healOp()).toEqual({ f: 'heal-apiserver-etcd', value: null });
  });

  it('cuts the chosen node, heals it on the stop op, and heals whatever is left at teardown', async () => {
    const { db, cut, calls } = recordingDb(true);
    expect(hasApiserverEtcdLink(db)).toBe(true);
    const { nemesis } = apiserverEtcdPackage();
    const started = await nemesis.invoke(test, db, op('cut-apiserver-etcd', { targets: 'one', seed: 3 }));
    expect(started.type).toBe('info');
    expect(cut.size).toBe(1);
    const healed = await nemesis.invoke(test, db, op('heal-apiserver-etcd', null));
    expect((healed.value as { nodes: string[] }).nodes).toHaveLength(1);
    expect(cut.size).toBe(0);
    await nemesis.invoke(test, db, op('cut-apiserver-etcd', { targets: 'all', seed: 1 }));
    expect(cut.size).toBe(3);
    await nemesis.teardown(test, db);
    expect(cut.size).toBe(0);
    expect(calls.filter((call) => call.startsWith('restore'))).toHaveLength(4);
  });

  it('refuses a target that has no apiserver/etcd link, with a reason', async () => {
    const { db } = recordingDb(false);
    const result = await apiserverEtcdPackage().nemesis.invoke(test, db, op('cut-apiserver-etcd', { targets: 'one', seed: 1 }));
    expect(result.type).toBe('fail');
    expect(result.error).toMatch(/only --target k8s has/);
    await expect(apiserverEtcdPackage().nemesis.setup(test, db)).rejects.toThrow(/only --target k8s has/);
    await expect(apiserverEtcdPackage().nemesis.setup(test, recordingDb(true).db)).resolves.toBeUndefined();
  });

  it('says before any node exists whether a target can take the fault (the runner asks before provisioning)', () => {
    expect(apiserverEtcdPackage().refuses?.(recordingDb(false).db)).toMatch(/only --target k8s has/);
    expect(apiserverEtcdPackage().refuses?.(recordingDb(true).db)).toBeUndefined();
  });
});
