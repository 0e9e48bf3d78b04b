// Proves the runner's rules with small in-memory stand-ins for the *interfaces* (Backend, Db, Client): Jepsen's
// process-retirement rule, client timeouts and throws as info, and whole runs through the real store, history
// writer and checkers, where a correct in-memory register is judged valid and a stale one invalid.
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, BackendEvent, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Op } from '../history/types.js';
import type { Target } from '../target.js';
import type { TestContext } from '../test-context.js';
import { createRandom, limit, repeat, type Thread } from '../generator/index.js';
import { loadSpec } from '../spec/index.js';
import { createTestClock, Recorder } from './recorder.js';
import { nextProcess, runClientWorker, Scheduler, type WorkerEnvironment } from './workers.js';
import { runTest } from './index.js';

const storeRoot = mkdtempSync(join(tmpdir(), 'faultline-runner-test-'));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const fakeNode: Node = { name: 'n1', host: '127.0.0.1', dir: '/nonexistent', clockFile: '/nonexistent/clock' };

function testContext(): TestContext {
  return { name: 'unit', runId: 'unit', runDir: storeRoot, backend: undefined as unknown as Backend, nodes: [fakeNode], seed: 1, spec: {}, log: () => {} };
}

function workerEnvironment(recorder: Recorder, count: number, concurrency: number, clientTimeoutMs = 1000): WorkerEnvironment {
  return {
    test: testContext(),
    clock: createTestClock(),
    recorder,
    generator: limit(count, repeat(() => ({ f: 'write', value: 1 }))),
    scheduler: new Scheduler(),
    threads: [0, 1, 'nemesis'] satisfies Thread[],
    concurrency,
    randomFor: () => createRandom(1),
    signal: new AbortController().signal,
    clientTimeoutMs,
  };
}

describe('process retirement (Jepsen rule)', () => {
  it('keeps the process on ok and fail, retires it on info', () => {
    expect(nextProcess(3, 'ok', 5)).toBe(3);
    expect(nextProcess(3, 'fail', 5)).toBe(3);
    expect(nextProcess(3, 'info', 5)).toBe(8);
  });

  it('a worker continues as process + concurrency after info, a throw or a timeout, with a fresh client', async () => {
    const recorder = new Recorder(createTestClock(), { append: () => 0 });
    let opened = 0;
    let calls = 0;
    const client: Client = {
      open: async () => {
        opened++;
        return client;
      },
      invoke: async (_test, op) => {
        calls++;
        if (calls === 2) return { ...op, type: 'info', error: 'connection lost' };
        if (calls === 3) throw new Error('boom');
        if (calls === 4) return new Promise<Op>(() => {}); // never answers: the client timeout makes it info
        if (calls === 5) return { ...op, type: 'fail', error: 'not leader' };
        return { ...op, type: 'ok' };
      },
      close: async () => {},
    };
    const lastProcess = await runClientWorker(workerEnvironment(recorder, 6, 2, 200), 1, fakeNode, client);
    const completions = recorder.history.filter((op) => op.type !== 'invoke');
    expect(completions.map((op) => [op.process, op.type])).toEqual([
      [1, 'ok'], [1, 'info'], [3, 'info'], [5, 'info'], [7, 'fail'], [7, 'ok'],
    ]);
    expect(completions[2].error).toBe('boom');
    expect(completions[3].error).toMatch(/timed out after 200 ms/);
    expect(lastProcess).toBe(7);
    expect(opened).toBe(4);
    // Every invoke is completed by the same process before that process invokes again.
    const open = new Set<unknown>();
    for (const op of recorder.history) {
      if (op.type === 'invoke') {
        expect(open.has(op.process)).toBe(false);
        open.add(op.process);
      } else open.delete(op.process);
    }
    expect(recorder.counts).toEqual({ ops: 6, ok: 2, fail: 1, info: 3 });
  });
});

/**
 * An in-memory replicated-store stand-in: registers per key and a set; `stale` makes reads lag one write behind;
 * `setupMs` makes each node's setup take that long (a slow cluster start).
 */
