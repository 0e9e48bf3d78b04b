// The total-queue checker (Jepsen's total-queue): after a final drain, every acknowledged enqueue must have come
// out exactly once, and nothing may come out that nobody enqueued.
import type { Checker, CheckResult } from '../types.js';
import { pairOps, type History, type Op } from '../../src/history/types.js';

/** How many elements each list shows; counts are always complete. */
const shownElementsMax = 1000;

const elementKey = (value: unknown) => JSON.stringify(value);

function shown(keys: Iterable<string>): unknown[] {
  const values = [...keys].map((key) => JSON.parse(key) as unknown);
  values.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  return values.slice(0, shownElementsMax);
}

/**
 * Ops: `enqueue` (invoke value: the element, unique), `dequeue` (ok value: the element; fail: the queue was empty),
 * `drain` (ok value: every element left). A store may say which element each dequeue took: a drain's completion
 * may carry `taken: {dequeueId: element}` for dequeues invoked with a `dequeueId`, which settles info dequeues.
 * An info dequeue that nothing settles may have taken any element, so lost elements it could explain make the
 * verdict 'unknown' rather than false (up to one element per such dequeue).
 */
export function queueChecker(): Checker {
  return {
    name: 'queue',
    async check(_context, history: History): Promise<CheckResult> {
      const pairs = pairOps(history);
      const attempted = new Set<string>();
      const acknowledged = new Set<string>();
      const uncertainEnqueues = new Set<string>();
      const taken = new Map<string, unknown>();
      /** Whether a drain reported which element every dequeue took (then an absent id took nothing). */
      let takenKnown = false;
      for (const pair of pairs) {
        const completion: Op | undefined = pair.completion;
        if (pair.invoke.f === 'enqueue') {
          const key = elementKey(pair.invoke.value);
          attempted.add(key);
          if (completion?.type === 'ok') acknowledged.add(key);
          else if (completion?.type !== 'fail') uncertainEnqueues.add(key);
        } else if (pair.invoke.f === 'drain' && completion?.type === 'ok' && completion.taken && typeof completion.taken === 'object') {
          takenKnown = true;
          for (const [dequeueId, element] of Object.entries(completion.taken as Record<string, unknown>)) taken.set(dequeueId, element);
        }
      }
      /** How many times each element came out. */
      const dequeuedCount = new Map<string, number>();
      const countOut = (element: unknown) => {
        const key = elementKey(element);
        dequeuedCount.set(key, (dequeuedCount.get(key) ?? 0) + 1);
      };
      let drains = 0;
      let unsettledDequeues = 0;
      for (const pair of pairs) {
        const completion = pair.completion;
        if (pair.invoke.f === 'dequeue') {
          const dequeueId = pair.invoke.dequeueId === undefined ? undefined : String(pair.invoke.dequeueId);
          if (completion?.type === 'ok') countOut(completion.value);
          else if (completion?.type !== 'fail') {
            if (dequeueId !== undefined && takenKnown) {
              if (taken.has(dequeueId)) countOut(taken.get(dequeueId));
            } else unsettledDequeues++;
          }
        } else if (pair.invoke.f === 'drain' && completion?.type === 'ok') {
          drains++;
          for (const element of Array.isArray(completion.value) ? completion.value : []) countOut(element);
        }
      }
      if (drains === 0) return { valid: 'unknown', error: 'no successful drain', attempted: attempted.size, acknowledged: acknowledged.size };
      const lost = [...acknowledged].filter((key) => !dequeuedCount.has(key));
      const duplicated = [...dequeuedCount].filter(([, count]) => count > 1).map(([key]) => key);
      const unexpected = [...dequeuedCount.keys()].filter((key) => !attempted.has(key));
      const recovered = [...uncertainEnqueues].filter((key) => dequeuedCount.has(key));
      const definitelyBroken = duplicated.length > 0 || unexpected.length > 0 || lost.length > unsettledDequeues;
      const valid = definitelyBroken ? false : lost.length > 0 ? 'unknown' : true;
      return {
        valid,
        attempted: attempted.size,
        acknowledged: acknowledged.size,
        dequeued: [...dequeuedCount.values()].reduce((sum, count) => sum + count, 0),
        drains,
        unsettledDequeues,
        lostCount: lost.length,
        lost: shown(lost),
        duplicatedCount: duplicated.length,
        duplicated: shown(duplicated),
        unexpectedCount: unexpected.length,
        unexpected: shown(unexpected),
        recoveredCount: recovered.length,
        recovered: shown(recovered),
      };
    },
  };
}
