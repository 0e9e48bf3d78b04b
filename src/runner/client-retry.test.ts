// Proves the client workers' retries (spec `client-retry`): each attempt is its own invoke and completion carrying
// `request` and `attempt`, a retry re-sends the same op, an info attempt's retry goes out under the successor process,
// reconnect reopens the client, retries stop at the time limit, and the ops a seed deals each thread stay the same.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Op } from '../history/types.js';
import type { Target } from '../target.js';
import { loadSpec } from '../spec/index.js';
import type { TestSpec } from '../spec/types.js';
import { createRandom } from '../generator/index.js';
import { readHistoryFile } from '../history/read.js';
import { runTest } from './index.js';
import { retryDelayMs } from './workers.js';

const storeRoot = mkdtempSync(join(tmpdir(), 'faultline-client-retry-test-'));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const quietOutput = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

/** An in-memory register whose client answers each read or write attempt below `succeedAt` with `failWith`; counts client opens. */
function flakyTarget(failWith: 'fail' | 'info', succeedAt: number): { target: Target; opens: () => number } {
  const registers = new Map<unknown, unknown>();
  let opens = 0;
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
    open: async () => {
      opens++;
      return client;
    },
    close: async () => {},
    async invoke(_test, op) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      // cas is never flaky: its own fails (value differed) show that an answered fail is not retried.
      if (op.final !== true && op.f !== 'cas' && (typeof op.attempt !== 'number' || op.attempt < succeedAt)) return { ...op, type: failWith, error: 'flaky' };
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
  return { target: { name: 'memory', workloads: ['register'], db: () => db, client: () => client }, opens: () => opens };
}

function memoryBackend(): Backend {
  return {
    name: 'local',
    runId: 'unit-client-retry',
    provision: async (count: number) => Array.from({ length: count }, (_, index) => ({ name: `n${index + 1}`, host: '127.0.0.1', dir: '/nonexistent', clockFile: '/nonexistent/clock' })),
    exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    startDaemon: async () => 1,
    upload: async () => {},
    download: async () => {},
    writeFile: async () => {},
    teardown: async () => {},
  };
}

function spec(name: string, clientRetry?: TestSpec['clientRetry']): TestSpec {
  const loaded = loadSpec({ flags: { name, timeLimit: '1', rate: '100', concurrency: '3', nodes: '3', nemesis: 'none', recovery: '0', seed: '11', store: storeRoot } });
  return clientRetry ? { ...loaded, clientRetry } : loaded;
}

const retry = (overrides: Partial<NonNullable<TestSpec['clientRetry']>>) => ({ attempts: 3, backoffMs: 5, maxBackoffMs: 20, jitter: 0.5, reconnect: false, ...overrides });

function mainInvokes(history: readonly Op[]): Op[] {
  return history.filter((op) => typeof op.process === 'number' && op.type === 'invoke' && op.final !== true);
}

/** Attempts grouped by (thread, request), in history order. */
function requests(history: readonly Op[], concurrency: number): Map<string, Op[]> {
  const groups = new Map<string, Op[]>();
  for (const op of mainInvokes(history)) {
    const key = `${(op.process as number) % concurrency}:${String(op.request)}`;
    groups.set(key, [...(groups.get(key) ?? []), op]);
  }
  return groups;
}

async function historyOf(outcome: { runDir: string }): Promise<Op[]> {
  return readHistoryFile(join(outcome.runDir, 'history.jsonl')).history;
}