function memoryTarget(options: { stale?: boolean; loseAdds?: boolean; setupMs?: number }): Target & { torn: string[] } {
  const registers = new Map<unknown, unknown>();
  const previous = new Map<unknown, unknown>();
  const set: number[] = [];
  const torn: string[] = [];
  const delay = () => new Promise((resolve) => setTimeout(resolve, 1));
  const db: Db = {
    clockSkewable: true,
    setup: () => new Promise((resolve) => setTimeout(resolve, options.setupMs ?? 0)),
    teardown: async (_test, node) => {
      torn.push(node.name);
    },
    start: async () => {},
    kill: async () => {},
    pause: async () => {},
    resume: async () => {},
    logFiles: (_test, node) => [`${node.dir}/server.log`],
  };
  const client: Client = {
    open: async () => client,
    close: async () => {},
    async invoke(_test, op) {
      await delay();
      const key = op.key ?? null;
      switch (op.f) {
        case 'read':
          if (op.key === undefined) return { ...op, type: 'ok', value: [...set].sort((a, b) => a - b) };
          return { ...op, type: 'ok', value: (options.stale && previous.has(key) ? previous.get(key) : registers.get(key)) ?? null };
        case 'write':
          previous.set(key, registers.get(key) ?? null);
          registers.set(key, op.value);
          return { ...op, type: 'ok' };
        case 'cas': {
          const [expected, next] = op.value as [unknown, unknown];
          if ((registers.get(key) ?? null) !== expected) return { ...op, type: 'fail' };
          previous.set(key, registers.get(key) ?? null);
          registers.set(key, next);
          return { ...op, type: 'ok' };
        }
        case 'add':
          if (!(options.loseAdds && (op.value as number) % 7 === 3)) set.push(op.value as number);
          return { ...op, type: 'ok' };
        default:
          return { ...op, type: 'fail', error: `unknown f ${op.f}` };
      }
    },
  };
  return { name: 'memory', workloads: ['register', 'set'], db: () => db, client: () => client, torn };
}

/**
 * A stand-in backend. With `warnings` it reports them as the ssh backend does; with `events` it emits one
 * connection event while provisioning (before the client phase) and one from every exec (during faults).
 */
