// Proves each bundled scenario runs as `faultline run scenarios/NAME.yaml` against a real 3-node raftkv cluster on
// the local backend: the flap really toggles (every cut healed, even when the run is interrupted mid-flap), the
// majority removal takes quorum away and gives it back, and no run leaves a namespace, chain or process behind.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isRoot } from '../src/backends/local.js';
import type { Op } from '../src/history/types.js';
import { buildOnce, cliPath, describeRun, faultline, leftoversOf, readJsonl, type CliRun } from '../src/runner/e2e-support.js';
import { hasCommand } from '../src/testing/host.js';
import { describeWhen } from '../src/testing/requirements.js';
import { chainName } from '../nemeses/common.js';
import type { TestContext } from '../src/test-context.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-scenarios-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

/** Short runs: the scenarios' timelines put their faults in the first 9 s, so 12-13 s shows fault and recovery. */
const common = ['--nodes', '3', '--seed', '7', '--store', store, '--recovery', '1'];

/** Nothing of the run on the host, and no flap chain left in the host's own iptables either. */
async function expectNothingLeft(runId: string | undefined): Promise<void> {
  expect(runId, 'the run printed its run id').toBeTruthy();
  expect(await leftoversOf(runId!)).toEqual([]);
  const chain = chainName({ runId } as TestContext, 'FLAP');
  const host = await execa('iptables', ['-w', '5', '-S'], { reject: false, timeout: 20_000 });
  expect(host.stdout).not.toContain(chain);
}

/** What the availability checker (checkers/availability) reports, as far as these tests read it. */
interface AvailabilityReport {
  valid: boolean | 'unknown';
  windows: Array<{ startS: number; endS: number; durationS: number }>;
  recoveries: Array<{ fault: string; healS: number; recoveryS: number | null }>;
}

/** The run's availability result; every other checker must find the history consistent (faults cost only availability). */
function availabilityOf(run: CliRun): AvailabilityReport {
  const checkers = run.results!.checkers as Record<string, { valid: unknown }>;
  for (const [name, result] of Object.entries(checkers)) if (name !== 'availability') expect(result.valid, `${name}: ${describeRun(run)}`).toBe(true);
  expect(checkers.availability, describeRun(run)).toBeDefined();
  return checkers.availability as unknown as AvailabilityReport;
}

function historyOf(runDir: string): Op[] {
  return readJsonl(join(runDir, 'history.jsonl'));
}

