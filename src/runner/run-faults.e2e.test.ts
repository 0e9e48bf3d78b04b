// Proves `faultline run` judges the correct raftkv valid under each fault type, by running the built CLI
// against a real 5-node raftkv cluster on the local backend (real namespaces, iptables, signals, libfaketime),
// and that every run leaves nothing behind on the host.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-faults-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

const faults = ['partition', 'kill', 'pause', 'clock', 'disk', 'packet'] as const;

describe('faultline run: the correct raftkv under each fault', () => {
  for (const fault of faults) {
    it(`is valid under ${fault}`, async () => {
      const workload = fault === 'kill' || fault === 'disk' ? 'set' : 'register';
      const run = await faultline([
        'run', '--name', `e2e-${fault}`, '--nodes', '5', '--workload', workload, '--nemesis', fault,
        '--nemesis-interval', '3', '--nemesis-schedule', 'periodic', '--time-limit', '15', '--concurrency', '10',
        '--rate', '100', '--recovery', '5', '--seed', '1', '--store', store,
      ], 240_000);
      try {
        expect(run.results?.valid, describeRun(run)).toBe(true);
        expect(run.exitCode, describeRun(run)).toBe(0);
        expect(run.stdout).toMatch(/seed 1 \(replay with --seed 1\)/);
        expect(run.stdout).toMatch(/verdict: valid/);
        // The fault really happened: at least two starts and a heal, none refused.
        const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
        expect(nemesisOps.filter((op) => op.action === 'start').length, JSON.stringify(nemesisOps)).toBeGreaterThanOrEqual(2);
        expect(nemesisOps.filter((op) => op.type === 'fail'), JSON.stringify(nemesisOps)).toEqual([]);
        expect(run.results!.stats.ok).toBeGreaterThan(100);
      } finally {
        if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
      }
    }, 300_000);
  }
});
