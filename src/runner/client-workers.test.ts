// Proves a run whose client worker died is not judged valid: an in-memory register (correct, so every check
// passes) whose client on one node crashes the harness's completion handling; the verdict must be unknown,
// exit 3, with the dead worker named in results.json and report.html. The same run without the crash is valid.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Op } from '../history/types.js';
import type { Target } from '../target.js';
import { loadSpec } from '../spec/index.js';
import { runTest } from './index.js';

const storeRoot = mkdtempSync(join(tmpdir(), 'faultline-client-workers-test-'));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const quietOutput = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

/**
 * A correct in-memory register; with `crashOn`, that node's client returns a completion that throws when read;
 * with `unreachable`, opening a client for that node always fails (as for a node that never comes up).
 */
function memoryTarget(crashOn?: string, unreachable?: string): Target {
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
  const clientFor = (node?: Node): Client => ({
    open: async (_test, opened) => {
      if (opened.name === unreachable) throw new Error(`connection refused by ${opened.name}`);
      return clientFor(opened);
    },
    close: async () => {},
    async invoke(_test, op) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      // A completion whose fields cannot be read: the harness, not the store, fails on it. Final reads are spared.
      if (node && node.name === crashOn && op.final !== true) {
        return { get type(): Op['type'] { throw new Error('malformed completion from the client'); } } as unknown as Op;
      }
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
  });
  return { name: 'memory', workloads: ['register', 'set'], db: () => db, client: () => clientFor() };
}

function memoryBackend(): Backend {
  return {
    name: 'local',
    runId: 'unit-client-workers',
    provision: async (count: number) => Array.from({ length: count }, (_, index) => ({ name: `n${index + 1}`, host: '127.0.0.1', dir: '/nonexistent', clockFile: '/nonexistent/clock' })),
    exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    startDaemon: async () => 1,
    upload: async () => {},
    download: async () => {},
    writeFile: async () => {},
    teardown: async () => {},
  };
}

function spec(name: string) {
  return loadSpec({ flags: { name, timeLimit: '1', rate: '200', concurrency: '3', nodes: '3', nemesis: 'none', recovery: '0', seed: '3', store: storeRoot } });
}

describe('a run whose client worker died', () => {
  it('is unknown (exit 3), naming the worker in results.json and report.html', async () => {
    const outcome = await runTest(spec('worker-died'), { target: memoryTarget('n2'), backend: memoryBackend(), output: quietOutput });
    // Every check of the history itself passes: only the dead worker makes it unknown.
    expect(outcome.results.checkers.linearizable.valid).toBe(true);
    expect(outcome.results.checkers.stats.valid).toBe(true);
    expect(outcome.results.valid).toBe('unknown');
    expect(outcome.exitCode).toBe(3);
    const dead = outcome.results.checkers['client-workers'] as { valid: unknown; reason: string };
    expect(dead.valid).toBe('unknown');
    expect(dead.reason).toMatch(/1 client worker died before the run ended \(thread 1 on n2: malformed completion from the client\)/);
    const report = readFileSync(join(outcome.runDir, 'report.html'), 'utf8');
    expect(report).toContain('data-verdict="unknown"');
    expect(report).toContain('1 client worker died before the run ended');
  });

  it('whose client never opened is unknown too, and the run still ends at its time limit', async () => {
    const outcome = await runTest(spec('never-opened'), { target: memoryTarget(undefined, 'n3'), backend: memoryBackend(), output: quietOutput });
    expect(outcome.results.valid).toBe('unknown');
    expect(outcome.exitCode).toBe(3);
    const dead = outcome.results.checkers['client-workers'] as { valid: unknown; reason: string };
    expect(dead.reason).toMatch(/thread 2 on n3: client for n3 never opened \(connection refused by n3\)/);
  });

  it('the same run without the crash is valid (exit 0) and has no client-workers entry', async () => {
    const outcome = await runTest(spec('worker-lived'), { target: memoryTarget(), backend: memoryBackend(), output: quietOutput });
    expect(outcome.results.valid).toBe(true);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.results.checkers['client-workers']).toBeUndefined();
    expect(existsSync(join(outcome.runDir, 'report.html'))).toBe(true);
  });
});
