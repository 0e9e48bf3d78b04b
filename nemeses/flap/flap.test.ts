// Proves the flapping network's schedule is a function of its seed (same seed, same cuts and spells), that every
// toggle is recorded, and that stop and teardown end the loop and leave each node's chain flushed, mid-spell too.
import { describe, expect, it } from 'vitest';
import type { Backend, ExecOptions, ExecResult, Node } from '../../src/backends/types.js';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { FLAP_CUT_F, FLAP_HEAL_F, FlapPlan, flapPackage, type FlapStep } from './index.js';

const names = ['n1', 'n2', 'n3', 'n4', 'n5'];

function steps(plan: FlapPlan, count: number): FlapStep[] {
  return Array.from({ length: count }, () => plan.next());
}

/** A backend that records each iptables-restore script per node (the flap acts only through these). */
function recordingBackend(scripts: Array<{ node: string; script: string }>): Backend {
  return {
    name: 'local',
    runId: 'unit-flap',
    provision: async () => [],
    exec: async (node: Node, argv: readonly string[], options?: ExecOptions): Promise<ExecResult> => {
      if (argv[0] === 'iptables-restore') scripts.push({ node: node.name, script: String(options?.stdin ?? '') });
      // `iptables -S chain` answers 0: the chain exists, so setup adds nothing.
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    startDaemon: async () => 1,
    upload: async () => undefined,
    download: async () => undefined,
    writeFile: async () => undefined,
    teardown: async () => undefined,
  };
}

function context(scripts: Array<{ node: string; script: string }>, events: Array<{ f: string; value: unknown }>): TestContext {
  const nodes = [1, 2, 3].map((i) => ({ name: `n${i}`, host: `10.0.0.${i}`, dir: `/d/n${i}` }));
  return {
    name: 't', runId: 'unit-flap', runDir: '/d', backend: recordingBackend(scripts), nodes, seed: 1, spec: {}, log: () => undefined,
    recordNemesisEvent: (event) => events.push(event),
  };
}

const invoke = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const db = {} as Db;

/** The last script each node received. */
function lastScripts(scripts: Array<{ node: string; script: string }>): Record<string, string> {
  const last: Record<string, string> = {};
  for (const { node, script } of scripts) last[node] = script;
  return last;
}

describe('flap schedule', () => {
  it('gives the same cuts and spells for the same seed, and different ones for another seed', () => {
    for (const mode of ['random-halves', 'one', 'majorities-ring'] as const) {
      const first = steps(new FlapPlan(42, mode, names, 200, 2000), 30);
      expect(steps(new FlapPlan(42, mode, names, 200, 2000), 30)).toEqual(first);
      expect(steps(new FlapPlan(43, mode, names, 200, 2000), 30)).not.toEqual(first);
    }
  });

  it('draws every spell within [flap-min-ms, flap-max-ms] and varies them (irregular, not periodic)', () => {
    const drawn = steps(new FlapPlan(7, 'random-halves', names, 200, 2000), 200).flatMap((step) => [step.downMs, step.upMs]);
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(2000);
    expect(new Set(drawn).size).toBeGreaterThan(50);
  });

  it('cuts a node off or splits the cluster, never a node from itself', () => {
    for (const step of steps(new FlapPlan(9, 'one', names, 10, 20), 50)) {
      const cutOff = Object.entries(step.grudge).filter(([, peers]) => peers.length === names.length - 1);
      expect(cutOff).toHaveLength(1);
      for (const [node, peers] of Object.entries(step.grudge)) expect(peers).not.toContain(node);
    }
  });

  it('refuses bounds in the wrong order', () => {
    expect(() => new FlapPlan(1, 'one', names, 500, 100)).toThrow(/flap-min-ms <= flap-max-ms/);
  });

  it('a start op draws the same mode and seed from the same schedule randomness', () => {
    const draw = (seed: number) => {
      let state = seed;
      const random = () => ((state = (state * 16807) % 2147483647) / 2147483647);
      return flapPackage().startOp(random);
    };
    expect(draw(5)).toEqual(draw(5));
  });
});

describe('flap loop', () => {
  it('toggles many times, records each toggle, and stop leaves every chain flushed', async () => {
    const scripts: Array<{ node: string; script: string }> = [];
    const events: Array<{ f: string; value: unknown }> = [];
    const test = context(scripts, events);
    const flap = flapPackage();
    await flap.nemesis.setup(test, db);
    const started = await flap.nemesis.invoke(test, db, invoke('start-flap', { mode: 'one', seed: 3, 'flap-min-ms': 10, 'flap-max-ms': 30 }));
    expect(started.type).toBe('info');
    await sleep(400);
    const stopped = await flap.nemesis.invoke(test, db, invoke('stop-flap', null));
    const value = stopped.value as { cuts: number; heals: number; toggles: Array<{ action: string }> };
    expect(value.cuts).toBeGreaterThanOrEqual(3);
    // Every cut is healed: by the loop, or by the stop itself.
    expect(value.heals).toBe(value.cuts);
    expect(events.filter((event) => event.f === FLAP_CUT_F)).toHaveLength(value.cuts);
    expect(events.filter((event) => event.f === FLAP_HEAL_F)).toHaveLength(value.heals);
    for (const script of Object.values(lastScripts(scripts))) expect(script).not.toMatch(/DROP/);
    const countAfterStop = scripts.length;
    await sleep(100);
    expect(scripts.length).toBe(countAfterStop);
    await flap.nemesis.teardown(test, db);
  });

  it('teardown in the middle of a cut ends the loop and heals every node', async () => {
    const scripts: Array<{ node: string; script: string }> = [];
    const test = context(scripts, []);
    const flap = flapPackage();
    await flap.nemesis.setup(test, db);
    // Long spells: teardown surely arrives while the network is cut.
    await flap.nemesis.invoke(test, db, invoke('start-flap', { mode: 'random-halves', seed: 11, 'flap-min-ms': 5000, 'flap-max-ms': 6000 }));
    await sleep(50);
    expect(scripts.some(({ script }) => script.includes('DROP'))).toBe(true);
    await flap.nemesis.teardown(test, db);
    const last = lastScripts(scripts);
    expect(Object.keys(last).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const script of Object.values(last)) expect(script).not.toMatch(/DROP/);
    const countAfterTeardown = scripts.length;
    await sleep(100);
    expect(scripts.length).toBe(countAfterTeardown);
  });

  it('mode primary isolates the leader of the moment at each cut', async () => {
    const scripts: Array<{ node: string; script: string }> = [];
    const events: Array<{ f: string; value: unknown }> = [];
    const test = context(scripts, events);
    // The leadership moves on each question, as a re-election after each cut would move it.
    const leaders = ['n1', 'n2', 'n3', 'n1', 'n2', 'n3', 'n1', 'n2', 'n3', 'n1', 'n2', 'n3'];
    let asked = 0;
    const leaderDb = { primaries: async () => [leaders[Math.min(asked++, leaders.length - 1)]] } as unknown as Db;
    const flap = flapPackage();
    await flap.nemesis.invoke(test, leaderDb, invoke('start-flap', { mode: 'primary', seed: 2, 'flap-min-ms': 10, 'flap-max-ms': 20 }));
    await sleep(200);
    await flap.nemesis.invoke(test, leaderDb, invoke('stop-flap', null));
    const isolated = events.filter((event) => event.f === FLAP_CUT_F).map((event) => (event.value as { isolated: string[] }).isolated);
    expect(isolated.length).toBeGreaterThanOrEqual(3);
    // The start asked once (leaders[0]); each cut asks again: cut k isolates leaders[k + 1].
    isolated.forEach((nodes, index) => expect(nodes).toEqual([leaders[Math.min(index + 1, leaders.length - 1)]]));
  });

  it('takes its bounds from nemesis-options (either spelling) when the op does not name them; the op wins', async () => {
    const test = context([], []);
    for (const options of [{ flapMinMs: 15, flapMaxMs: 25 }, { 'flap-min-ms': 15, 'flap-max-ms': 25 }]) {
      const flap = flapPackage(options as never);
      const fromOptions = await flap.nemesis.invoke(test, db, invoke('start-flap', { mode: 'one', seed: 1 }));
      expect(fromOptions.value).toMatchObject({ flapMinMs: 15, flapMaxMs: 25 });
      const fromOp = await flap.nemesis.invoke(test, db, invoke('start-flap', { mode: 'one', seed: 1, 'flap-max-ms': 40 }));
      expect(fromOp.value).toMatchObject({ flapMinMs: 15, flapMaxMs: 40 });
      await flap.nemesis.teardown(test, db);
    }
  });

  it('refuses bad spell bounds with a clear reason', async () => {
    const test = context([], []);
    const flap = flapPackage();
    const refused = await flap.nemesis.invoke(test, db, invoke('start-flap', { 'flap-min-ms': 900, 'flap-max-ms': 100 }));
    expect(refused.type).toBe('fail');
    expect(refused.error).toMatch(/flap-min-ms \(900\) is above flap-max-ms \(100\)/);
    const badNumber = await flap.nemesis.invoke(test, db, invoke('start-flap', { 'flap-max-ms': 'often' }));
    expect(badNumber.error).toMatch(/flap-max-ms: expected a number/);
  });
});
