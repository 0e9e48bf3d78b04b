// A nemesis package (Jepsen's term): a fault injector plus the ops that start and heal its faults.
import type { Db } from '../src/db.js';
import type { Nemesis } from '../src/nemesis.js';

/**
 * Nemesis op vocabulary (`f` and `value` of ops with process 'nemesis'; the completion's value says
 * what was actually done, e.g. the grudge or the nodes hit):
 * - partition: start-partition {mode: 'halves'|'random-halves'|'majorities-ring'|'bridge'|'one'|'primary'}, stop-partition
 * - packet:    start-packet {lossPercent}, stop-packet; start-latency {ms} fails with a clear reason where tc netem is missing
 * - kill:      kill {targets: 'one'|'minority'|'majority'|'all'|'primary'}, restart
 * - pause:     pause {targets}, resume
 * - clock:     bump-clock {deltaMs, targets}, strobe-clock {deltaMs, periodMs, durationMs, targets}, reset-clock
 * - disk:      corrupt-file {targets, mode: 'bitflip'|'truncate'}, fill-disk {targets}, free-disk
 * - flap:      start-flap {mode, seed, flap-min-ms, flap-max-ms}, stop-flap; each toggle between them is recorded as start-flap-cut / stop-flap-cut
 * - apiserver-etcd: cut-apiserver-etcd {targets, seed}, heal-apiserver-etcd (k8s only: an apiserver loses etcd, clients still reach it)
 * - capacity:  remove-capacity {intended, removed, restart-delay-ms, seed}, restore-capacity (restarts staggered, each recorded as capacity-restart)
 */
export interface FaultOp {
  f: string;
  value: unknown;
}

/**
 * A fault's name: a key of the nemesis registry (nemeses/index.ts), a name given to registerNemesis, or the path
 * of a user's nemesis module. A string, so the registry stays the one list of names.
 */
export type FaultName = string;

export interface NemesisPackage {
  readonly name: FaultName;
  readonly nemesis: Nemesis;
  /** Picks the next fault to start; deterministic in `random` (a seeded [0,1) source). */
  startOp(random: () => number): FaultOp;
  /** The op that heals what startOp started (the runner also calls teardown at the end regardless). */
  healOp(): FaultOp;
  /**
   * Optional: why this fault cannot be injected into `db` at all (a power the target lacks), or undefined when it
   * can. The runner asks before it provisions any node, so a run that could never inject the fault stops at once.
   */
  refuses?(db: Db): string | undefined;
}
