// Builds histories for checker tests from operations with explicit invoke and completion times.
import type { History, Op } from '../../src/history/types.js';

export interface TimedOp {
  process: number;
  f: string;
  value: unknown;
  invokeAt: number;
  /** Absent: the op never completed. */
  completeAt?: number;
  type?: 'ok' | 'fail' | 'info';
  /** The completion's value; the invoke's value when absent. */
  result?: unknown;
  /** Extra fields on the invoke and on the completion. */
  invokeExtra?: Record<string, unknown>;
  completionExtra?: Record<string, unknown>;
}

/** Interleaves the ops' events by time (invokes first on ties) into a history; times are milliseconds. */
export function historyOf(ops: readonly TimedOp[]): History {
  const events: Array<{ at: number; order: number; op: Omit<Op, 'index'> }> = [];
  ops.forEach((timed, order) => {
    events.push({ at: timed.invokeAt, order: 0, op: { process: timed.process, type: 'invoke', f: timed.f, value: timed.value, time: timed.invokeAt * 1e6, ...timed.invokeExtra } });
    if (timed.completeAt !== undefined) {
      events.push({
        at: timed.completeAt,
        order: 1 + order,
        op: { process: timed.process, type: timed.type ?? 'ok', f: timed.f, value: timed.result === undefined ? timed.value : timed.result, time: timed.completeAt * 1e6, ...timed.invokeExtra, ...timed.completionExtra },
      });
    }
  });
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  return events.map((event, index) => ({ ...event.op, index }) as Op);
}

/**
 * fast-check parameters with the seed printed up front (fast-check prints it again on a failure):
 * FAST_CHECK_SEED=N replays a run exactly.
 */
export function propertyParameters(name: string, numRuns: number): { seed: number; numRuns: number } {
  const fromEnvironment = Number(process.env.FAST_CHECK_SEED);
  const seed = Number.isInteger(fromEnvironment) ? fromEnvironment : Math.floor(Math.random() * 2 ** 31);
  process.stdout.write(`${name}: fast-check seed ${seed} (replay with FAST_CHECK_SEED=${seed})\n`);
  return { seed, numRuns };
}
