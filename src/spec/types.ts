// The test spec: everything that describes one run, after validation (file values overridden by flags).
import type { BackendName } from '../backends/types.js';
import type { FaultName } from '../../nemeses/types.js';
import type { TimelineEvent } from '../generator/schedule.js';
import type { AvailabilityThresholds } from '../../checkers/availability/index.js';

export type KeyDistribution = 'uniform' | 'zipfian';
export type NemesisScheduleKind = 'periodic' | 'random' | 'timeline';

export const backendNames: readonly BackendName[] = ['local', 'docker', 'ssh'];
// Target, workload and fault names live in their registries (src/targets.ts, workloads/index.ts, nemeses/index.ts).

/** Spec field `availability`: the availability checker's thresholds (checkers/availability); each one absent is not judged. */
export type AvailabilitySpec = AvailabilityThresholds;

/** Spec field `client-retry`: how client workers retry a failed op (each attempt its own invoke and completion). */
export interface ClientRetrySpec {
  /** Attempts per logical request, the first included (1 = no retry). */
  attempts: number;
  /** Delay before the second attempt; doubled for each further one, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** 0..1: the fraction of each delay drawn from the thread's seeded random (0 = fixed delays). */
  jitter: number;
  /** Close and reopen the client after a failed attempt (all threads failing at once make a reconnect herd). */
  reconnect: boolean;
}

export interface TestSpec {
  /** Test name: the store folder, e.g. "raftkv-register". */
  name: string;
  /** A target registry name, or the absolute path of a user's target module. */
  target: string;
  backend: BackendName;
  /** Node count; with the ssh backend, the length of `hosts`. */
  nodes: number;
  /** ssh backend only: the machines, one per node. */
  hosts?: string[];
  /** A workload registry name, or the absolute path of a user's workload module. */
  workload: string;
  /** register: how many keys are live at once. */
  keys: number;
  keyDistribution: KeyDistribution;
  /** register: ops on a key before it is retired for a fresh one (keeps each key's history checkable). */
  opsPerKey: number;
  /** Fault registry names, or absolute paths of a user's nemesis modules. */
  nemesis: FaultName[];
  nemesisIntervalSeconds: number;
  nemesisSchedule: NemesisScheduleKind;
  nemesisTimeline?: TimelineEvent[];
  /**
   * periodic and random schedules: how many faults a fault window may hold at once (default 1: one fault at a
   * time, never overlapping). Above 1, faults of different kinds start while others are in force (e.g. a
   * partition, then a pause, then clock skew), drawn from the seed, and heal together at the window's end.
   */
  nemesisConcurrentFaults?: number;
  /** Options for the nemesis packages (nemeses/common.ts NemesisOptions, e.g. killTargets: [majority, all]). */
  nemesisOptions: Record<string, unknown>;
  timeLimitSeconds: number;
  concurrency: number;
  /** Client ops per second over all workers together. */
  rate: number;
  seed: number;
  /** Root of the results store. */
  store: string;
  /** list-append, rw-register: the consistency model the transaction checker holds the history to (default strict-serializable). */
  consistency?: string;
  /** raftkv bug switch (stale-read, lazy-fsync, forget-vote, lease-read). */
  bug?: string;
  /** etcd: serializable (member-local, possibly stale) reads; also set as targetOptions.serializableReads. */
  serializableReads?: boolean;
  leaveRunning: boolean;
  /** Quiet time after healing, before the final phase. */
  recoverySeconds: number;
  /** A client op not answered within this becomes info. */
  clientTimeoutSeconds: number;
  /** Passed to createBackend as they are (ssh: ssh-user, ssh-key, ssh-port, ssh-known-hosts, ssh-strict). */
  backendOptions: Record<string, unknown>;
  /** Passed to the target's Db and Client as they are (bug is added here too). */
  targetOptions: Record<string, unknown>;
  /** Availability thresholds that fail the run when breached (absent: the availability checker only reports). */
  availability?: AvailabilitySpec;
  /** Client retries (absent: one attempt per op, as before). */
  clientRetry?: ClientRetrySpec;
}

/** `faultline run` with no arguments (issue 4): 5-node raftkv, local backend, register, four faults, 60 s. */
export const defaultSpec: Omit<TestSpec, 'name' | 'seed'> = {
  target: 'raftkv',
  backend: 'local',
  nodes: 5,
  workload: 'register',
  keys: 5,
  keyDistribution: 'uniform',
  opsPerKey: 300,
  nemesis: ['partition', 'kill', 'pause', 'clock'],
  nemesisIntervalSeconds: 5,
  nemesisSchedule: 'random',
  nemesisOptions: {},
  timeLimitSeconds: 60,
  concurrency: 10,
  rate: 100,
  store: 'store',
  leaveRunning: false,
  recoverySeconds: 5,
  clientTimeoutSeconds: 10,
  backendOptions: {},
  targetOptions: {},
};
