// Proves every fault has its real effect on a 3-node local-backend cluster of echo servers (packets, /proc
// process states, libfaketime clocks, ENOSPC, corrupted bytes), that heals undo it, and that teardown leaves nothing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalBackend, isRoot } from '../src/backends/local.js';
import type { Node } from '../src/backends/types.js';
import { faketimeEnv, LIBFAKETIME_PATH } from '../src/clock.js';
import type { Op } from '../src/history/types.js';
import type { Nemesis } from '../src/nemesis.js';
import type { TestContext } from '../src/test-context.js';
import { chainName, seededRandom, selectTargets } from './common.js';
import { fillerPath } from './disk/index.js';
import { composeNemeses, createNemesisPackages, FAULT_NAMES } from './index.js';
import { hasCommand } from '../src/testing/host.js';
import { ECHO_PORT, EchoDb, PROBE_SCRIPT, UDP_COUNT_SCRIPT, answers, dataFileOf, processState, readPid } from './testing/echo-db.js';
import { describeWhen } from '../src/testing/requirements.js';


let backend: LocalBackend;
let nodes: Node[];
let test: TestContext;
const db = new EchoDb({ primaries: ['n2'] });
let nemesis: Nemesis;
const logs: string[] = [];
let opIndex = 0;

function op(f: string, value: unknown): Op {
  return { index: opIndex++, process: 'nemesis', type: 'invoke', f, value, time: 0 };
}

async function probe(from: Node, to: Node): Promise<string> {
  const result = await backend.exec(from, [process.execPath, '-e', PROBE_SCRIPT, to.host, String(ECHO_PORT)], { timeoutMs: 10_000 });
  return result.stdout.trim();
}

/** Whether the controller (this host) reaches the node's echo server. */
function fromController(node: Node): Promise<boolean> {
  return answers(node, 1500);
}

async function udpEchoes(from: Node, to: Node, count: number): Promise<number> {
  const result = await backend.exec(from, [process.execPath, '-e', UDP_COUNT_SCRIPT, to.host, String(ECHO_PORT), String(count)], { timeoutMs: 15_000 });
  return Number(result.stdout.trim());
}

/**
 * How far Date.now() of a fresh process in the node's namespace under libfaketime is from `expectedMs` ahead
 * of the controller's, beyond what the exec's own duration can explain (so a loaded machine cannot fail it).
 */
async function clockErrorMs(node: Node, expectedMs: number): Promise<number> {
  const before = Date.now();
  const result = await backend.exec(node, [process.execPath, '-e', 'console.log(Date.now())'], { env: faketimeEnv(node) });
  const after = Date.now();
  const seen = Number(result.stdout.trim()) - expectedMs;
  if (seen < before) return before - seen;
  if (seen > after) return seen - after;
  return 0;
}

