// Proves `faultline run` does not call a run valid when the cluster was down for the whole client phase: a real
// 3-node raftkv on the local backend, every node SIGKILLed at 0 s by a nemesis timeline and restarted only by the
// final heal; the history is trivially linearizable, yet no write ever succeeded, so the verdict is unknown (exit 3).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-cluster-down-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

describe('faultline run against a cluster that is down the whole run', () => {
  it('is unknown (exit 3), says no write succeeded, and leaves nothing behind', async () => {
    const spec = join(store, 'down.yaml');
    writeFileSync(spec, 'nemesis: [kill]\nnemesis-timeline:\n  - {at: 0, fault: kill, action: start, value: {targets: all}}\n');
    // One client at 0.5 ops/s. Seed 38 makes its first op a read at 0 s (it may beat the kill: a read proves
    // nothing about writes) and its writes come after 3 s, long after every node is dead.
    const run = await faultline([
      'run', spec, '--name', 'e2e-cluster-down', '--target', 'raftkv', '--nodes', '3', '--workload', 'register', '--keys', '1',
      '--time-limit', '4', '--concurrency', '1', '--rate', '0.5', '--recovery', '1', '--seed', '38', '--store', store,
    ], 240_000);
    try {
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      const killed = history.find((op) => op.process === 'nemesis' && op.f === 'kill' && op.type !== 'invoke');
      const writes = history.filter((op) => op.process !== 'nemesis' && op.f === 'write' && op.type === 'invoke');
      // The premise: every node was dead before the first write was sent (else the seed no longer fits the schedule).
      expect(killed, describeRun(run)).toBeDefined();
      expect(writes.length, describeRun(run)).toBeGreaterThan(0);
      for (const write of writes) expect(write.time, JSON.stringify(history)).toBeGreaterThan(killed!.time);
      // The final heal restarted the cluster: the final read answered, so the set of checks had a read to judge.
      expect(history.some((op) => op.final === true && op.type === 'ok'), JSON.stringify(history)).toBe(true);

      expect(run.results?.checkers.linearizable?.valid, describeRun(run)).toBe(true);
      expect(run.results?.checkers.stats?.valid, describeRun(run)).toBe('unknown');
      expect(String(run.results?.checkers.stats?.reason)).toMatch(/no write ever succeeded \(0 ok of \d+: \d+ fail, \d+ info\)/);
      expect(run.results?.valid, describeRun(run)).toBe('unknown');
      expect(run.exitCode, describeRun(run)).toBe(3);
      expect(run.stdout).toMatch(/^faultline: why: stats: no write ever succeeded/m);
      expect(run.stdout).toMatch(/^faultline: verdict: unknown \(exit 3\)$/m);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);
});
