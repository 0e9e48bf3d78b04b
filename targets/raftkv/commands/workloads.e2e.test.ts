// Proves the counter, bank, queue and lock workloads end to end on a real 3-node raftkv (local backend: network
// namespaces, iptables partitions, SIGKILL): each judged valid under partitions and kills, and the
// lock-wall-clock bug caught by forward clock jumps (two holders at once, shown with their ops).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from '../../../src/runner/e2e-support.js';
import { describeWhen } from '../../../src/testing/requirements.js';

const isRoot = process.getuid?.() === 0;
// CI runs as root: there a missing piece is a failure, not a skip.
const runIt = describeWhen('the raftkv workloads e2e', { root: isRoot });

const store = mkdtempSync(join(tmpdir(), 'fl-raftkv-workloads-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

runIt('counter, bank, queue and lock workloads on raftkv', () => {
  beforeAll(buildOnce, 300_000);

  it.each(['counter', 'bank', 'queue', 'lock'])('%s is valid under partitions and kills', async (workload) => {
    const run = await faultline([
      'run', '--name', `raftkv-${workload}-e2e`, '--target', 'raftkv', '--workload', workload, '--nodes', '3', '--time-limit', '12',
      '--nemesis', 'partition,kill', '--nemesis-interval', '2', '--concurrency', '4', '--rate', '40', '--recovery', '2', '--seed', '5', '--store', store,
    ], 300_000);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      expect(run.exitCode, describeRun(run)).toBe(0);
      // The run did real work under real faults: the workload's checker judged successful ops, and faults ran.
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      expect(history.filter((op) => op.process !== 'nemesis' && op.type === 'ok').length).toBeGreaterThan(20);
      // Seed 5's schedule holds both faults (the schedule depends on the seed only, not on the workload).
      for (const fault of ['kill', 'start-partition']) expect(history.some((op) => op.process === 'nemesis' && op.f === fault), fault).toBe(true);
      expect(Object.keys(run.results!.checkers)).toContain(workload);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 400_000);

  it('catches the lock-wall-clock bug when the clocks jump forward', async () => {
    const spec = join(store, 'lock-wall-clock.yaml');
    // Each jump makes every lease stamped before it look run out, so the next acquire takes a held lock over.
    const jumps = [2, 4, 6, 8].map((at) => `  - {at: ${at}, fault: clock, action: start, value: {targets: all, deltaMs: 5000}}`).join('\n');
    writeFileSync(spec, `target: raftkv\nworkload: lock\nbug: lock-wall-clock\nnodes: 3\nnemesis: [clock]\nnemesis-schedule: timeline\nnemesis-timeline:\n${jumps}\ntime-limit: 10\nconcurrency: 6\nrate: 60\nrecovery: 2\n`);
    const run = await faultline(['run', spec, '--name', 'raftkv-lock-bug-e2e', '--seed', '5', '--store', store], 300_000);
    try {
      expect(run.results?.valid, describeRun(run)).toBe(false);
      expect(run.exitCode, describeRun(run)).toBe(1);
      const lock = run.results!.checkers.lock as { valid: boolean; overlapCount: number; overlaps: Array<{ first: { process: number; acquireIndex: number }; second: { process: number; acquireIndex: number } }> };
      expect(lock.valid).toBe(false);
      expect(lock.overlapCount).toBeGreaterThan(0);
      // The evidence names the two ok acquires, of two different processes, that held the lock at once.
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      const [overlap] = lock.overlaps;
      for (const holder of [overlap.first, overlap.second]) expect(history[holder.acquireIndex]).toMatchObject({ f: 'acquire', type: 'ok', process: holder.process });
      expect(overlap.first.process).not.toBe(overlap.second.process);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 400_000);
});