describeWhen('the nemeses e2e', { root: isRoot(), [`libfaketime (${LIBFAKETIME_PATH})`]: existsSync(LIBFAKETIME_PATH), iptables: hasCommand('iptables') })('nemeses on the local backend', () => {
  beforeAll(async () => {
    backend = new LocalBackend({ diskSizeMb: 16 });
    try {
      nodes = await backend.provision(3);
      test = {
        name: 'nemesis-e2e',
        runId: backend.runId,
        runDir: nodes[0].dir,
        backend,
        nodes,
        seed: 1,
        spec: {},
        log: (message) => logs.push(message),
      };
      await Promise.all(nodes.map((node) => db.setup(test, node)));
      // Every fault any Db can take; apiserver-etcd needs a Db that can cut its own apiserver-etcd link
      // (cutLink/restoreLink: the k8s target) and is proven in targets/k8s/k8s-workloads.e2e.test.ts.
      nemesis = composeNemeses(createNemesisPackages(FAULT_NAMES.filter((name) => name !== 'apiserver-etcd'), { fillMbMax: 256 }));
      await nemesis.setup(test, db);
    } catch (error) {
      await backend.teardown().catch(() => undefined);
      throw error;
    }
  });

  afterAll(async () => {
    if (!backend) return;
    if (!nemesis) {
      await backend.teardown();
      return;
    }
    const pids = await Promise.all(nodes.map((node) => readPid(backend, node).catch(() => 0)));
    const problems: string[] = [];
    try {
      // Twice: a teardown must be safe to repeat.
      await nemesis.teardown(test, db);
      await nemesis.teardown(test, db);
      for (const node of nodes) {
        expect(await fs.readFile(node.clockFile, 'utf8')).toBe('+0\n');
        const rules = await backend.exec(node, ['iptables', '-S']);
        expect(rules.stdout).not.toMatch(/FL-/);
        await expect(fs.access(fillerPath(node))).rejects.toThrow();
      }
    } catch (error) {
      problems.push(String(error));
    } finally {
      await backend.teardown();
      await backend.teardown();
    }
    const tag = backend.tag;
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`fl-${tag}-`);
    expect(execFileSync('ip', ['-o', 'link', 'show']).toString()).not.toContain(`fl-${tag}-`);
    expect(execFileSync('iptables', ['-S', 'FORWARD']).toString()).not.toContain(`fl-${tag}-br`);
    expect(await fs.readFile('/proc/mounts', 'utf8')).not.toContain(`fl-${tag}-`);
    for (const pid of pids) if (pid > 0) expect([null, 'Z']).toContain(await processState(pid));
    expect(problems).toEqual([]);
  });

  it('partition halves cuts n1 from the others, keeps the controller connected, and heals', async () => {
    const started = await nemesis.invoke(test, db, op('start-partition', { mode: 'halves', seed: 7 }));
    expect(started.type).toBe('info');
    expect((started.value as { grudge: Record<string, string[]> }).grudge).toEqual({ n1: ['n2', 'n3'], n2: ['n1'], n3: ['n1'] });
    expect(await probe(nodes[0], nodes[1])).toBe('unreachable');
    expect(await probe(nodes[1], nodes[0])).toBe('unreachable');
    expect(await probe(nodes[1], nodes[2])).toBe('ok');
    for (const node of nodes) expect(await fromController(node)).toBe(true);

    const healed = await nemesis.invoke(test, db, op('stop-partition', null));
    expect(healed.type).toBe('info');
    expect(await probe(nodes[0], nodes[1])).toBe('ok');
    expect(await probe(nodes[2], nodes[0])).toBe('ok');
  });

  it('partition primary isolates the node the Db names, and falls back to one with a note when it names none', async () => {
    const started = await nemesis.invoke(test, db, op('start-partition', { mode: 'primary', seed: 3 }));
    expect((started.value as { isolated: string[] }).isolated).toEqual(['n2']);
    expect(await probe(nodes[0], nodes[1])).toBe('unreachable');
    expect(await probe(nodes[0], nodes[2])).toBe('ok');
    await nemesis.invoke(test, db, op('stop-partition', null));

    const leaderless = new EchoDb();
    const fallback = await nemesis.invoke(test, leaderless, op('start-partition', { mode: 'primary', seed: 3 }));
    expect(fallback.type).toBe('info');
    const value = fallback.value as { appliedMode: string; note: string; isolated: string[] };
    expect(value.appliedMode).toBe('one');
    expect(value.note).toMatch(/primary/);
    expect(value.isolated).toHaveLength(1);
    await nemesis.invoke(test, db, op('stop-partition', null));
    expect(await probe(nodes[0], nodes[1])).toBe('ok');
  });

  it('packet loss drops some but not all datagrams, and stop-packet restores them', async () => {
    const started = await nemesis.invoke(test, db, op('start-packet', { lossPercent: 50 }));
    expect(started.type).toBe('info');
    const lossy = await udpEchoes(nodes[0], nodes[1], 200);
    // Each echo crosses two lossy inputs: about a quarter return. Bounds far from that, so chance cannot fail it.
    expect(lossy).toBeGreaterThan(5);
    expect(lossy).toBeLessThan(150);
    await nemesis.invoke(test, db, op('stop-packet', null));
    expect(await udpEchoes(nodes[0], nodes[1], 200)).toBeGreaterThanOrEqual(195);
  });

  it('start-latency fails with a reason naming tc netem when the kernel lacks it', async () => {
    const probeNetem = await backend.exec(nodes[0], ['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { allowFailure: true });
    const completion = await nemesis.invoke(test, db, op('start-latency', { ms: 50 }));
    if (probeNetem.exitCode === 0) {
      await backend.exec(nodes[0], ['tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
      expect(completion.type).toBe('info');
      await nemesis.invoke(test, db, op('stop-packet', null));
    } else {
      expect(completion.type).toBe('fail');
      expect(completion.error).toMatch(/netem/);
      expect(completion.error).toMatch(/no delay was injected/);
    }
  });

  it('kill SIGKILLs the chosen process and restart brings a new one up', async () => {
    const before = await Promise.all(nodes.map((node) => readPid(backend, node)));
    const killed = await nemesis.invoke(test, db, op('kill', { targets: 'majority', seed: 11 }));
    expect(killed.type).toBe('info');
    const names = (killed.value as { nodes: string[] }).nodes;
    expect(names).toHaveLength(2);
    for (const [i, node] of nodes.entries()) {
      const state = await processState(before[i]);
      if (names.includes(node.name)) expect([null, 'Z']).toContain(state);
      else expect(state).not.toBeNull();
    }
    const restarted = await nemesis.invoke(test, db, op('restart', null));
    expect((restarted.value as { nodes: string[] }).nodes.sort()).toEqual([...names].sort());
    for (const node of nodes) expect(await fromController(node)).toBe(true);
    const after = await Promise.all(nodes.map((node) => readPid(backend, node)));
    for (const [i, node] of nodes.entries()) {
      if (names.includes(node.name)) expect(after[i]).not.toBe(before[i]);
    }
  });

  it('pause stops the process (state T in /proc) and resume continues it', async () => {
    const paused = await nemesis.invoke(test, db, op('pause', { targets: 'primary', seed: 5 }));
    expect((paused.value as { nodes: string[] }).nodes).toEqual(['n2']);
    const pid = await readPid(backend, nodes[1]);
    expect(await processState(pid)).toBe('T');
    expect(await fromController(nodes[1])).toBe(false);
    await nemesis.invoke(test, db, op('resume', null));
    expect(['S', 'R']).toContain(await processState(pid));
    expect(await fromController(nodes[1])).toBe(true);
  });

  it('bump-clock shifts what processes under libfaketime see, cumulatively, and reset-clock undoes it', async () => {
    const first = await nemesis.invoke(test, db, op('bump-clock', { deltaMs: 30_000, targets: 'all', seed: 1 }));
    expect(first.type).toBe('info');
    await nemesis.invoke(test, db, op('bump-clock', { deltaMs: -10_000, targets: 'all', seed: 1 }));
    for (const node of nodes) {
      expect(await fs.readFile(node.clockFile, 'utf8')).toBe('+20\n');
      expect(await clockErrorMs(node, 20_000)).toBeLessThan(500);
    }
    // The running daemon (started before the bump) sees it too: libfaketime rereads the file.
    const before = Date.now();
    const daemonTime = Number(await (await fetch(`http://${nodes[0].host}:${ECHO_PORT}/time`)).text());
    expect(daemonTime - before).toBeGreaterThan(19_500);
    expect(daemonTime - Date.now()).toBeLessThan(20_500);
    await nemesis.invoke(test, db, op('reset-clock', null));
    for (const node of nodes) expect(await clockErrorMs(node, 0)).toBeLessThan(500);
  });

  it('strobe-clock flips the offset within its bound and settles back; a Go-like Db is refused', async () => {
    const strobe = await nemesis.invoke(test, db, op('strobe-clock', { deltaMs: 5_000, periodMs: 50, durationMs: 400, targets: 'one', seed: 2 }));
    expect(strobe.type).toBe('info');
    const value = strobe.value as { flips: number; nodes: string[] };
    expect(value.flips).toBeGreaterThanOrEqual(2);
    expect(value.flips).toBeLessThanOrEqual(8);
    for (const node of nodes) expect(await fs.readFile(node.clockFile, 'utf8')).toBe('+0\n');

    const goLike = new EchoDb({ clockSkewable: false });
    const refusedOp = await nemesis.invoke(test, goLike, op('bump-clock', { deltaMs: 1_000, targets: 'all' }));
    expect(refusedOp.type).toBe('fail');
    expect(refusedOp.error).toMatch(/libfaketime/);
    for (const node of nodes) expect(await fs.readFile(node.clockFile, 'utf8')).toBe('+0\n');
  });

  it('fill-disk fills the node volume to ENOSPC and free-disk frees it', async () => {
    const filled = await nemesis.invoke(test, db, op('fill-disk', { targets: 'one', seed: 4 }));
    expect(filled.type).toBe('info');
    const [entry] = (filled.value as { nodes: Array<{ node: string; enospc: boolean; bytes: number }> }).nodes;
    expect(entry.enospc).toBe(true);
    const node = nodes.find((candidate) => candidate.name === entry.node)!;
    const write = await backend.exec(node, ['dd', 'if=/dev/zero', `of=${node.dir}/probe`, 'bs=64k', 'count=1'], { allowFailure: true });
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/No space left on device/);
    await nemesis.invoke(test, db, op('free-disk', null));
    const again = await backend.exec(node, ['dd', 'if=/dev/zero', `of=${node.dir}/probe`, 'bs=64k', 'count=1'], { allowFailure: true });
    expect(again.exitCode).toBe(0);
    await backend.exec(node, ['rm', '-f', `${node.dir}/probe`]);
  });

  it('corrupt-file flips exactly the recorded bits, or cuts the tail, of a killed node and restarts it', async () => {
    const original = await fs.readFile(dataFileOf(nodes[2]));
    const pidBefore = await readPid(backend, nodes[2]);
    const flipped = await nemesis.invoke(test, db, op('corrupt-file', { targets: 'all', mode: 'bitflip', seed: 9 }));
    expect(flipped.type).toBe('info');
    const files = (flipped.value as { files: Array<{ node: string; file: string; flips: Array<{ offset: number; after: number; before: number }> }> }).files;
    expect(files).toHaveLength(3);
    const record = files.find((file) => file.node === 'n3')!;
    const now = await fs.readFile(record.file);
    expect(now.length).toBe(original.length);
    const differing = [...now.keys()].filter((i) => now[i] !== original[i]);
    expect(differing).toEqual(record.flips.map((flip) => flip.offset));
    for (const flip of record.flips) expect(now[flip.offset]).toBe(flip.after);
    expect(await readPid(backend, nodes[2])).not.toBe(pidBefore);
    expect(await fromController(nodes[2])).toBe(true);

    const cut = await nemesis.invoke(test, db, op('corrupt-file', { targets: 'one', mode: 'truncate', seed: 9 }));
    const [truncation] = (cut.value as { files: Array<{ file: string; truncatedFrom: number; truncatedTo: number }> }).files;
    expect(truncation.truncatedTo).toBeLessThan(truncation.truncatedFrom);
    expect((await fs.stat(truncation.file)).size).toBe(truncation.truncatedTo);
    for (const node of nodes) expect(await fromController(node)).toBe(true);
  });

  /** The node a `{targets: 'one', seed}` op picks: the same selection the kill and pause nemeses make. */
  async function nodePickedBy(seed: number): Promise<string> {
    return (await selectTargets(test, db, 'one', seededRandom(seed))).nodes[0].name;
  }

  it('teardown heals faults still active: a partition, loss, a kill, a pause, a skew, a full disk', async () => {
    // The pause must hit another node than the kill: a killed process has nothing to stop. Bounded search.
    const killSeed = 1;
    let pauseSeed = killSeed + 1;
    while (pauseSeed < killSeed + 100 && (await nodePickedBy(pauseSeed)) === (await nodePickedBy(killSeed))) pauseSeed++;
    expect(await nodePickedBy(pauseSeed)).not.toBe(await nodePickedBy(killSeed));
    await nemesis.invoke(test, db, op('start-partition', { mode: 'one', seed: 1 }));
    await nemesis.invoke(test, db, op('start-packet', { lossPercent: 30 }));
    await nemesis.invoke(test, db, op('kill', { targets: 'one', seed: killSeed }));
    await nemesis.invoke(test, db, op('pause', { targets: 'one', seed: pauseSeed }));
    await nemesis.invoke(test, db, op('bump-clock', { deltaMs: 60_000, targets: 'all', seed: 1 }));
    await nemesis.invoke(test, db, op('fill-disk', { targets: 'one', seed: 3 }));
    await nemesis.teardown(test, db);
    for (const node of nodes) {
      expect(await fromController(node)).toBe(true);
      expect(['S', 'R']).toContain(await processState(await readPid(backend, node)));
      expect(await fs.readFile(node.clockFile, 'utf8')).toBe('+0\n');
      const rules = await backend.exec(node, ['iptables', '-S']);
      expect(rules.stdout).not.toContain(chainName(test, 'PART'));
      expect(rules.stdout).not.toContain(chainName(test, 'LOSS'));
    }
    expect(await probe(nodes[0], nodes[1])).toBe('ok');
    expect(await udpEchoes(nodes[1], nodes[2], 100)).toBeGreaterThanOrEqual(97);
    // The runner may go on using the nemesis after a teardown; setup again for the afterAll checks.
    await nemesis.setup(test, db);
  });
});
