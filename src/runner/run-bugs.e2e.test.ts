// Proves `faultline run` catches each raftkv bug switch under the fault that exposes it: for each bug, a real
// 5-node cluster with that bug runs under that fault with seeds 1, 2, ... and at least one run within a bounded
// number of attempts must be judged invalid (exit 1). Every attempt must leave the host clean.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildOnce, describeRun, faultline, leftoversOf, type CliRun } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-bugs-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

/** Attempts per bug; each is a ~30 s run, so a bug costs at most a few minutes. */
const attemptsMax = 4;

/** A repeating fixed timeline: `events` (seconds within a cycle) every `cycleSeconds` until `untilSeconds`. */
function repeatTimeline(events: Array<Record<string, unknown> & { at: number }>, cycleSeconds: number, untilSeconds: number) {
  const timeline: Array<Record<string, unknown>> = [];
  for (let start = 0; start + cycleSeconds <= untilSeconds; start += cycleSeconds) {
    for (const event of events) timeline.push({ ...event, at: start + event.at });
  }
  return timeline;
}

interface BugCase {
  bug: string;
  /** Why this fault exposes this bug. */
  why: string;
  spec: Record<string, unknown>;
}

const bugCases: BugCase[] = [
  {
    bug: 'stale-read',
    why: 'a node cut off from the majority still answers reads from its own, older state',
    spec: { workload: 'register', keys: 2, nemesis: ['partition'], 'nemesis-schedule': 'periodic', 'nemesis-interval': 3, 'nemesis-options': { partitionModes: ['halves', 'one', 'majorities-ring'] } },
  },
  {
    bug: 'lazy-fsync',
    why: 'acknowledged entries live only in memory until a later write; killing every node at once loses them',
    spec: { workload: 'set', nemesis: ['kill'], 'nemesis-timeline': repeatTimeline([{ at: 3, fault: 'kill', action: 'start', value: { targets: 'all' } }, { at: 4, fault: 'kill', action: 'stop' }], 5, 20) },
  },
  {
    bug: 'forget-vote',
    why: 'a restarted node forgets its vote and votes again in the same term: two leaders, diverging logs',
    // The double vote needs a voter to crash between granting its vote and receiving the new leader's first
    // entry; frequent kills of single nodes and leaders under packet loss (which stretches that window) aim at it.
    spec: {
      nodes: 3, concurrency: 12, workload: 'register', keys: 3, 'ops-per-key': 100_000, 'client-timeout': 2,
      nemesis: ['kill', 'packet'], 'nemesis-schedule': 'random', 'nemesis-interval': 1,
      'nemesis-options': { killTargets: ['one', 'minority', 'primary'], packetLossPercent: 40 },
    },
  },
  {
    bug: 'lease-read',
    why: 'a leader cut off and paused while the clocks step back resumes trusting its lease and serves old values',
    // The lease is reset when the leader steps down, so the old leader must not notice in time: it is
    // partitioned and paused (no CheckQuorum tick), every clock steps back 30 s, and it resumes still isolated.
    // Its queued writes never commit, so its local reads return values that newer writes overwrote.
    spec: {
      nodes: 3, concurrency: 15, workload: 'register', keys: 5, 'ops-per-key': 100_000, 'client-timeout': 2,
      nemesis: ['partition', 'pause', 'clock'],
      'nemesis-timeline': repeatTimeline([
        { at: 1, fault: 'partition', action: 'start', value: { mode: 'primary' } },
        { at: 1.05, fault: 'pause', action: 'start', value: { targets: 'primary' } },
        { at: 3.5, fault: 'clock', action: 'start', f: 'bump-clock', value: { deltaMs: -30_000, targets: 'all' } },
        { at: 6, fault: 'pause', action: 'stop' },
        { at: 8, fault: 'partition', action: 'stop' },
        { at: 8.5, fault: 'clock', action: 'stop' },
      ], 9, 18),
    },
  },
];

describe('faultline run: each raftkv bug switch is caught', () => {
  for (const bugCase of bugCases) {
    it(`--bug ${bugCase.bug} is judged invalid (${bugCase.why})`, async () => {
      const attempts: string[] = [];
      let caught: CliRun | undefined;
      for (let seed = 1; seed <= attemptsMax && !caught; seed++) {
        const specPath = join(store, `${bugCase.bug}-${seed}.yaml`);
        writeFileSync(specPath, stringify({
          name: `e2e-bug-${bugCase.bug}`, target: 'raftkv', nodes: 5, bug: bugCase.bug, 'time-limit': 20,
          concurrency: 10, rate: 150, recovery: 5, seed, store, ...bugCase.spec,
        }));
        const run = await faultline(['run', specPath], 240_000);
        attempts.push(`seed ${seed}: ${describeRun(run)}`);
        if (run.runId) expect(await leftoversOf(run.runId), `leftovers after seed ${seed}`).toEqual([]);
        expect([0, 1, 3], `an error, not a verdict: ${describeRun(run)}`).toContain(run.exitCode);
        if (run.exitCode === 1) caught = run;
      }
      expect(caught, `not caught in ${attemptsMax} attempts:\n${attempts.join('\n')}`).toBeDefined();
      expect(caught!.results!.valid).toBe(false);
      expect(caught!.stdout).toMatch(/verdict: INVALID/);
    }, 600_000);
  }
});
