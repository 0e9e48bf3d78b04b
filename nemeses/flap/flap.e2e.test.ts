// Proves the flap nemesis really toggles iptables DROP rules in the nodes' namespaces (cut, healed, cut again), that
// stop leaves every node reachable, and that a teardown arriving mid-cut ends the loop and removes its chain.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalBackend, isRoot } from '../../src/backends/local.js';
import type { Node } from '../../src/backends/types.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { hasCommand } from '../../src/testing/host.js';
import { describeWhen } from '../../src/testing/requirements.js';
import { chainName } from '../common.js';
import { ECHO_PORT, EchoDb, PROBE_SCRIPT } from '../testing/echo-db.js';
import { flapPackage } from './index.js';

let backend: LocalBackend;
let nodes: Node[];
let test: TestContext;
const db = new EchoDb();
const recorded: Array<{ f: string; value: unknown }> = [];

const op = (f: string, value: unknown): Op => ({ index: 0, process: 'nemesis', type: 'invoke', f, value, time: 0 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether any node's flap chain holds a DROP rule right now. */
async function anyCut(): Promise<boolean> {
  const chain = chainName(test, 'FLAP');
  const listings = await Promise.all(nodes.map((node) => backend.exec(node, ['iptables', '-w', '5', '-S', chain], { allowFailure: true })));
  return listings.some((listing) => listing.stdout.includes('DROP'));
}

async function probe(from: Node, to: Node): Promise<string> {
  const result = await backend.exec(from, [process.execPath, '-e', PROBE_SCRIPT, to.host, String(ECHO_PORT)], { timeoutMs: 10_000 });
  return result.stdout.trim();
}

describeWhen('the flap nemesis e2e', { root: isRoot(), iptables: hasCommand('iptables') })('flap on the local backend', () => {
  beforeAll(async () => {
    backend = new LocalBackend({ diskSizeMb: 16 });
    nodes = await backend.provision(3);
    test = {
      name: 'flap-e2e', runId: backend.runId, runDir: nodes[0].dir, backend, nodes, seed: 1, spec: {}, log: () => undefined,
      recordNemesisEvent: (event) => recorded.push(event),
    };
    await Promise.all(nodes.map((node) => db.setup(test, node)));
  }, 120_000);

  afterAll(async () => {
    await backend?.teardown();
  });

  it('toggles real DROP rules on and off, and stop leaves every node reachable', async () => {
    const flap = flapPackage();
    await flap.nemesis.setup(test, db);
    const started = await flap.nemesis.invoke(test, db, op('start-flap', { mode: 'one', seed: 5, 'flap-min-ms': 300, 'flap-max-ms': 600 }));
    expect(started.type).toBe('info');
    // Sample the rules for up to 8 s (bounded) until we have seen the network cut, whole, and cut again.
    const seen: boolean[] = [];
    for (let sample = 0; sample < 160; sample++) {
      const cut = await anyCut();
      if (seen.length === 0 || seen[seen.length - 1] !== cut) seen.push(cut);
      if (seen.filter(Boolean).length >= 2 && seen.includes(false)) break;
      await sleep(50);
    }
    expect(seen.filter(Boolean).length, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
    const stopped = await flap.nemesis.invoke(test, db, op('stop-flap', null));
    expect((stopped.value as { cuts: number }).cuts).toBeGreaterThanOrEqual(2);
    expect(await anyCut()).toBe(false);
    for (const from of nodes) for (const to of nodes) if (from !== to) expect(await probe(from, to)).toBe('ok');
    await sleep(700);
    // Nothing cuts after the stop: the loop has ended.
    expect(await anyCut()).toBe(false);
    await flap.nemesis.teardown(test, db);
  }, 120_000);

  it('a teardown during a cut heals it and removes the chain', async () => {
    const flap = flapPackage();
    await flap.nemesis.setup(test, db);
    await flap.nemesis.invoke(test, db, op('start-flap', { mode: 'random-halves', seed: 9, 'flap-min-ms': 5000, 'flap-max-ms': 6000 }));
    // Bounded: the first cut is applied at once.
    for (let sample = 0; sample < 100 && !(await anyCut()); sample++) await sleep(50);
    expect(await anyCut()).toBe(true);
    await flap.nemesis.teardown(test, db);
    const chain = chainName(test, 'FLAP');
    for (const node of nodes) {
      const rules = await backend.exec(node, ['iptables', '-w', '5', '-S']);
      expect(rules.stdout).not.toContain(chain);
    }
    for (const from of nodes) for (const to of nodes) if (from !== to) expect(await probe(from, to)).toBe('ok');
    expect(recorded[recorded.length - 1]).toMatchObject({ f: 'stop-flap-cut', value: { action: 'heal', by: 'stop' } });
  }, 120_000);
});
