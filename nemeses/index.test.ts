// Proves the registry and composition: every fault has a package, ops route by f, unknown fs fail cleanly,
// schedules are deterministic per seed, and refusals (clock on a Go-like target) need no node at all.
import { describe, expect, it } from 'vitest';
import type { Backend, ExecOptions, ExecResult, Node } from '../src/backends/types.js';
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { TestContext } from '../src/test-context.js';
import { seededRandom } from './common.js';
import { formatOffset } from './clock/index.js';
import { FAULT_NAMES, composeNemeses, createNemesisPackages } from './index.js';

/** A backend that only records what it was asked: enough to see which commands a nemesis would run. */
function recordingBackend(calls: string[]): Backend {
  return {
    name: 'local',
    runId: 'unit',
    provision: async () => [],
    exec: async (node: Node, argv: readonly string[], _options?: ExecOptions): Promise<ExecResult> => {
      calls.push(`${node.name}: ${argv.join(' ')}`);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    startDaemon: async () => 1,
    upload: async () => undefined,
    download: async () => undefined,
    writeFile: async (node: Node, file: string, content: string | Buffer) => {
      calls.push(`${node.name}: write ${file} ${String(content).trim()}`);
    },
    teardown: async () => undefined,
  };
}

function context(calls: string[]): TestContext {
  const nodes = [1, 2, 3].map((i) => ({ name: `n${i}`, host: `10.0.0.${i}`, dir: `/d/n${i}`, clockFile: `/d/n${i}.faketime` }));
  return { name: 't', runId: 'unit', runDir: '/d', backend: recordingBackend(calls), nodes, seed: 1, spec: {}, log: () => undefined };
}

const goLikeDb = { clockSkewable: false } as Db;
const invoke = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });

describe('nemesis registry and composition', () => {
  it('has a package for every fault, each with distinct op fs', () => {
    const packages = createNemesisPackages([...FAULT_NAMES]);
    expect(packages.map((p) => p.name)).toEqual([...FAULT_NAMES]);
    const nemesis = composeNemeses(packages);
    expect(new Set(nemesis.fs).size).toBe(nemesis.fs.length);
    for (const p of packages) {
      expect(nemesis.fs).toContain(p.startOp(seededRandom(1)).f);
      expect(nemesis.fs).toContain(p.healOp().f);
    }
  });

  it('rejects an unknown fault name', () => {
    expect(() => createNemesisPackages(['flood' as never])).toThrow(/expected one of/);
  });

  it('draws the same start ops from the same seed', () => {
    const ops = (seed: number) => {
      const random = seededRandom(seed);
      return createNemesisPackages([...FAULT_NAMES]).map((p) => [p.startOp(random), p.startOp(random)]);
    };
    expect(ops(7)).toEqual(ops(7));
    expect(ops(7)).not.toEqual(ops(8));
  });

  it('completes an op no package handles as fail, naming the f', async () => {
    const calls: string[] = [];
    const nemesis = composeNemeses(createNemesisPackages(['kill']));
    const done = await nemesis.invoke(context(calls), goLikeDb, invoke('start-partition', { mode: 'halves' }));
    expect(done.type).toBe('fail');
    expect(done.error).toMatch(/start-partition/);
    expect(calls).toEqual([]);
  });

  it('refuses clock faults on a target that ignores libfaketime, and touches no node', async () => {
    const calls: string[] = [];
    const nemesis = composeNemeses(createNemesisPackages(['clock']));
    const done = await nemesis.invoke(context(calls), goLikeDb, invoke('bump-clock', { deltaMs: 500, targets: 'all' }));
    expect(done.type).toBe('fail');
    expect(done.error).toMatch(/libfaketime/);
    expect(calls).toEqual([]);
  });

  it('routes partitions to iptables in each node and heals by flushing the run chain', async () => {
    const calls: string[] = [];
    const test = context(calls);
    const nemesis = composeNemeses(createNemesisPackages(['partition']));
    const done = await nemesis.invoke(test, goLikeDb, invoke('start-partition', { mode: 'halves' }));
    expect(done.type).toBe('info');
    expect(calls.filter((call) => call.includes('iptables-restore'))).toHaveLength(3);
    calls.length = 0;
    await nemesis.invoke(test, goLikeDb, invoke('stop-partition', null));
    expect(calls).toHaveLength(3);
  });

  it('a heal that fails on one node completes with an error, not as a heal (partition, pause)', async () => {
    const calls: string[] = [];
    const test = context(calls);
    // n2 refuses every command from now on, as a node whose iptables is locked or whose process is gone would.
    const exec = test.backend.exec;
    test.backend = { ...test.backend, exec: async (node, argv, options) => (node.name === 'n2' ? Promise.reject(new Error('n2: command failed')) : exec(node, argv, options)) };
    const db = { clockSkewable: true, pause: async () => {}, resume: async (_test: TestContext, node: Node) => {
      if (node.name === 'n2') throw new Error('no such process');
    } } as unknown as Db;
    const nemesis = composeNemeses(createNemesisPackages(['partition', 'pause']));
    const partitionHeal = await nemesis.invoke(test, db, invoke('stop-partition', null));
    expect(partitionHeal.type).toBe('info');
    expect(partitionHeal.error).toMatch(/^heal incomplete: n2: .*command failed/);
    await nemesis.invoke(test, db, invoke('pause', { targets: 'all', seed: 1 }));
    const pauseHeal = await nemesis.invoke(test, db, invoke('resume', null));
    expect(pauseHeal.error).toMatch(/^heal incomplete: n2: no such process/);
    // A start keeps its own completion: partial starts carry their errors in the value, as before.
    const start = await nemesis.invoke(test, db, invoke('start-partition', { mode: 'halves', seed: 1 }));
    expect(start.error).toBeUndefined();
  });

  it('writes libfaketime offsets in seconds', () => {
    expect(formatOffset(0)).toBe('+0');
    expect(formatOffset(1500)).toBe('+1.5');
    expect(formatOffset(-250)).toBe('-0.25');
    expect(formatOffset(30_000)).toBe('+30');
  });
});