function memoryBackend(options: { warnings?: string[]; events?: boolean } = {}): Backend & { tornDown: boolean } {
  const listeners = new Set<(event: BackendEvent) => void>();
  const emit = (type: string, node?: string) => {
    for (const listener of listeners) listener({ type, timeMs: Date.now(), ...(node ? { node } : {}) });
  };
  const backend = {
    name: 'local' as const,
    runId: 'unit-run',
    tornDown: false,
    ...(options.warnings ? { warnings: options.warnings } : {}),
    ...(options.events
      ? {
          onEvent(listener: (event: BackendEvent) => void) {
            listeners.add(listener);
            return () => listeners.delete(listener);
          },
        }
      : {}),
    provision: async (count: number) => {
      emit('connection-lost', 'n1');
      emit('reconnected', 'n1');
      return Array.from({ length: count }, (_, index) => ({ ...fakeNode, name: `n${index + 1}` }));
    },
    exec: async (node: Node) => {
      emit('retry', node.name);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    startDaemon: async () => 1,
    upload: async () => {},
    download: async (node: Node, remotePath: string, localPath: string) => writeFileSync(localPath, `log of ${node.name} ${remotePath}\n`),
    writeFile: async () => {},
    teardown: async () => {
      backend.tornDown = true;
    },
  };
  return backend;
}

const quietOutput = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

function spec(flags: Record<string, string>) {
  return loadSpec({ flags: { timeLimit: '2', rate: '300', concurrency: '4', nodes: '3', nemesis: 'none', recovery: '0', seed: '7', store: storeRoot, ...flags } });
}

describe('runTest with in-memory stand-ins', () => {
  it('judges a correct register valid, and stores every file of the run', async () => {
    const target = memoryTarget({});
    const backend = memoryBackend();
    const outcome = await runTest(spec({ name: 'memory-register' }), { target, backend, output: quietOutput });
    expect(outcome.results.errors).toEqual([]);
    expect(outcome.results.valid).toBe(true);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.results.checkers.linearizable.valid).toBe(true);
    expect(outcome.results.stats.ops).toBeGreaterThan(100);
    expect(backend.tornDown).toBe(true);
    expect(target.torn.sort()).toEqual(['n1', 'n2', 'n3']);
    for (const file of ['spec.json', 'history.jsonl', 'nemesis.jsonl', 'results.json', 'run.log', 'nodes/n2/server.log']) {
      expect(existsSync(join(outcome.runDir, file))).toBe(true);
    }
    const history = readFileSync(join(outcome.runDir, 'history.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Op);
    expect(history.length).toBe(outcome.results.stats.ops * 2);
    expect(history.filter((op) => op.final === true && op.type === 'ok').length).toBeGreaterThan(0);
    expect(readlinkSync(join(storeRoot, 'latest'))).toMatch(/^memory-register\//);
    expect(JSON.parse(readFileSync(join(outcome.runDir, 'results.json'), 'utf8')).seed).toBe(7);
  });

  it('judges stale reads invalid (exit 1)', async () => {
    const outcome = await runTest(spec({ name: 'memory-stale', keys: '1' }), { target: memoryTarget({ stale: true }), backend: memoryBackend(), output: quietOutput });
    expect(outcome.results.valid).toBe(false);
    expect(outcome.exitCode).toBe(1);
  });

  it('judges a set that loses acknowledged adds invalid, and one that does not valid', async () => {
    const lossy = await runTest(spec({ name: 'memory-set', workload: 'set' }), { target: memoryTarget({ loseAdds: true }), backend: memoryBackend(), output: quietOutput });
    expect(lossy.results.valid).toBe(false);
    expect(lossy.results.checkers.set).toMatchObject({ valid: false, finalReads: 3 });
    const correct = await runTest(spec({ name: 'memory-set', workload: 'set' }), { target: memoryTarget({}), backend: memoryBackend(), output: quietOutput });
    expect(correct.results.valid).toBe(true);
  });

  it('on interrupt, stops early, tears down, and reports exit 2 without a verdict', async () => {
    const controller = new AbortController();
    const backend = memoryBackend();
    setTimeout(() => controller.abort(), 500);
    const outcome = await runTest(spec({ name: 'memory-interrupt', timeLimit: '30' }), { target: memoryTarget({}), backend, output: quietOutput, signal: controller.signal });
    expect(outcome.exitCode).toBe(2);
    expect(outcome.results.valid).toBe('unknown');
    expect(outcome.results.errors.join()).toMatch(/interrupted during run/);
    expect(backend.tornDown).toBe(true);
  });
});

/** Every line of a JSONL file. */
function jsonLines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('time 0 is the start of the client phase', () => {
  it('a fault planned at 0.5-1.2 s comes 0.5-1.2 s into the client phase, after a 1.5 s setup, in history and nemesis.jsonl alike', async () => {
    const setupMs = 1500;
    const file = join(storeRoot, 'timeline.yaml');
    writeFileSync(file, 'nemesis: [kill]\nnemesis-timeline:\n  - {at: 0.5, fault: kill, action: start, value: {targets: one}}\n  - {at: 1.2, fault: kill, action: stop}\n');
    const timelineSpec = loadSpec({ file, flags: { timeLimit: '2', rate: '200', concurrency: '2', nodes: '3', recovery: '0', seed: '11', store: storeRoot, name: 'memory-timing' } });
    const outcome = await runTest(timelineSpec, { target: memoryTarget({ setupMs }), backend: memoryBackend(), output: quietOutput });
    expect(outcome.results.errors).toEqual([]);
    const history = jsonLines(join(outcome.runDir, 'history.jsonl')) as Op[];
    const clientInvokes = history.filter((op) => op.process !== 'nemesis' && op.type === 'invoke');
    const faultStart = history.find((op) => op.process === 'nemesis' && op.type === 'invoke' && op.action === 'start');
    const faultStop = history.find((op) => op.process === 'nemesis' && op.type === 'invoke' && op.action === 'stop');
    expect(faultStart && faultStop).toBeTruthy();
    // Counted from the run's start, the first client op would come after the whole setup.
    expect(clientInvokes[0].time).toBeGreaterThanOrEqual(0);
    expect(clientInvokes[0].time).toBeLessThan(setupMs * 1e6);
    // A schedule counted from the run's start would be overdue by then and fire at once, back to back.
    expect(faultStart!.time).toBeGreaterThanOrEqual(0.5e9);
    expect(faultStop!.time).toBeGreaterThanOrEqual(1.2e9);
    expect(clientInvokes.filter((op) => op.time < faultStart!.time).length).toBeGreaterThan(0);
    expect(clientInvokes.filter((op) => op.time > faultStart!.time && op.time < faultStop!.time).length).toBeGreaterThan(0);
    // nemesis.jsonl keeps the nemesis completions with the same index and time as history.jsonl.
    const byIndex = new Map(history.map((op) => [op.index, op]));
    const nemesisLines = jsonLines(join(outcome.runDir, 'nemesis.jsonl'));
    expect(nemesisLines.length).toBe(2);
    for (const line of nemesisLines) expect(byIndex.get(line.index as number)).toEqual(line);
  });
});

describe('backend warnings and events', () => {
  it('warnings go to results.json, report.html and the log; events go to nemesis.jsonl without a history index', async () => {
    const warning = 'ssh: host key checking is OFF (--ssh-strict=false): the nodes were not verified to be the machines named';
    const printed: string[] = [];
    const output = { write: (text: string) => printed.push(text) > 0, isTTY: false } as unknown as NodeJS.WriteStream;
    const file = join(storeRoot, 'events.yaml');
    // Each partition start and heal runs iptables through exec, and every exec emits a backend event.
    writeFileSync(file, 'nemesis: [partition]\nnemesis-timeline:\n  - {at: 0.3, fault: partition, action: start}\n  - {at: 0.8, fault: partition, action: stop}\n');
    const eventsSpec = loadSpec({ file, flags: { timeLimit: '1.5', rate: '200', concurrency: '2', nodes: '3', recovery: '0', seed: '5', store: storeRoot, name: 'memory-events' } });
    const outcome = await runTest(eventsSpec, { target: memoryTarget({}), backend: memoryBackend({ warnings: [warning], events: true }), output });
    expect(outcome.results.warnings).toEqual([warning]);
    expect(JSON.parse(readFileSync(join(outcome.runDir, 'results.json'), 'utf8')).warnings).toEqual([warning]);
    expect(readFileSync(join(outcome.runDir, 'report.html'), 'utf8')).toContain('host key checking is OFF (--ssh-strict=false)');
    expect(printed.join('')).toContain(`faultline: warning: ${warning}`);

    const history = jsonLines(join(outcome.runDir, 'history.jsonl')) as Op[];
    expect(history.map((op) => op.index)).toEqual(history.map((_, position) => position));
    const nemesisLines = jsonLines(join(outcome.runDir, 'nemesis.jsonl'));
    const events = nemesisLines.filter((line) => String(line.f).startsWith('backend-'));
    const nemesisOps = nemesisLines.filter((line) => !String(line.f).startsWith('backend-'));
    expect(nemesisOps.length).toBe(2);
    for (const op of nemesisOps) expect(history[op.index as number]).toEqual(op);
    for (const event of events) expect(event).not.toHaveProperty('index');
    // Provisioning's two events come before time 0 (so their times are negative), then the execs of setup
    // and of the fault's start (at 0.3 s) and heal (at 0.8 s).
    expect(events.slice(0, 2).map((event) => [event.f, event.node])).toEqual([['backend-connection-lost', 'n1'], ['backend-reconnected', 'n1']]);
    expect(events[1].time as number).toBeLessThan(0);
    expect(events.filter((event) => (event.time as number) >= 0.3e9).length).toBeGreaterThanOrEqual(2);
    const times = nemesisLines.map((line) => line.time as number);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
