// The lock workload: clients take leased locks (acquire, renew, release) as users build them on etcd and
// raftkv, and write to a resource fenced by the lock's token; checked for mutual exclusion over real time,
// growing tokens and stale writes the resource accepted.
import type { Checker } from '../../checkers/types.js';
import { lockChecker } from '../../checkers/lock/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/** Lease length: etcd counts leases in whole seconds and refuses ones shorter than 1.5 election timeouts. */
export const lockTtlMsDefault = 3000;

/** What each client thread does, over and over: take the lock, use it, keep it alive, use it, let it go. */
const cycle = ['acquire', 'write', 'write', 'renew', 'write', 'write', 'release'] as const;

/**
 * Ops (op.key is the lock's name; each lock fences its own resource):
 * - acquire {value: {ttlMs}} -> ok {value: {token, ttlMs}}, fail when another client holds it;
 * - renew {value: null} -> ok {value: {ttlMs}}; release {value: null} -> ok;
 * - write {value: {value: unique}} -> ok {value: {token, value}}, fail when the resource refused the token;
 * - read {value: null} -> ok {value: [[token, value], ...]}: the resource's accepted writes in order.
 * A client that does not hold the lock answers renew, release and write with fail at once (nothing sent).
 */
export function lockGenerator(options: { locks: number; ttlMs: number }): Generator {
  const positions = new Map<number | string, number>();
  let nextWrite = 0;
  return {
    next(context) {
      const position = positions.get(context.thread) ?? 0;
      positions.set(context.thread, (position + 1) % cycle.length);
      const key = `lock-${typeof context.thread === 'number' ? context.thread % options.locks : 0}`;
      const f = cycle[position];
      const value = f === 'acquire' ? { ttlMs: options.ttlMs } : f === 'write' ? { value: `w${nextWrite++}` } : null;
      return { type: 'op', op: { f, key, value }, atNs: context.timeNs };
    },
  };
}

export function lockNames(locks: number): string[] {
  return Array.from({ length: locks }, (_, index) => `lock-${index}`);
}

export const lockWorkload: Workload = {
  name: 'lock',
  create(spec: TestSpec): WorkloadInstance {
    // About two contending clients per lock.
    const locks = Math.max(1, Math.min(spec.keys, Math.floor(spec.concurrency / 2)));
    const ttlOption = spec.targetOptions.lockTtlMs;
    const ttlMs = typeof ttlOption === 'number' && ttlOption > 0 ? ttlOption : lockTtlMsDefault;
    return {
      name: 'lock',
      generator: lockGenerator({ locks, ttlMs }),
      finalOps: (nodeNames) => lockNames(locks).map((key, index) => ({ node: nodeNames[index % nodeNames.length], op: { f: 'read', key, value: null, final: true } })),
      checkers: async (): Promise<Checker[]> => [
        lockChecker(),
        statsChecker({ mustSucceed: ['acquire', 'read'], mayNeverSucceed: ['renew', 'release', 'write'] }),
      ],
      checkContext: () => ({ options: { locks, ttlMs } }),
    };
  },
};
