// Proves `faultline run` catches each raftkv bug switch under the fault that exposes it: for each bug, a real
// 5-node cluster with that bug runs under that fault with seeds 1, 2, ... and at least one run within a bounded
// number of attempts must be judged invalid (exit 1). Every attempt must leave the host clean.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { pick, seededRandom, shuffle } from '../../nemeses/common.js';
import { decidePartition } from '../../nemeses/partition/index.js';
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
  /** Seeded attempts before the case fails; defaults to attemptsMax. */
  attemptsMax?: number;
}

/** The first seed (from 1) for which `choose` names node n2: nemesis ops carry their seed, so it aims them. */
function seedAimingAtN2(choose: (random: () => number) => string): number {
  for (let seed = 1; seed <= 10_000; seed++) if (choose(seededRandom(seed)) === 'n2') return seed;
  throw new Error('no seed aims at n2');
}
const nodeNames = ['n1', 'n2', 'n3'];
const killN2 = { targets: 'one', seed: seedAimingAtN2((random) => pick(nodeNames, random)) };
// 'majority' of three kills the first two of a seeded shuffle: aim the one spared at n2.
const killN1AndN3 = { targets: 'majority', seed: seedAimingAtN2((random) => shuffle(nodeNames, random)[2]) };
const bridgeAtN2 = { mode: 'bridge', seed: seedAimingAtN2((random) => String(decidePartition('bridge', nodeNames, random, []).description.bridge)) };

/**
 * forget-vote does harm only if a voter restarts after granting its vote to the winner and before the winner's
 * first append reaches it, while a second candidate of that term is still asking (raftkv candidates re-ask every
 * tick until granted). On loopback that window is one round trip, so: peers are 300 ms apart
 * (`--peer-delay-ms`, a slow network without tc netem), making the window 600 ms; plain Raft elections
 * (`--pre-vote off`) so both ends of a bridge become candidates at once. Each 18 s cycle: kill n1 and n3 so n2
 * wins the next election; cut n1 from n3 with n2 as the bridge; kill n2, the leader, so n1 and n3 both campaign
 * in the same term and can reach only n2; restart n2 once both ask (it grants one of them at once) and kill it
 * again inside the window; its restart forgets the vote and grants the other. Two leaders in one term, each
 * acknowledging writes through n2, while the bridge holds.
 */
const forgetVoteSpec: Record<string, unknown> = {
  nodes: 3, concurrency: 12, workload: 'register', keys: 3, 'ops-per-key': 100_000, 'client-timeout': 3, 'time-limit': 36,
  'target-options': { serverArguments: ['--peer-delay-ms', '300', '--election-ticks', '40', '--heartbeat-ticks', '4', '--pre-vote', 'off'] },
  nemesis: ['partition', 'kill'],
  'nemesis-timeline': repeatTimeline([
    { at: 0, fault: 'kill', action: 'start', value: killN1AndN3 },
    { at: 2.5, fault: 'kill', action: 'stop' },
    // n2 leads from about 4 s; the bridge waits until n1 and n3 hold all of its log (else n2 refuses them).
    { at: 8, fault: 'partition', action: 'start', value: bridgeAtN2 },
    { at: 8.2, fault: 'kill', action: 'start', value: killN2 },
    { at: 11.9, fault: 'kill', action: 'stop' },
    // Again inside the window; restarted, n2 answers whichever comes first of the leader's heartbeat (every
    // 200 ms here) and the other candidate's request (every 50 ms tick); two more kills give more chances
    // (a kill after n2 voted twice changes nothing).
    { at: 12.7, fault: 'kill', action: 'start', value: killN2 },
    { at: 12.8, fault: 'kill', action: 'stop' },
    { at: 13.8, fault: 'kill', action: 'start', value: killN2 },
    { at: 13.9, fault: 'kill', action: 'stop' },
    { at: 14.9, fault: 'kill', action: 'start', value: killN2 },
    { at: 15, fault: 'kill', action: 'stop' },
    { at: 17.5, fault: 'partition', action: 'stop' },
    // Every event gets its own value: YAML would write shared objects as aliases, read back as one object.
  ], 18, 36).map((event) => structuredClone(event)),
};

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
    spec: forgetVoteSpec,
    // The double vote needs a restart inside a millisecond-wide window; an attempt catches it about a third
    // to a half of the time, so eight attempts miss with a probability of a few percent.
    attemptsMax: 8,
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
      const caseAttemptsMax = bugCase.attemptsMax ?? attemptsMax;
      for (let seed = 1; seed <= caseAttemptsMax && !caught; seed++) {
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
      expect(caught, `not caught in ${caseAttemptsMax} attempts:\n${attempts.join('\n')}`).toBeDefined();
      expect(caught!.results!.valid).toBe(false);
      expect(caught!.stdout).toMatch(/verdict: INVALID/);
    }, 900_000);
  }

  // The forget-vote faults are unusual (slow peers, kills aimed at elections): the correct store must pass them.
  it('the correct raftkv is judged valid under the forget-vote faults', async () => {
    const specPath = join(store, 'forget-vote-correct.yaml');
    writeFileSync(specPath, stringify({ name: 'e2e-bug-forget-vote-correct', target: 'raftkv', rate: 150, recovery: 5, seed: 1, store, ...forgetVoteSpec }));
    const run = await faultline(['run', specPath], 240_000);
    if (run.runId) expect(await leftoversOf(run.runId), 'leftovers').toEqual([]);
    expect(run.exitCode, describeRun(run)).toBe(0);
    expect(run.results!.valid).toBe(true);
  }, 300_000);
});
