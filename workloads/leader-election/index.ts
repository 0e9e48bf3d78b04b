// The leader-election workload: each client thread is a candidate running client-go's Lease algorithm, one step
// per `elect` op; checked for two leaders at once over real time (workloads/leader-election/checker.ts).
import type { Checker } from '../../checkers/types.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import { numberOption } from '../../src/target-options.js';
import type { Workload, WorkloadInstance } from '../types.js';
import { leaderElectionChecker } from './checker.js';

export { checkLeaderElection, leaderElectionChecker, leaderOverlaps, leaderships, transitionRegressions } from './checker.js';
export type { ElectionEvent, LeaderOverlap, Leadership } from './checker.js';

/** client-go's timing, scaled down from its 15/10/2 s defaults so short runs see several takeovers. */
export interface ElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const electionTimingDefault: ElectionTiming = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 800 };

/** The timing from target options (lease-duration-ms, renew-deadline-ms, retry-period-ms), checked as client-go checks it. */
export function electionTiming(options: Record<string, unknown>): ElectionTiming {
  const timing: ElectionTiming = {
    leaseDurationMs: numberOption(options, 'lease-duration-ms') ?? electionTimingDefault.leaseDurationMs,
    renewDeadlineMs: numberOption(options, 'renew-deadline-ms') ?? electionTimingDefault.renewDeadlineMs,
    retryPeriodMs: numberOption(options, 'retry-period-ms') ?? electionTimingDefault.retryPeriodMs,
  };
  if (!(timing.retryPeriodMs > 0 && timing.renewDeadlineMs > timing.retryPeriodMs && timing.leaseDurationMs > timing.renewDeadlineMs)) {
    throw new Error(
      `leader-election: expected retry-period-ms < renew-deadline-ms < lease-duration-ms (client-go's rule), got ${timing.retryPeriodMs}, ${timing.renewDeadlineMs}, ${timing.leaseDurationMs}`,
    );
  }
  return timing;
}

/**
 * Ops: elect {value: {leaseDurationMs, renewDeadlineMs, retryPeriodMs}} -> ok {value: {event, holder, transitions}}
 * where event is what the candidate believes after the step: acquired (it now leads), renewed (still leads),
 * lost (its renew deadline passed: it stepped down), standby (another holds the Lease). A candidate not leading
 * makes one acquire attempt per step; a leader makes one renew round (retrying until its renew deadline). Steps
 * come one retry period apart, as client-go's loops do, the first ones spread over a retry period.
 */
export function electionGenerator(timing: ElectionTiming): Generator {
  const started = new Set<number | string>();
  return {
    next(context) {
      const first = !started.has(context.thread);
      started.add(context.thread);
      const delayNs = (first ? context.random.int(timing.retryPeriodMs) : timing.retryPeriodMs) * 1e6;
      return { type: 'op', op: { f: 'elect', key: 'leader', value: { ...timing } }, atNs: context.timeNs + delayNs };
    },
  };
}

export const leaderElectionWorkload: Workload = {
  name: 'leader-election',
  create(spec: TestSpec): WorkloadInstance {
    const timing = electionTiming(spec.targetOptions);
    return {
      name: 'leader-election',
      generator: electionGenerator(timing),
      // None: a leader left leading at the end is simply the last one; a final acquire would only wait it out.
      finalOps: () => [],
      checkers: async (): Promise<Checker[]> => [leaderElectionChecker(), statsChecker({ mustSucceed: ['elect'], mayNeverSucceed: [] })],
      checkContext: () => ({ options: { ...timing } }),
    };
  },
};
