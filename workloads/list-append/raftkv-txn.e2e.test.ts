// Proves the transaction workloads end to end on raftkv: the correct store is judged strict serializable for
// list-append and rw-register under partitions, kills, pauses and clock skew, and the split-txn bug (a
// transaction's micro-ops proposed as separate Raft entries) is caught by the Elle-style checker with list-append.
// Real 3-node clusters on the local backend through the built CLI; every run must leave the host clean.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl } from '../../src/runner/e2e-support.js';
import { describeWhen } from '../../src/testing/requirements.js';

const describeIfRoot = describeWhen('the raftkv transaction e2e', { root: process.getuid?.() === 0 });

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-txn-raftkv-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

/** The Elle checker's part of results.json. */
function elleOf(results: { checkers: Record<string, Record<string, unknown>> } | undefined) {
  return results?.checkers.elle as { valid: unknown; consistency: string; anomalyTypes: string[]; prohibited: string[]; txnCount: { ok: number } } | undefined;
}

describeIfRoot('transaction workloads on raftkv', () => {
  for (const workload of ['list-append', 'rw-register']) {
    it(`the correct store is strict serializable for ${workload} under partitions, kills, pauses and clock skew`, async () => {
      const run = await faultline([
        'run', '--name', `e2e-${workload}`, '--nodes', '3', '--workload', workload, '--keys', '4', '--ops-per-key', '60',
        '--nemesis', 'partition,kill,pause,clock', '--nemesis-interval', '2', '--nemesis-schedule', 'periodic',
        '--time-limit', '15', '--concurrency', '10', '--rate', '200', '--recovery', '3', '--seed', '1', '--store', store,
      ], 240_000);
      try {
        const elle = elleOf(run.results);
        expect(elle?.valid, `${describeRun(run)} ${JSON.stringify(elle)}`).toBe(true);
        expect(elle?.consistency).toBe('strict-serializable');
        expect(run.exitCode, describeRun(run)).toBe(0);
        expect(elle!.txnCount.ok, JSON.stringify(elle)).toBeGreaterThan(200);
        // The faults really happened.
        const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
        expect(new Set(nemesisOps.filter((op) => op.action === 'start').map((op) => op.fault)).size, JSON.stringify(nemesisOps)).toBeGreaterThanOrEqual(3);
      } finally {
        if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
      }
    }, 300_000);
  }

  it('catches --bug split-txn with list-append (non-atomic, non-isolated transactions)', async () => {
    const run = await faultline([
      'run', '--name', 'e2e-split-txn', '--nodes', '3', '--workload', 'list-append', '--keys', '3', '--ops-per-key', '100',
      '--bug', 'split-txn', '--nemesis', 'none', '--time-limit', '10', '--concurrency', '10', '--rate', '300',
      '--recovery', '1', '--seed', '1', '--store', store,
    ], 240_000);
    try {
      const elle = elleOf(run.results);
      expect(elle?.valid, `${describeRun(run)} ${JSON.stringify(elle)}`).toBe(false);
      expect(run.exitCode, describeRun(run)).toBe(1);
      expect(run.stdout).toMatch(/verdict: INVALID/);
      // Interleaved parts show as dependency cycles or intermediate reads, which serializability forbids.
      expect(elle!.prohibited.filter((type) => /^(G0|G1[abc]|G-single|G2-item)/.test(type)), JSON.stringify(elle!.prohibited)).not.toEqual([]);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);
});