describe('client retries', () => {
  it('re-send the same op as attempts 1..N of one request until it succeeds; amplification is measured', async () => {
    const flaky = flakyTarget('fail', 3);
    const outcome = await runTest(spec('retry-fail', retry({})), { target: flaky.target, backend: memoryBackend(), output: quietOutput });
    const history = await historyOf(outcome);
    const groups = requests(history, 3);
    expect(groups.size).toBeGreaterThan(5);
    for (const attempts of groups.values()) {
      expect(attempts.map((op) => op.attempt)).toEqual([1, 2, 3].slice(0, attempts.length));
      for (const op of attempts) expect([op.f, op.key, op.value]).toEqual([attempts[0].f, attempts[0].key, attempts[0].value]);
    }
    // Attempts 1 and 2 fail; a read or write reaching its third attempt succeeds.
    const completions = history.filter((op) => typeof op.process === 'number' && op.type !== 'invoke' && op.final !== true);
    expect(completions.filter((op) => (op.attempt as number) < 3 && op.f !== 'cas').every((op) => op.type === 'fail')).toBe(true);
    expect(completions.filter((op) => op.attempt === 3 && op.f !== 'cas').every((op) => op.type === 'ok')).toBe(true);
    expect(completions.filter((op) => op.attempt === 3).length).toBeGreaterThan(5);
    // A cas whose value differed was answered: never re-sent (its request has no later attempt).
    const answered = completions.filter((op) => op.f === 'cas' && op.type === 'fail' && op.error === undefined);
    expect(answered.length).toBeGreaterThan(0);
    for (const op of answered) expect(groups.get(`${(op.process as number) % 3}:${String(op.request)}`)!.at(-1)!.attempt).toBe(op.attempt);
    const availability = outcome.results.checkers.availability as { retryAmplification: number; valid: unknown };
    expect(availability.valid).toBe(true);
    const attempts = [...groups.values()].reduce((sum, group) => sum + group.length, 0);
    expect(availability.retryAmplification).toBeCloseTo(attempts / groups.size, 9);
    expect(availability.retryAmplification).toBeGreaterThan(1.5);
    // One client per thread, never reopened (no info, no reconnect), and one per node for the final reads.
    expect(flaky.opens()).toBe(3 + 3);
  });

  it('retry an info attempt under the retired process successor, and reconnect after a fail when asked', async () => {
    const info = flakyTarget('info', 2);
    const outcome = await runTest(spec('retry-info', retry({ attempts: 2 })), { target: info.target, backend: memoryBackend(), output: quietOutput });
    const groups = requests(await historyOf(outcome), 3);
    const retried = [...groups.values()].filter((attempts) => attempts.length === 2);
    expect(retried.length).toBeGreaterThan(3);
    for (const [first, second] of retried) expect(second.process).toBe((first.process as number) + 3);

    const reconnecting = flakyTarget('fail', 2);
    const herd = await runTest(spec('retry-reconnect', retry({ attempts: 2, reconnect: true })), { target: reconnecting.target, backend: memoryBackend(), output: quietOutput });
    const herdGroups = [...requests(await historyOf(herd), 3).values()];
    const failedAttempts = herdGroups.filter((attempts) => attempts.length === 2).length;
    // One open per thread, then one per failed attempt (a fail keeps the process, so only reconnect explains these).
    expect(reconnecting.opens()).toBeGreaterThanOrEqual(3 + failedAttempts);
  });

  it('stop at the time limit even with attempts left', async () => {
    const never = flakyTarget('fail', Number.POSITIVE_INFINITY);
    const outcome = await runTest(spec('retry-deadline', retry({ attempts: 100, backoffMs: 20, maxBackoffMs: 20, jitter: 0 })), { target: never.target, backend: memoryBackend(), output: quietOutput });
    const invokes = mainInvokes(await historyOf(outcome));
    expect(invokes.some((op) => (op.attempt as number) > 5)).toBe(true);
    // 100 attempts 20 ms apart would run 2 s past the 1 s limit; the last retry starts within one backoff of it.
    expect(Math.max(...invokes.map((op) => op.time))).toBeLessThan(1e9 + 100e6);
  });

  it('leave the ops a seed deals each thread unchanged (a retry draws nothing from the generator)', async () => {
    const plain = await runTest(spec('retry-replay-plain'), { target: flakyTarget('fail', 1).target, backend: memoryBackend(), output: quietOutput });
    const retried = await runTest(spec('retry-replay-retried', retry({ attempts: 3 })), { target: flakyTarget('fail', 3).target, backend: memoryBackend(), output: quietOutput });
    const perThread = (history: Op[]) => {
      const threads: string[][] = [[], [], []];
      for (const op of mainInvokes(history)) if (op.attempt === undefined || op.attempt === 1) threads[(op.process as number) % 3].push(JSON.stringify([op.f, op.key, op.value]));
      return threads;
    };
    const a = perThread(await historyOf(plain));
    const b = perThread(await historyOf(retried));
    for (let thread = 0; thread < 3; thread++) {
      const shorter = Math.min(a[thread].length, b[thread].length);
      expect(shorter).toBeGreaterThan(2);
      expect(b[thread].slice(0, shorter)).toEqual(a[thread].slice(0, shorter));
    }
  });
});

describe('retryDelayMs', () => {
  it('doubles from backoff-ms per retry up to max-backoff-ms, with the jitter fraction drawn from the random', () => {
    const fixed = { attempts: 9, backoffMs: 100, maxBackoffMs: 500, jitter: 0, reconnect: false };
    expect([2, 3, 4, 5, 6].map((attempt) => retryDelayMs(fixed, attempt, createRandom(1)))).toEqual([100, 200, 400, 500, 500]);
    const random = createRandom(7);
    for (let draw = 0; draw < 200; draw++) {
      const delay = retryDelayMs({ ...fixed, jitter: 0.5 }, 3, random);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThan(200);
    }
  });
});
