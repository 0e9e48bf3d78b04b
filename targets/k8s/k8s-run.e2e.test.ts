// Proves `faultline run --target k8s` on the local backend end to end: a 3-node control plane (etcd 3.6 and
// kube-apiserver per node) is linearizable for the consistent-read ConfigMap register under partitions and kills;
// with watch-cache reads and apiservers cut off from etcd (--nemesis apiserver-etcd), the run completes, its stale
// reads are found, and results.json labels them (the stale-reads entry).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from '../../src/runner/e2e-support.js';
import { missingK8sBinaries } from './binaries.js';
import { staleCacheReads } from './staleness.js';
import { describeWhen } from '../../src/testing/requirements.js';

const isRoot = process.getuid?.() === 0;
const missing = missingK8sBinaries();
// CI builds the binaries in its set-up (scripts/build-k8s.sh): there a missing build is a failure, not a skip.
const runIt = describeWhen('the k8s run e2e', { root: isRoot, [`the k8s binaries (${missing.join(', ') || 'all present'}; scripts/build-k8s.sh)`]: missing.length === 0 });

const store = mkdtempSync(join(tmpdir(), 'flI-k8s-run-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

runIt('faultline run --target k8s --backend local', () => {
  beforeAll(buildOnce, 300_000);

  it('has its binaries built (scripts/build-k8s.sh)', () => {
    expect(missing).toEqual([]);
  });

  it('is linearizable with consistent reads under partitions and kills of whole control-plane nodes', async () => {
    // A timeline, so both faults surely happen in a short run: halves partitioned, then a minority killed.
    const spec = join(store, 'k8s-register.yaml');
    writeFileSync(spec, [
      'name: k8s-register', 'target: k8s', 'backend: local', 'nodes: 3', 'time-limit: 18', 'nemesis: [partition, kill]',
      'nemesis-schedule: timeline', 'nemesis-timeline:',
      '  - {at: 2, fault: partition, action: start, value: {mode: halves, seed: 3}}',
      '  - {at: 7, fault: partition, action: stop}',
      '  - {at: 9, fault: kill, action: start, value: {targets: minority, seed: 4}}',
      '  - {at: 14, fault: kill, action: stop}',
      'concurrency: 6', 'rate: 30', 'recovery: 5', 'client-timeout: 10', 'seed: 12',
      'target-options: {operationTimeoutMs: 2000}', `store: ${store}`, '',
    ].join('\n'));
    const started = Date.now();
    const run = await faultline(['run', spec], 540_000);
    process.stdout.write(`k8s register run took ${Math.round((Date.now() - started) / 1000)} s: ${describeRun(run)}\n`);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      expect(run.exitCode, describeRun(run)).toBe(0);
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      const completions = history.filter((op) => op.process !== 'nemesis' && op.type !== 'invoke');
      expect(completions.filter((op) => op.type === 'ok' && op.f === 'cas').length).toBeGreaterThan(5);
      const done = (f: string) => history.some((op) => op.process === 'nemesis' && op.f === f && op.type !== 'invoke' && !op.error);
      expect(done('start-partition') && done('kill') && done('restart'), JSON.stringify(history.filter((op) => op.process === 'nemesis'))).toBe(true);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 600_000);

  it('runs with watch-cache reads while apiservers are cut off from etcd, and labels the stale reads it finds', async () => {
    const spec = join(store, 'k8s-cache.yaml');
    // A minority's apiservers cut off from etcd for 8 s; short client timeouts so the cut nodes' clients keep reading.
    writeFileSync(spec, [
      'name: k8s-cache-reads', 'target: k8s', 'backend: local', 'nodes: 3', 'time-limit: 16', 'nemesis: [apiserver-etcd]',
      'nemesis-schedule: timeline', 'nemesis-timeline:',
      '  - {at: 3, fault: apiserver-etcd, action: start, value: {targets: minority, seed: 1}}',
      '  - {at: 11, fault: apiserver-etcd, action: stop}',
      'concurrency: 9', 'rate: 30', 'recovery: 5', 'client-timeout: 10', 'seed: 5',
      'target-options: {cache-reads: true, operationTimeoutMs: 1000}', `store: ${store}`, '',
    ].join('\n'));
    const run = await faultline(['run', spec], 540_000);
    try {
      // The verdict is the finding: stale cache reads make the register non-linearizable (exit 1).
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      expect([0, 1], describeRun(run)).toContain(run.exitCode);
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      const report = staleCacheReads(history);
      expect(report.cacheReads).toBeGreaterThan(10);
      expect(history.filter((op) => op.f === 'read' && op.type === 'ok').every((op) => op.readFrom === 'watch-cache')).toBe(true);
      const cuts = history.filter((op) => op.process === 'nemesis' && op.f === 'cut-apiserver-etcd' && op.type !== 'invoke' && !op.error);
      expect(cuts.length).toBeGreaterThan(0);
      const heals = history.filter((op) => op.process === 'nemesis' && op.f === 'heal-apiserver-etcd' && op.type !== 'invoke');
      expect(heals.length).toBeGreaterThan(0);
      expect(heals.every((op) => !op.error)).toBe(true);
      // results.json carries the labels: the same counts as the labeller over the stored history, with examples.
      const labels = run.results?.checkers['stale-reads'] as unknown as { valid: unknown; cacheReads: number; staleReads: number; examples: Array<{ index: number }> };
      expect(labels.valid).toBe(true);
      expect(labels.cacheReads).toBe(report.cacheReads);
      expect(labels.staleReads).toBe(report.staleReads.length);
      expect(labels.examples[0]?.index).toBe(report.staleReads[0]?.index);
      process.stdout.write(`k8s cache-read run: verdict ${String(run.results?.valid)}, ${report.cacheReads} cache reads, ${report.staleReads.length} stale: ${JSON.stringify(report.staleReads.slice(0, 3))}\n`);
      // An apiserver cut off from etcd serves its frozen cache: stale reads, which the register checker rejects.
      expect(report.staleReads.length).toBeGreaterThan(0);
      expect(run.results?.valid, describeRun(run)).toBe(false);
      expect(run.exitCode, describeRun(run)).toBe(1);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 600_000);

  it('holds Lease locks one client at a time with growing fencing tokens under partitions and kills', async () => {
    const spec = join(store, 'k8s-lock.yaml');
    writeFileSync(spec, [
      'name: k8s-lock', 'target: k8s', 'backend: local', 'nodes: 3', 'workload: lock', 'time-limit: 18', 'nemesis: [partition, kill]',
      'nemesis-schedule: timeline', 'nemesis-timeline:',
      '  - {at: 3, fault: partition, action: start, value: {mode: one, seed: 2}}',
      '  - {at: 8, fault: partition, action: stop}',
      '  - {at: 10, fault: kill, action: start, value: {targets: one, seed: 6}}',
      '  - {at: 14, fault: kill, action: stop}',
      'concurrency: 6', 'rate: 20', 'recovery: 4', 'seed: 7', `store: ${store}`, '',
    ].join('\n'));
    const run = await faultline(['run', spec], 540_000);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      const lock = run.results?.checkers.lock as unknown as { holdings: number; overlapCount: number; tokenViolationCount: number; staleWriteCount: number };
      process.stdout.write(`k8s lock run: ${JSON.stringify(lock).slice(0, 400)}\n`);
      expect(lock.holdings).toBeGreaterThan(3);
      expect(lock.overlapCount + lock.tokenViolationCount + lock.staleWriteCount).toBe(0);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 600_000);
});
