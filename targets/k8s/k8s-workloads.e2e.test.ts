// Proves the k8s leader-election and watch workloads as `faultline run` choices on the local backend: a 3-node
// control plane under kills (election) and partitions (watch) is judged valid by their checkers in results.json,
// the histories hold the steps that verdict rests on, and nothing of the run is left behind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from '../../src/runner/e2e-support.js';
import { describeWhen } from '../../src/testing/requirements.js';
import { missingK8sBinaries } from './binaries.js';

const isRoot = process.getuid?.() === 0;
const missing = missingK8sBinaries();
const runIt = describeWhen('the k8s workloads e2e', { root: isRoot, [`the k8s binaries (${missing.join(', ') || 'all present'}; scripts/build-k8s.sh)`]: missing.length === 0 });

const store = mkdtempSync(join(tmpdir(), 'flI-k8s-workloads-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

function specFile(name: string, lines: string[]): string {
  const path = join(store, `${name}.yaml`);
  writeFileSync(path, [`name: ${name}`, 'target: k8s', 'backend: local', 'nodes: 3', ...lines, `store: ${store}`, ''].join('\n'));
  return path;
}

runIt('faultline run --target k8s: leader-election and watch workloads', () => {
  beforeAll(buildOnce, 300_000);

  it('leader election: the leader steps down when the control plane dies, and never two lead at once', async () => {
    // One candidate per node; every node (etcd and apiserver) killed at 3 s, so the leader cannot renew and must
    // step down within its renew deadline; back at 8 s (how soon a candidate leads again depends on how fast
    // the control plane returns on this machine, so that is logged, not asserted).
    const spec = specFile('k8s-election', [
      'workload: leader-election', 'time-limit: 14', 'nemesis: [kill]', 'nemesis-schedule: timeline', 'nemesis-timeline:',
      '  - {at: 3, fault: kill, action: start, value: {targets: all, seed: 2}}',
      '  - {at: 8, fault: kill, action: stop}',
      'concurrency: 3', 'rate: 20', 'recovery: 3', 'client-timeout: 10', 'seed: 4',
    ]);
    const run = await faultline(['run', spec], 300_000);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      const election = run.results?.checkers['leader-election'] as unknown as { valid: unknown; leaderships: number; overlapCount: number; steps: Record<string, number> };
      process.stdout.write(`k8s election run: ${JSON.stringify(election).slice(0, 600)}\n`);
      expect(election.valid, describeRun(run)).toBe(true);
      expect(election.leaderships).toBeGreaterThanOrEqual(1);
      expect(election.overlapCount).toBe(0);
      // The leader could not renew while every apiserver was down: it stepped down, as client-go's renew loop does.
      expect(election.steps.lost).toBeGreaterThanOrEqual(1);
      expect(election.steps.renewed).toBeGreaterThan(2);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      expect(run.exitCode).toBe(0);
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      const events = history.filter((op) => op.f === 'elect' && op.type === 'ok').map((op) => (op.value as { event: string }).event);
      expect(events).toContain('acquired');
      expect(events).toContain('standby');
      const done = (f: string) => history.some((op) => op.process === 'nemesis' && op.f === f && op.type !== 'invoke' && !op.error);
      expect(done('kill') && done('restart')).toBe(true);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 330_000);

  it('watch: every watcher ordered, gap-free and resumed from its last resourceVersion across a partition', async () => {
    const spec = specFile('k8s-watch', [
      'workload: watch', 'time-limit: 12', 'nemesis: [partition]', 'nemesis-schedule: timeline', 'nemesis-timeline:',
      '  - {at: 2, fault: partition, action: start, value: {mode: one, seed: 1}}',
      '  - {at: 7, fault: partition, action: stop}',
      'concurrency: 6', 'rate: 40', 'recovery: 3', 'client-timeout: 10', 'seed: 6',
      'target-options: {watch-span-ms: 2000, write-interval-ms: 150}',
    ]);
    const run = await faultline(['run', spec], 300_000);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      const watch = run.results?.checkers.watch as unknown as { valid: unknown; watchers: number; events: number; resumes: number; missed: number; outOfOrder: number; acknowledgedWrites: number };
      process.stdout.write(`k8s watch run: ${JSON.stringify({ ...watch, perWatcher: undefined }).slice(0, 600)}\n`);
      expect(watch.valid, describeRun(run)).toBe(true);
      expect(watch.watchers).toBe(3);
      expect(watch.acknowledgedWrites).toBeGreaterThan(20);
      expect(watch.events).toBeGreaterThan(20);
      expect(watch.resumes).toBeGreaterThan(3);
      expect(watch.missed + watch.outOfOrder).toBe(0);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      expect(history.some((op) => op.process === 'nemesis' && op.f === 'start-partition' && op.type !== 'invoke' && !op.error)).toBe(true);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 330_000);
});