describeWhen('the scenarios e2e', { root: isRoot(), iptables: hasCommand('iptables') })('bundled scenarios on raftkv', () => {
  beforeAll(buildOnce, 300_000);

  it('target-2019-flap: the network flaps (>= 3 cuts, each healed) and the report draws every cut', async () => {
    const run = await faultline(['run', 'scenarios/target-2019-flap.yaml', ...common, '--time-limit', '12'], 240_000);
    try {
      expect(run.results, describeRun(run)).toBeDefined();
      // Exit 1 is the scenario's availability thresholds failing, which a flapping network may well do.
      expect([0, 1], describeRun(run)).toContain(run.exitCode);
      const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
      const cuts = nemesisOps.filter((op) => op.f === 'start-flap-cut');
      const heals = nemesisOps.filter((op) => op.f === 'stop-flap-cut');
      expect(cuts.length, JSON.stringify(nemesisOps)).toBeGreaterThanOrEqual(3);
      expect(heals.length).toBe(cuts.length);
      // Cut, heal, cut, heal ...: never two cuts in a row, and the last toggle is a heal.
      const toggles = nemesisOps.filter((op) => op.f === 'start-flap-cut' || op.f === 'stop-flap-cut').map((op) => op.f);
      toggles.forEach((f, index) => expect(f).toBe(index % 2 === 0 ? 'start-flap-cut' : 'stop-flap-cut'));
      const stop = nemesisOps.find((op) => op.f === 'stop-flap');
      expect((stop?.value as { cuts?: number } | undefined)?.cuts).toBe(cuts.length);
      // The toggles are history ops too, and the report's fault timeline has a period for each cut.
      expect(historyOf(run.runDir!).filter((op) => op.f === 'start-flap-cut')).toHaveLength(cuts.length);
      const report = readFileSync(join(run.runDir!, 'report.html'), 'utf8');
      expect(report.match(/flap-cut [^<]*\d\.\d{3}s–\d+\.\d{3}s/g)?.length ?? 0).toBeGreaterThanOrEqual(cuts.length);
      expect(run.results!.stats.ok, describeRun(run)).toBeGreaterThan(50);
      // The availability checker measures a recovery after each heal of the flap, and the flap's own stop.
      const availability = availabilityOf(run);
      const flapHeals = availability.recoveries.filter((recovery) => recovery.fault === 'flap-cut');
      expect(flapHeals.length, JSON.stringify(availability.recoveries)).toBeGreaterThanOrEqual(2);
      expect(availability.recoveries.some((recovery) => recovery.fault === 'flap' && recovery.recoveryS !== null), JSON.stringify(availability.recoveries)).toBe(true);
    } finally {
      await expectNothingLeft(run.runId);
    }
  }, 300_000);

  it('s3-2017-majority-removal: a majority goes where one was meant, and the nodes come back one by one', async () => {
    const run = await faultline(['run', 'scenarios/s3-2017-majority-removal.yaml', ...common, '--time-limit', '13'], 240_000);
    try {
      expect(run.results, describeRun(run)).toBeDefined();
      // The scenario's max-unavailable-s (2 s) is meant to be broken by losing quorum: exit 1, availability invalid.
      expect(run.exitCode, describeRun(run)).toBe(1);
      const nemesisOps = readJsonl(join(run.runDir!, 'nemesis.jsonl'));
      const removal = nemesisOps.find((op) => op.f === 'remove-capacity');
      expect(removal?.type, JSON.stringify(nemesisOps)).toBe('info');
      expect(removal?.value).toMatchObject({ intended: 1, removed: 2, extra: 1 });
      const restarts = nemesisOps.filter((op) => op.f === 'capacity-restart');
      expect(restarts.map((op) => (op.value as { node: string }).node).sort()).toEqual([...(removal!.value as { nodes: string[] }).nodes].sort());
      // Staggered by the scenario's restart-delay-ms (2 s); 1.5 s leaves room for timer jitter, never for none.
      expect(restarts[1].time - restarts[0].time).toBeGreaterThan(1.5e9);
      const restore = nemesisOps.find((op) => op.f === 'restore-capacity');
      expect(restore?.error, JSON.stringify(restore)).toBeUndefined();
      // An outage inside the removal (quorum gone), longer than the 2 s threshold, and a finite recovery after the heal.
      const availability = availabilityOf(run);
      expect(availability.valid).toBe(false);
      const removedS = removal!.time / 1e9;
      const restoredS = restore!.time / 1e9;
      const outage = availability.windows.find((window) => window.startS < restoredS && window.endS > removedS);
      expect(outage, JSON.stringify(availability.windows)).toBeDefined();
      expect(outage!.durationS).toBeGreaterThan(2);
      const recovery = availability.recoveries.find((entry) => entry.fault === 'capacity');
      expect(recovery?.recoveryS, JSON.stringify(availability.recoveries)).not.toBeNull();
      expect(Number.isFinite(recovery!.recoveryS)).toBe(true);
    } finally {
      await expectNothingLeft(run.runId);
    }
  }, 300_000);

  it('a run interrupted mid-flap heals the cut it was in and leaves nothing (run from another directory)', async () => {
    // From another directory: the bundled scenario's path still resolves.
    const child = execa('node', [cliPath, 'run', 'scenarios/target-2019-flap.yaml', ...common, '--time-limit', '12'], {
      cwd: tmpdir(), reject: false, timeout: 180_000, env: { FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    // Bounded: 60 s of polling for the run directory and its first cut.
    let runDir: string | undefined;
    for (let attempt = 0; attempt < 600; attempt++) {
      runDir = /faultline: results in (.+)$/m.exec(output)?.[1]?.trim();
      if (runDir && readJsonl(join(runDir, 'history.jsonl')).some((op) => op.f === 'start-flap-cut')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cutSeen = runDir !== undefined && readJsonl(join(runDir, 'history.jsonl')).some((op) => op.f === 'start-flap-cut');
    child.kill('SIGINT');
    const finished = await child;
    const runId = /run id (\S+);/.exec(output)?.[1];
    try {
      expect(cutSeen, `no cut before the interrupt; output: ${output.slice(-800)}`).toBe(true);
      expect(finished.exitCode, finished.stderr).toBe(2);
      const toggles = historyOf(runDir!).filter((op) => op.f === 'start-flap-cut' || op.f === 'stop-flap-cut');
      expect(toggles.length).toBeGreaterThanOrEqual(2);
      expect(toggles[toggles.length - 1].f, JSON.stringify(toggles)).toBe('stop-flap-cut');
      expect(toggles.filter((op) => op.f === 'stop-flap-cut')).toHaveLength(toggles.filter((op) => op.f === 'start-flap-cut').length);
    } finally {
      await expectNothingLeft(runId);
    }
  }, 300_000);
});
