// Proves the availability checker on a real outage: a 3-node raftkv on the local backend loses a majority to
// SIGKILL from 3 s to 6 s (spec nemesis-timeline); the checker must report an unavailability window overlapping
// the fault and a finite recovery after the heal, and the same run with max-unavailable-s below the outage is
// invalid (exit 1) with the threshold named in results.json and on stdout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf } from '../../src/runner/e2e-support.js';
import type { AvailabilityResult } from './index.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-availability-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

function specFile(name: string, extra: string[]): string {
  const path = join(store, `${name}.yaml`);
  writeFileSync(path, [
    `name: ${name}`,
    'target: raftkv',
    'nodes: 3',
    'workload: register',
    'time-limit: 12',
    'concurrency: 6',
    'rate: 60',
    'recovery: 2',
    'client-timeout: 1',
    'seed: 5',
    `store: ${store}`,
    'nemesis: [kill]',
    'nemesis-timeline:',
    '  - {at: 3, fault: kill, action: start, value: {targets: majority}}',
    '  - {at: 6, fault: kill, action: stop}',
    ...extra,
  ].join('\n'));
  return path;
}

describe('availability of raftkv under a killed majority', () => {
  it('reports the outage during the kill and a finite recovery after the restart', async () => {
    const run = await faultline(['run', specFile('e2e-availability', [])], 240_000);
    try {
      expect(run.results?.valid, describeRun(run)).toBe(true);
      const availability = run.results!.checkers.availability as unknown as AvailabilityResult;
      expect(availability, describeRun(run)).toBeDefined();
      expect(availability.valid).toBe(true);
      // Majority down from ~3 s to the restart at ~6 s: no write or read can commit in between.
      const overlapping = availability.windows.filter((window) => window.startS < 6 && window.endS > 3.5);
      expect(overlapping.length, JSON.stringify(availability.windows)).toBeGreaterThanOrEqual(1);
      expect(availability.faults.map((fault) => fault.fault)).toEqual(['kill']);
      const heal = availability.recoveries.find((recovery) => recovery.healS >= 6);
      expect(heal, JSON.stringify(availability.recoveries)).toBeDefined();
      expect(heal!.recoveryS).not.toBeNull();
      expect(Number.isFinite(heal!.recoveryS)).toBe(true);
      expect(availability.phases.before!.goodput).toBeGreaterThan(0);
      expect(availability.phases.after!.ok).toBeGreaterThan(0);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);

  it('is invalid (exit 1) when max-unavailable-s is below the outage, naming the threshold', async () => {
    const run = await faultline(['run', specFile('e2e-availability-breach', ['availability: {max-unavailable-s: 1}'])], 240_000);
    try {
      expect(run.exitCode, describeRun(run)).toBe(1);
      expect(run.results?.valid).toBe(false);
      const availability = run.results!.checkers.availability as unknown as AvailabilityResult;
      expect(availability.valid).toBe(false);
      expect(availability.reason).toMatch(/^unavailable from [\d.]+ s for [\d.]+ s > max-unavailable-s 1/);
      // The store itself stayed correct: only the threshold fails the run.
      expect(run.results!.checkers.linearizable?.valid ?? true).toBe(true);
      expect(run.stdout).toMatch(/^faultline: why: availability: unavailable from [\d.]+ s for [\d.]+ s > max-unavailable-s 1$/m);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 300_000);
});
