// Proves the runner is honest about faults: a heal that errs is recorded and reported as not healed (and a valid
// verdict becomes unknown), and a nemesis op that times out is cancelled before anything heals, so none of its
// commands can re-apply the fault afterwards. Stand-ins for the Backend and Db interfaces, real nemeses.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, ExecOptions, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Op } from '../history/types.js';
import type { Nemesis } from '../nemesis.js';
import type { Target } from '../target.js';
import type { TestContext } from '../test-context.js';
import { createRandom, type Thread } from '../generator/index.js';
import { loadSpec } from '../spec/index.js';
import { faultEvents, faultPeriods } from '../../reports/faults.js';
import { createTestClock, Recorder } from './recorder.js';
import { invokeNemesisOp, Scheduler, type ActiveFaults, type WorkerEnvironment } from './workers.js';
import { runTest } from './index.js';

const storeRoot = mkdtempSync(join(tmpdir(), 'faultline-runner-faults-'));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const quietOutput = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const nodeNamed = (name: string): Node => ({ name, host: '127.0.0.1', dir: '/nonexistent', clockFile: '/nonexistent/clock' });

/** A backend whose exec records when each command starts and ends; `slowMs` names commands that take that long. */
function recordingBackend(events: string[], slowMs: Record<string, number> = {}): Backend {
  return {
    name: 'local',
    runId: 'unit-faults',
    provision: async (count: number) => Array.from({ length: count }, (_, index) => nodeNamed(`n${index + 1}`)),
    exec: async (node: Node, argv: readonly string[], _options?: ExecOptions) => {
      const command = argv.join(' ');
      events.push(`start ${command}`);
      await new Promise((resolve) => setTimeout(resolve, slowMs[command] ?? 0));
      events.push(`end ${command}`);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    startDaemon: async () => 1,
    upload: async () => {},
    download: async (_node: Node, _remote: string, local: string) => writeFileSync(local, ''),
    writeFile: async () => {},
    teardown: async () => {},
  };
}

/** A register in memory; its Db can refuse to resume a paused node, as a node whose SIGCONT fails would. */
function memoryTarget(options: { resumeFails?: boolean }): Target {
  const registers = new Map<unknown, unknown>();
  const db: Db = {
    clockSkewable: true,
    setup: async () => {},
    teardown: async () => {},
    start: async () => {},
    kill: async () => {},
    pause: async () => {},
    resume: async (_test, node) => {
      if (options.resumeFails) throw new Error(`kill -CONT on ${node.name}: no such process group`);
    },
    logFiles: () => [],
  };
  const client: Client = {
    open: async () => client,
    close: async () => {},
    async invoke(_test, op) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const key = op.key ?? null;
      if (op.f === 'read') return { ...op, type: 'ok', value: registers.get(key) ?? null };
      if (op.f === 'write') {
        registers.set(key, op.value);
        return { ...op, type: 'ok' };
      }
      const [expected, next] = op.value as [unknown, unknown];
      if ((registers.get(key) ?? null) !== expected) return { ...op, type: 'fail' };
      registers.set(key, next);
      return { ...op, type: 'ok' };
    },
  };
  return { name: 'memory', workloads: ['register', 'set'], db: () => db, client: () => client };
}

function jsonLines(path: string): Op[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Op);
}

describe('a heal that errs is not healed', () => {
  it('is recorded with healed: false, stays open in the report, is listed in errors, and makes a valid verdict unknown', async () => {
    const file = join(storeRoot, 'pause.yaml');
    writeFileSync(file, 'nemesis: [pause]\nnemesis-timeline:\n  - {at: 0.2, fault: pause, action: start, value: {targets: one}}\n  - {at: 0.6, fault: pause, action: stop}\n');
    const spec = loadSpec({ file, flags: { timeLimit: '1', rate: '200', concurrency: '2', nodes: '3', recovery: '0', seed: '3', store: storeRoot, name: 'unhealed' } });
    const outcome = await runTest(spec, { target: memoryTarget({ resumeFails: true }), backend: recordingBackend([]), output: quietOutput });

    const history = jsonLines(join(outcome.runDir, 'history.jsonl'));
    const heals = history.filter((op) => op.process === 'nemesis' && op.type !== 'invoke' && op.action === 'stop');
    // The scheduled heal and the final heal both erred.
    expect(heals.length).toBe(2);
    for (const heal of heals) {
      expect(heal.error).toMatch(/heal incomplete: .*no such process group/);
      expect(heal.healed).toBe(false);
    }
    const nemesisOps = history.filter((op) => op.process === 'nemesis');
    const periods = faultPeriods(faultEvents(nemesisOps, ['n1', 'n2', 'n3']), 2e9);
    expect(periods.map((period) => [period.family, period.healed])).toEqual([['pause', false]]);

    expect(outcome.results.errors.join('\n')).toMatch(/fault not healed: pause: heal incomplete/);
    expect(outcome.results.checkers.linearizable.valid).toBe(true);
    expect(outcome.results.checkers.faults).toMatchObject({ valid: 'unknown', unhealed: [expect.objectContaining({ fault: 'pause' })] });
    expect(outcome.results.valid).toBe('unknown');
    expect(outcome.exitCode).toBe(3);
    expect(readFileSync(join(outcome.runDir, 'run.log'), 'utf8')).toMatch(/NOT healed: pause/);
  });

  it('a heal that works closes the fault and leaves the verdict alone', async () => {
    const file = join(storeRoot, 'pause-ok.yaml');
    writeFileSync(file, 'nemesis: [pause]\nnemesis-timeline:\n  - {at: 0.2, fault: pause, action: start, value: {targets: one}}\n  - {at: 0.6, fault: pause, action: stop}\n');
    const spec = loadSpec({ file, flags: { timeLimit: '1', rate: '200', concurrency: '2', nodes: '3', recovery: '0', seed: '3', store: storeRoot, name: 'healed' } });
    const outcome = await runTest(spec, { target: memoryTarget({}), backend: recordingBackend([]), output: quietOutput });
    const heals = jsonLines(join(outcome.runDir, 'history.jsonl')).filter((op) => op.process === 'nemesis' && op.type !== 'invoke' && op.action === 'stop');
    expect(heals.map((heal) => [heal.error, heal.healed])).toEqual([[undefined, undefined]]);
    expect(outcome.results.errors).toEqual([]);
    expect(outcome.results.checkers.faults).toBeUndefined();
    expect(outcome.results.valid).toBe(true);
  });
});

