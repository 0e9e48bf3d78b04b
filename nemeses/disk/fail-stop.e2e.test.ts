// Proves a disk fault that takes a node out is judged as such: `faultline run` flips bits mid-WAL of a killed
// raftkv node, the node refuses to start (one fatal log line naming file and offset), the run records it as
// the disk fault's doing, and the history of the two nodes left is checked valid.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isRoot } from '../../src/backends/local.js';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from '../../src/runner/e2e-support.js';
import { hasCommand } from '../../src/testing/host.js';
import { describeWhen } from '../../src/testing/requirements.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-disk-fail-stop-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

interface CorruptionValue {
  takenOut?: string[];
  files: Array<{ node: string; file: string; flips?: Array<{ offset: number }>; restart?: string; restartError?: string; note?: string }>;
}

describeWhen('the disk fail-stop e2e', { root: isRoot(), iptables: hasCommand('iptables') })('corrupt-file mid-WAL on raftkv', () => {
  beforeAll(buildOnce, 300_000);

  it('the node refuses to start, the run says the disk fault took it out, and the rest is judged valid', async () => {
    const specFile = join(store, 'spec.yaml');
    writeFileSync(
      specFile,
      [
        'name: e2e-disk-fail-stop',
        'target: raftkv',
        'nodes: 3',
        'workload: register',
        'nemesis: [disk]',
        'nemesis-timeline:',
        // After 5 s of writes the WAL holds many records: 8 flipped bits land before its last one.
        '  - {at: 5, fault: disk, action: start, f: corrupt-file, value: {targets: one, mode: bitflip, file: wal.log, seed: 11}}',
        '  - {at: 8, fault: disk, action: stop}',
        'time-limit: 12',
        'concurrency: 6',
        'rate: 60',
        'recovery: 3',
        'seed: 5',
        `store: ${store}`,
      ].join('\n'),
    );
    const run = await faultline(['run', specFile], 240_000);
    try {
      expect(run.results, describeRun(run)).toBeDefined();
      const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
      const corruption = nemesisOps.find((op) => op.f === 'corrupt-file' && op.type !== 'invoke');
      expect(corruption?.type, JSON.stringify(nemesisOps)).toBe('info');
      const value = corruption!.value as CorruptionValue;
      const [record] = value.files;
      expect(record.file).toMatch(/\/wal\.log$/);
      expect(record.restart, JSON.stringify(record)).toBe('refused');
      expect(value.takenOut).toEqual([record.node]);

      // The node's own log says why, naming the file and where the damage starts (at or before the first flip).
      const nodeLog = readFileSync(join(run.runDir!, 'nodes', record.node, 'raftkv.log'), 'utf8');
      const fatal = /fatal: refusing to start: (\S+): corrupt at byte (\d+) .*mid-log corruption, not a torn tail/.exec(nodeLog);
      expect(fatal, nodeLog.slice(-2000)).not.toBeNull();
      expect(fatal![1]).toBe(record.file);
      expect(Number(fatal![2])).toBeLessThanOrEqual(Math.min(...record.flips!.map((flip) => flip.offset)));
      expect(nodeLog).not.toMatch(/torn WAL tail discarded/);

      // Judged as the disk fault's doing: in the run log, not an error of the run, and the history is valid.
      const runLog = readFileSync(join(run.runDir!, 'run.log'), 'utf8');
      expect(runLog).toContain(`faultline: disk: ${record.node} did not start again after corrupt-file`);
      expect(run.results!.errors, describeRun(run)).toEqual([]);
      expect(run.results!.warnings ?? [], describeRun(run)).toContainEqual(expect.stringMatching(new RegExp(`^${record.node} was taken out by the disk fault`)));
      expect(run.results!.valid, describeRun(run)).toBe(true);
      expect(run.exitCode, describeRun(run)).toBe(0);
      // The two nodes left kept serving after the corruption.
      const history = readJsonl(join(run.runDir!, 'history.jsonl'));
      expect(history.filter((op) => op.type === 'ok' && op.time > corruption!.time).length).toBeGreaterThan(20);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);
});
