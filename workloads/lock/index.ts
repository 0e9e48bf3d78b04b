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

/** Bounds on one holding's plan: writes while holding, a renew after every few writes. */
const writesPerHoldingMax = 8;
const writesBetweenRenews = 3;

/**
 * Ops (op.key is the lock's name; each lock fences its own resource):
 * - acquire {value: {ttlMs}} -> ok {value: {token, ttlMs}}, fail when another client holds it;
 * - renew {value: null} -> ok {value: {ttlMs}}; release {value: null} -> ok;
 * - write {value: {value: unique}} -> ok {value: {token, value}}, fail when the resource refused the token;
 * - read {value: null} -> ok {value: [[token, value], ...]}: the resource's accepted writes in order.
 * A client that does not hold the lock answers renew, release and write with fail at once (nothing sent).
 *
 * Each thread plans one holding at a time, drawn from its own seeded stream: an acquire after a random pause
 * (so contenders do not fall into lockstep), 1 to 8 fenced writes with a renew after every 3, then a release,
 * or in one plan out of four no release at all: the client walks away and the lease must run out on its own.
 */
export function lockGenerator(options: { locks: number; ttlMs: number }): Generator {
  const plans = new Map<number | string, Array<{ f: string; value: unknown; delayNs: number }>>();
  let nextWrite = 0;
  return {
    next(context) {
      let plan = plans.get(context.thread);
      if (!plan || plan.length === 0) {
        plan = [{ f: 'acquire', value: { ttlMs: options.ttlMs }, delayNs: context.random.int(options.ttlMs / 2) * 1e6 }];
        const writes = 1 + context.random.int(writesPerHoldingMax);
        for (let write = 1; write <= writes; write++) {
          plan.push({ f: 'write', value: null, delayNs: 0 });
          if (write % writesBetweenRenews === 0) plan.push({ f: 'renew', value: null, delayNs: 0 });
        }
        if (context.random.int(4) !== 0) plan.push({ f: 'release', value: null, delayNs: 0 });
        plans.set(context.thread, plan);
      }
      const step = plan.shift()!;
      const key = `lock-${typeof context.thread === 'number' ? context.thread % options.locks : 0}`;
      // Write values are unique over the run, so the checker can tell every accepted write apart.
      const value = step.f === 'write' ? { value: `w${nextWrite++}` } : step.value;
      return { type: 'op', op: { f: step.f, key, value }, atNs: context.timeNs + step.delayNs };
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
    // lockMode=fencing: the resource's fencing is what counts, so overlapping holders are reported, not judged.
    const fencingOnly = spec.targetOptions.lockMode === 'fencing';
    return {
      name: 'lock',
      generator: lockGenerator({ locks, ttlMs }),
      finalOps: (nodeNames) => lockNames(locks).map((key, index) => ({ node: nodeNames[index % nodeNames.length], op: { f: 'read', key, value: null, final: true } })),
      checkers: async (): Promise<Checker[]> => [
        lockChecker({ overlapsInvalid: !fencingOnly }),
        statsChecker({ mustSucceed: ['acquire', 'read'], mayNeverSucceed: ['renew', 'release', 'write'] }),
      ],
      checkContext: () => ({ options: { locks, ttlMs, mode: fencingOnly ? 'fencing' : 'mutual-exclusion' } }),
    };
  },
};