describe('a fault the target cannot take', () => {
  it('stops the run before any node is provisioned, naming the nemesis and why (exit 2)', async () => {
    const file = join(storeRoot, 'no-link.yaml');
    writeFileSync(file, 'nemesis: [apiserver-etcd]\n');
    const spec = loadSpec({ file, flags: { timeLimit: '1', nodes: '3', seed: '3', store: storeRoot, name: 'no-link' } });
    const backend = recordingBackend([]);
    let provisioned = 0;
    const provision = backend.provision.bind(backend);
    backend.provision = async (count) => {
      provisioned++;
      return provision(count);
    };
    const failure = await runTest(spec, { target: memoryTarget({}), backend, output: quietOutput }).then(
      () => undefined,
      (error: unknown) => error as Error & { exitCode?: number },
    );
    expect(failure?.message).toBe('nemesis apiserver-etcd: this target has no apiserver/etcd link to cut (only --target k8s has)');
    expect(failure?.exitCode).toBe(2);
    expect(provisioned).toBe(0);
  });
});

/** Enough of a worker environment for nemesis ops, over the given backend. */
function nemesisEnvironment(backend: Backend, logged: string[]): WorkerEnvironment {
  const test: TestContext = { name: 'unit', runId: 'unit-faults', runDir: storeRoot, backend, nodes: [nodeNamed('n1')], seed: 1, spec: {}, log: (line) => logged.push(line) };
  return {
    test,
    clock: createTestClock(),
    recorder: new Recorder(createTestClock(), { append: () => 0 }),
    generator: { next: () => ({ type: 'done' }) },
    scheduler: new Scheduler(),
    threads: ['nemesis'] satisfies Thread[],
    concurrency: 1,
    randomFor: () => createRandom(1),
    signal: new AbortController().signal,
    clientTimeoutMs: 1000,
  };
}

/**
 * A slow fault: 'start-slow' runs a command that takes 250 ms, then (as a nemesis applying rules node by node
 * would) a second command that re-applies the fault. 'stop-slow' heals with one command.
 */
const slowNemesis: Nemesis = {
  fs: ['start-slow', 'stop-slow'],
  setup: async () => {},
  async invoke(test, _db, op) {
    const node = test.nodes[0];
    if (op.f === 'stop-slow') {
      await test.backend.exec(node, ['heal']);
      return { ...op, type: 'info', value: 'healed' };
    }
    await test.backend.exec(node, ['apply-slowly']);
    await test.backend.exec(node, ['apply-again']);
    return { ...op, type: 'info', value: 'applied' };
  },
  teardown: async () => {},
};

describe('a nemesis op that times out', () => {
  it('is cancelled before the heal: its running command ends first and it starts no command after', async () => {
    const events: string[] = [];
    const logged: string[] = [];
    const environment = nemesisEnvironment(recordingBackend(events, { 'apply-slowly': 250 }), logged);
    const active: ActiveFaults = new Map();
    const healOpFor = () => ({ f: 'stop-slow', value: null });
    const db = {} as Db;
    const started = await invokeNemesisOp(environment, slowNemesis, db, { f: 'start-slow', value: null, fault: 'slow', action: 'start' }, active, healOpFor, 50);
    expect(started.type).toBe('info');
    expect(started.error).toMatch(/timed out after 50 ms; cancelled/);
    expect(started.cancelled).toBe(true);
    // Still active: a half-applied fault is healed at the end like any other.
    expect([...active.keys()]).toEqual(['slow']);

    const healed = await invokeNemesisOp(environment, slowNemesis, db, { f: 'stop-slow', value: null, fault: 'slow', action: 'stop' }, active, healOpFor, 1000);
    expect(healed.error).toBeUndefined();
    expect(active.size).toBe(0);
    // Long enough for an uncancelled op to have run its second command after the heal.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(events).toEqual(['start apply-slowly', 'end apply-slowly', 'start heal', 'end heal']);
  });
});
