// The counter checker (Jepsen's counter): every ok read must lie between what certainly happened before it
// and what possibly happened by its end, counting increments by their invocation and completion times.
import type { Checker, CheckResult } from '../types.js';
import { pairOps, type History } from '../../src/history/types.js';

/** How many bad reads the result lists; the count is always complete. */
const shownErrorsMax = 100;

export interface CounterReadError {
  /** History index of the read's invocation and completion. */
  invokeIndex: number;
  completionIndex: number;
  value: unknown;
  lower: number;
  upper: number;
}

/**
 * For a read invoked at `invoke` and completed at `complete`:
 * - certain: ok adds completed before the read was invoked (they must be in the value);
 * - possible: adds not failed, invoked before the read completed (ok, info or never completed), not certain.
 * lower = certain + the negative possible deltas; upper = certain + the positive possible deltas.
 * With positive deltas only this is exactly Jepsen's rule ([ok before invoke, ok+info invoked before completion]).
 */
export function counterChecker(options: { initial?: number } = {}): Checker {
  return {
    name: 'counter',
    async check(_context, history: History): Promise<CheckResult> {
      const initial = options.initial ?? 0;
      const pairs = pairOps(history);
      const adds = pairs.filter((pair) => pair.invoke.f === 'add' && pair.completion?.type !== 'fail' && typeof pair.invoke.value === 'number');
      const reads = pairs.filter((pair) => pair.invoke.f === 'read' && pair.completion?.type === 'ok');
      const errors: CounterReadError[] = [];
      for (const read of reads) {
        const invokedAt = read.invoke.time;
        const completedAt = read.completion!.time;
        let lower = initial;
        let upper = initial;
        for (const add of adds) {
          const delta = add.invoke.value as number;
          const certain = add.completion?.type === 'ok' && add.completion.time < invokedAt;
          if (certain) {
            lower += delta;
            upper += delta;
          } else if (add.invoke.time < completedAt) {
            if (delta < 0) lower += delta;
            else upper += delta;
          }
        }
        const value = read.completion!.value;
        if (typeof value !== 'number' || value < lower || value > upper) {
          errors.push({ invokeIndex: read.invoke.index, completionIndex: read.completion!.index, value, lower, upper });
        }
      }
      if (reads.length === 0) return { valid: 'unknown', error: 'no successful read', reads: 0, adds: adds.length };
      return {
        valid: errors.length === 0,
        reads: reads.length,
        adds: adds.length,
        errorCount: errors.length,
        errors: errors.slice(0, shownErrorsMax),
      };
    },
  };
}
