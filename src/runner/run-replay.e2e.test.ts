// Proves `--seed` replays a run against a real 3-node raftkv (local backend, real partitions and pauses, two at
// once, periodic): two runs with the same seed invoke the same (f, key, value) sequence on every client thread and the same
// fault ops in the same order, though their timing, and so their process ids after an info, differ.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Op } from '../history/types.js';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-replay-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

const concurrency = 5;

/** What a run invoked: per client thread (process modulo concurrency), and the nemesis's ops, main phase only. */
function invocations(history: readonly Op[]): { threads: string[][]; nemesis: string[]; mostFaultsAtOnce: number } {
  const threads: string[][] = Array.from({ length: concurrency }, () => []);
  const nemesis: string[] = [];
  const active = new Set<unknown>();
  let mostFaultsAtOnce = 0;
  for (const op of history) {
    if (op.type !== 'invoke' || op.final === true) continue;
    if (op.process === 'nemesis') {
      nemesis.push(`${op.f} ${JSON.stringify(op.value)}`);
      if (op.action === 'start') active.add(op.fault);
      else active.delete(op.fault);
      mostFaultsAtOnce = Math.max(mostFaultsAtOnce, active.size);
    } else threads[(op.process as number) % concurrency].push(`${op.f} ${String(op.key)} ${JSON.stringify(op.value)}`);
  }
  return { threads, nemesis, mostFaultsAtOnce };
}

/** The README's "same": one sequence is a prefix of the other (timing decides only how far each run got). */
function expectPrefixes(first: readonly string[], second: readonly string[], atLeast: number, what: string): void {
  const common = Math.min(first.length, second.length);
  expect(common, `${what}: too few ops in common to compare`).toBeGreaterThanOrEqual(atLeast);
  expect(first.slice(0, common), what).toEqual(second.slice(0, common));
}

describe('--seed replays against real raftkv', () => {
  it('two runs with one seed invoke the same ops per client thread and the same faults', async () => {
    const runs = [];
    for (const name of ['e2e-replay-a', 'e2e-replay-b']) {
      const run = await faultline([
        'run', '--name', name, '--nodes', '3', '--workload', 'register', '--keys', '3', '--nemesis', 'partition,pause',
        '--nemesis-schedule', 'periodic', '--nemesis-interval', '2', '--nemesis-concurrent-faults', '2', '--time-limit', '10',
        '--concurrency', String(concurrency), '--rate', '60', '--recovery', '1', '--client-timeout', '1', '--seed', '77', '--store', store,
      ], 240_000);
      try {
        expect(run.runDir, describeRun(run)).toBeDefined();
        expect(run.exitCode, describeRun(run)).not.toBe(2);
      } finally {
        if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
      }
      runs.push(invocations(readJsonl(join(run.runDir!, 'history.jsonl'))));
    }
    const [first, second] = runs;
    for (let thread = 0; thread < concurrency; thread++) expectPrefixes(first.threads[thread], second.threads[thread], 30, `thread ${thread}`);
    expectPrefixes(first.nemesis, second.nemesis, 4, 'nemesis');
    // The schedule composed faults: a partition and a pause were in force together.
    expect(first.mostFaultsAtOnce).toBe(2);
    expect(second.mostFaultsAtOnce).toBe(2);
  }, 600_000);
});
