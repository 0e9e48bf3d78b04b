// A system under test as the runner sees it: a Db for each node's lifecycle and a Client per workload.
import type { Client } from './client.js';
import type { Db } from './db.js';

/**
 * Operation shapes every target's client speaks, per workload (values are JSON):
 * - register (one independent register per `key`; keys are small integers):
 *     read  {value: null}            -> ok {value: current value or null}
 *     write {value: v}               -> ok
 *     cas   {value: [expected, new]} -> ok when swapped; fail when the current value differed
 * - set: add {value: unique integer} -> ok; read {value: null} -> ok {value: sorted integer array}
 * - list-append, rw-register: txn {value: [[f, key, v], ...]} (Elle's micro-ops: ['append', k, v] / ['w', k, v] and
 *     ['r', k, null]) -> ok with each read filled in (list-append: the key's list, [] when empty; rw-register: the
 *     value or null); fail when the transaction certainly did not commit (aborted, serialization failure)
 * - counter: add {value: n} -> ok; read {value: null} -> ok {value: the sum, 0 before any add}
 * - bank, queue, lock: as their workloads' generators document (workloads/bank, workloads/queue, workloads/lock)
 * Errors: fail only when the op certainly did not take effect (refused before sending, or a definite
 * rejection such as "not leader" before any write); timeouts and lost connections are info.
 * A workload's name: a key of the workload registry (workloads/index.ts), a name given to registerWorkload, or
 * the name a user's own workload module declares. A string, so the registry stays the one list of names.
 */
export type WorkloadName = string;

export interface Target {
  readonly name: string;
  /** Workloads whose ops this target's client speaks. */
  readonly workloads: readonly WorkloadName[];
  /**
   * Optional: the least size, in MiB, of a node's data volume this target needs (etcd preallocates its WAL).
   * The runner asks the backend for a volume this large unless the user set a size; absent: the backend's default.
   */
  readonly dataVolumeMb?: number;
  db(options: Record<string, unknown>): Db;
  client(workload: WorkloadName, options: Record<string, unknown>): Client;
}
