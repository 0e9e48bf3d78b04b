// `npm run bench:harness`: prints JSON lines measuring the harness itself: the recorder's append rate (with the
// history writer's fsync batching), the harness ceiling against an instant in-process store, and ops/s driven
// against a real raftkv cluster with 50 workers. Compared as ratios within one run, never asserted.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import { HistoryWriter } from '../history/writer.js';
import type { Target } from '../target.js';
import { loadSpec } from '../spec/index.js';
import { createTestClock, Recorder } from './recorder.js';
import { runTest } from './index.js';

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

async function recorderAppendRate(directory: string, opsCount: number): Promise<Record<string, unknown>> {
  const path = join(directory, 'bench-history.jsonl');
  const writer = new HistoryWriter(path);
  const recorder = new Recorder(createTestClock(), writer);
  const startedNs = process.hrtime.bigint();
  for (let index = 0; index < opsCount; index += 2) {
    const invoke = recorder.invoke(index % 50, { f: 'write', key: index % 100, value: index, node: 'n1' });
    recorder.complete(invoke, 'ok', { value: index });
  }
  const appendedNs = process.hrtime.bigint();
  await writer.close();
  const closedNs = process.hrtime.bigint();
  const appendSeconds = Number(appendedNs - startedNs) / 1e9;
  const totalSeconds = Number(closedNs - startedNs) / 1e9;
  return {
    case: 'recorder-append',
    ops: opsCount,
    appendOpsPerSecond: Math.round(opsCount / appendSeconds),
    durableOpsPerSecond: Math.round(opsCount / totalSeconds),
    bytes: statSync(path).size,
    rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

/** The recorder alone (an in-memory history, no file): separates its cost from the writer's serialisation. */
function recorderOnlyRate(opsCount: number): Record<string, unknown> {
  const recorder = new Recorder(createTestClock(), { append: () => 0 });
  const startedNs = process.hrtime.bigint();
  for (let index = 0; index < opsCount; index += 2) {
    const invoke = recorder.invoke(index % 50, { f: 'write', key: index % 100, value: index, node: 'n1' });
    recorder.complete(invoke, 'ok', { value: index });
  }
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return { case: 'recorder-in-memory', ops: opsCount, appendOpsPerSecond: Math.round(opsCount / seconds) };
}

/** An instant in-process register: measures what the harness can drive when the store costs nothing. */
function instantTarget(): Target {
  const registers = new Map<unknown, unknown>();
  const db: Db = {
    clockSkewable: true,
    setup: async () => {},
    teardown: async () => {},
    start: async () => {},
    kill: async () => {},
    pause: async () => {},
    resume: async () => {},
    logFiles: () => [],
  };
  const client: Client = {
    open: async () => client,
    close: async () => {},
    async invoke(_test, op) {
      await Promise.resolve();
      if (op.f === 'read') return { ...op, type: 'ok', value: registers.get(op.key ?? null) ?? null };
      if (op.f === 'write') {
        registers.set(op.key ?? null, op.value);
        return { ...op, type: 'ok' };
      }
      const [expected, next] = op.value as [unknown, unknown];
      if ((registers.get(op.key ?? null) ?? null) !== expected) return { ...op, type: 'fail' };
      registers.set(op.key ?? null, next);
      return { ...op, type: 'ok' };
    },
  };
  return { name: 'instant', workloads: ['register'], db: () => db, client: () => client };
}

function instantBackend(): Backend {
  return {
    name: 'local',
    runId: 'bench',
    provision: async (count) => Array.from({ length: count }, (_, index): Node => ({ name: `n${index + 1}`, host: '127.0.0.1', dir: '/nonexistent', clockFile: '/nonexistent/clock' })),
    exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    startDaemon: async () => 0,
    upload: async () => {},
    download: async () => {},
    writeFile: async () => {},
    teardown: async () => {},
  };
}

async function harnessRun(directory: string, label: string, flags: Record<string, string>, target?: Target, backend?: Backend): Promise<Record<string, unknown>> {
  const spec = loadSpec({ flags: { nemesis: 'none', concurrency: '50', rate: '1000000', recovery: '1', seed: '1', store: join(directory, 'store'), keys: '50', opsPerKey: '1000', ...flags } });
  const startedMs = Date.now();
  const outcome = await runTest(spec, { output: quiet, target, backend });
  const stats = outcome.results.stats;
  return {
    case: label,
    workers: spec.concurrency,
    nodes: spec.nodes,
    seconds: spec.timeLimitSeconds,
    ops: stats.ops,
    ok: stats.ok,
    fail: stats.fail,
    info: stats.info,
    opsPerSecond: Math.round(stats.ops / spec.timeLimitSeconds),
    valid: outcome.results.valid,
    wallSeconds: Math.round((Date.now() - startedMs) / 100) / 10,
    errors: outcome.results.errors,
  };
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'faultline-bench-harness-'));
  try {
    console.log(JSON.stringify(recorderOnlyRate(1_000_000)));
    console.log(JSON.stringify(await recorderAppendRate(directory, 1_000_000)));
    console.log(JSON.stringify(await harnessRun(directory, 'harness-instant-store', { timeLimit: '5', nodes: '3' }, instantTarget(), instantBackend())));
    try {
      console.log(JSON.stringify(await harnessRun(directory, 'harness-raftkv', { timeLimit: '10', nodes: '3', target: 'raftkv', backend: 'local' })));
    } catch (error) {
      console.log(JSON.stringify({ case: 'harness-raftkv', skipped: error instanceof Error ? error.message : String(error) }));
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
