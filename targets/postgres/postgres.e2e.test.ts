// Proves the postgres target end to end: Debian's PostgreSQL started on a local-backend node as the postgres user,
// list-append and rw-register at each isolation level, checked as README.md states (each level is valid under its
// own consistency model; anything a serializable check reports is an anomaly that level permits; serializable is
// valid), serializable stays valid under kills, pauses and clock skew, and bad options are one clear line.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { checkTransactions, prohibitedAnomalies, type ConsistencyModel } from '../../checkers/txn/index.js';
import { buildOnce, describeRun, faultline, leftoversOf, readJsonl, type CliRun } from '../../src/runner/e2e-support.js';
import { describeWhen } from '../../src/testing/requirements.js';

const postgresInstalled = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((version) => existsSync(`/usr/lib/postgresql/${version}/bin/postgres`));
const describeIfReady = describeWhen('the postgres target e2e', {
  root: process.getuid?.() === 0,
  "Debian's PostgreSQL (apt-get install postgresql)": postgresInstalled,
});

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-postgres-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

/** Each level, the model PostgreSQL documents for it (repeatable read is snapshot isolation there). */
const levels: Array<{ isolation: string; model: ConsistencyModel }> = [
  { isolation: 'read-committed', model: 'read-committed' },
  { isolation: 'repeatable-read', model: 'snapshot-isolation' },
  { isolation: 'serializable', model: 'serializable' },
];

/** Few keys and many clients: contention, so the anomalies a level permits have a chance to show. */
function contendedRun(name: string, workload: string, isolation: string, extra: string[] = []): Promise<CliRun> {
  return faultline([
    'run', '--name', name, '--target', 'postgres', '--nodes', '1', '--workload', workload, '--keys', '3', '--ops-per-key', '200',
    '--target-options', `isolation=${isolation}`, '--consistency', 'serializable', '--concurrency', '10', '--rate', '400',
    '--time-limit', '12', '--recovery', '1', '--seed', '1', '--store', store, ...extra,
  ], 240_000);
}

interface Elle { valid: unknown; anomalyTypes: string[]; prohibited: string[]; anomalyCounts: Record<string, number>; txnCount: { ok: number; fail: number; info: number } }

describeIfReady('the postgres target', () => {
  for (const workload of ['list-append', 'rw-register'] as const) {
    for (const { isolation, model } of levels) {
      it(`${workload} at ${isolation}: valid as ${model}; a serializable check finds only what ${isolation} permits`, async () => {
        const run = await contendedRun(`e2e-pg-${workload}-${isolation}`, workload, isolation);
        try {
          const elle = run.results?.checkers.elle as Elle | undefined;
          expect(elle, describeRun(run)).toBeDefined();
          expect(run.results!.errors, describeRun(run)).toEqual([]);
          expect(elle!.txnCount.ok, JSON.stringify(elle!.txnCount)).toBeGreaterThan(100);
          const history = readJsonl(join(run.runDir!, 'history.jsonl'));
          const own = checkTransactions(history, { workload, consistency: model });
          expect(own.valid, JSON.stringify(own.anomalies).slice(0, 2000)).toBe(true);
          // Under the serializable check: what is forbidden there but permitted at this level, nothing else.
          const permittedHere = [...prohibitedAnomalies.serializable].filter((type) => !prohibitedAnomalies[model].has(type));
          for (const type of elle!.prohibited) expect(permittedHere, `${type} at ${isolation}`).toContain(type);
          expect(run.exitCode, describeRun(run)).toBe(elle!.prohibited.length === 0 ? 0 : 1);
          if (isolation === 'serializable') expect(elle!.valid, JSON.stringify(elle)).toBe(true);
          process.stdout.write(`postgres ${workload} ${isolation}: serializable check ${String(elle!.valid)}, anomalies ${JSON.stringify(elle!.anomalyCounts)}, txns ${JSON.stringify(elle!.txnCount)}\n`);
        } finally {
          if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
        }
      }, 300_000);
    }
  }

  it('serializable list-append stays valid under kills, pauses and clock skew of the server', async () => {
    const run = await contendedRun('e2e-pg-faults', 'list-append', 'serializable', [
      '--nemesis', 'kill,pause,clock', '--nemesis-interval', '2', '--nemesis-schedule', 'periodic', '--client-timeout', '8', '--recovery', '3',
    ]);
    try {
      const elle = run.results?.checkers.elle as Elle | undefined;
      expect(elle?.valid, `${describeRun(run)} ${JSON.stringify(elle)}`).toBe(true);
      expect(run.exitCode, describeRun(run)).toBe(0);
      const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
      const started = new Set(nemesisOps.filter((op) => op.action === 'start').map((op) => op.fault));
      expect(started, JSON.stringify(nemesisOps)).toEqual(new Set(['kill', 'pause', 'clock']));
      expect(nemesisOps.filter((op) => op.type === 'fail'), JSON.stringify(nemesisOps)).toEqual([]);
      expect(elle!.txnCount.ok).toBeGreaterThan(50);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);

  it('refuses an unknown isolation level and more than one node with one line each', async () => {
    const badLevel = await faultline(['run', '--target', 'postgres', '--nodes', '1', '--workload', 'list-append', '--target-options', 'isolation=snapshot', '--nemesis', 'none', '--time-limit', '2', '--store', store], 120_000);
    expect(badLevel.exitCode).toBe(2);
    expect(badLevel.stderr.trim()).toBe('faultline: target-options: isolation: expected one of read-committed, repeatable-read, serializable, got "snapshot"');
    if (badLevel.runId) expect(await leftoversOf(badLevel.runId)).toEqual([]);
    const threeNodes = await faultline(['run', '--target', 'postgres', '--nodes', '3', '--workload', 'rw-register', '--nemesis', 'none', '--time-limit', '2', '--store', store], 180_000);
    expect(threeNodes.exitCode).toBe(2);
    expect(threeNodes.stdout).toMatch(/the postgres target is a single server: run it with --nodes 1 \(got 3 nodes\)/);
    if (threeNodes.runId) expect(await leftoversOf(threeNodes.runId)).toEqual([]);
  }, 400_000);
});
