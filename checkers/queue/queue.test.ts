// Proves the total-queue checker against a brute-force oracle: a simulated queue (correct, or losing,
// duplicating and inventing elements on purpose) is judged exactly as a direct recount of its history says.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { queueChecker } from './index.js';
import { historyOf, propertyParameters, type TimedOp } from '../test-support/ops.js';

type Step = { kind: 'enqueue' | 'dequeue' | 'lose' | 'duplicate' | 'invent'; outcome: 'ok' | 'fail' | 'info'; applies: boolean };

/** Runs the steps on a FIFO queue, then drains it; `withTaken` reports which element each dequeue took. */
function simulate(steps: readonly Step[], withTaken: boolean): TimedOp[] {
  const queue: number[] = [];
  const taken: Record<string, number> = {};
  const ops: TimedOp[] = [];
  let nextElement = 0;
  let time = 0;
  steps.forEach((step, position) => {
    time += 2;
    if (step.kind === 'lose') queue.shift();
    else if (step.kind === 'duplicate' && Object.keys(taken).length > 0) queue.push(Object.values(taken)[0]);
    else if (step.kind === 'invent') queue.push(1000 + position);
    else if (step.kind === 'enqueue') {
      const element = nextElement++;
      if (step.outcome === 'ok' || (step.outcome === 'info' && step.applies)) queue.push(element);
      ops.push({ process: position, f: 'enqueue', value: element, invokeAt: time, completeAt: time + 1, type: step.outcome });
    } else if (step.kind === 'dequeue') {
      const dequeueId = `d${position}`;
      const outcome = queue.length === 0 ? 'fail' : step.outcome === 'fail' ? 'ok' : step.outcome;
      const applied = outcome === 'ok' || (outcome === 'info' && step.applies);
      const element = applied ? queue.shift() : undefined;
      if (element !== undefined) taken[dequeueId] = element;
      ops.push({ process: position, f: 'dequeue', value: null, invokeAt: time, completeAt: time + 1, type: outcome, result: outcome === 'ok' ? element : null, invokeExtra: { dequeueId } });
    }
  });
  ops.push({ process: steps.length, f: 'drain', value: null, invokeAt: time + 2, completeAt: time + 3, result: [...queue], completionExtra: withTaken ? { taken } : {} });
  return ops;
}

/** The oracle's recount: every element out (ok dequeues, settled dequeues, the drain), against what went in. */
function recount(ops: readonly TimedOp[], withTaken: boolean) {
  const out: unknown[] = [];
  const drain = ops[ops.length - 1];
  const taken = (drain.completionExtra?.taken ?? {}) as Record<string, number>;
  let unsettled = 0;
  for (const op of ops) {
    if (op.f === 'dequeue' && op.type === 'ok') out.push(op.result);
    if (op.f === 'dequeue' && op.type === 'info') {
      const id = op.invokeExtra!.dequeueId as string;
      if (!withTaken) unsettled++;
      else if (id in taken) out.push(taken[id]);
    }
  }
  out.push(...(drain.result as unknown[]));
  const enqueued = ops.filter((op) => op.f === 'enqueue');
  const lost = enqueued.filter((op) => op.type === 'ok' && !out.includes(op.value)).length;
  const duplicated = new Set(out.filter((element, index) => out.indexOf(element) !== index)).size;
  const unexpected = new Set(out.filter((element) => !enqueued.some((op) => op.value === element))).size;
  const valid = duplicated > 0 || unexpected > 0 || lost > unsettled ? false : lost > 0 ? 'unknown' : true;
  return { lost, duplicated, unexpected, valid };
}

const step = fc.record({
  kind: fc.constantFrom<Step['kind']>('enqueue', 'enqueue', 'enqueue', 'dequeue', 'dequeue', 'lose', 'duplicate', 'invent'),
  outcome: fc.constantFrom<Step['outcome']>('ok', 'ok', 'fail', 'info'),
  applies: fc.boolean(),
});

describe('queue checker', () => {
  it('reports lost, duplicated and unexpected elements', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'enqueue', value: 1, invokeAt: 0, completeAt: 1 },
      { process: 1, f: 'enqueue', value: 2, invokeAt: 0, completeAt: 1 },
      { process: 2, f: 'enqueue', value: 3, invokeAt: 0, completeAt: 1 },
      { process: 3, f: 'dequeue', value: null, invokeAt: 2, completeAt: 3, result: 1 },
      { process: 4, f: 'drain', value: null, invokeAt: 4, completeAt: 5, result: [1, 3, 7] },
    ];
    const result = await queueChecker().check({}, historyOf(ops));
    expect(result).toMatchObject({ valid: false, lost: [2], duplicated: [1], unexpected: [7] });
  });

  it('is unknown when an unsettled info dequeue could have taken the lost element', async () => {
    const ops: TimedOp[] = [
      { process: 0, f: 'enqueue', value: 1, invokeAt: 0, completeAt: 1 },
      { process: 1, f: 'dequeue', value: null, invokeAt: 2, completeAt: 3, type: 'info', result: null },
      { process: 2, f: 'drain', value: null, invokeAt: 4, completeAt: 5, result: [] },
    ];
    expect((await queueChecker().check({}, historyOf(ops))).valid).toBe('unknown');
  });

  it('judges a correct queue valid, and agrees with the oracle on broken ones, with and without settled dequeues', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), fc.boolean(), async (steps, withTaken) => {
        const ops = simulate(steps, withTaken);
        const result = await queueChecker().check({}, historyOf(ops));
        const oracle = recount(ops, withTaken);
        expect({ lost: result.lostCount, duplicated: result.duplicatedCount, unexpected: result.unexpectedCount, valid: result.valid }).toEqual(oracle);
        if (withTaken && steps.every((candidate) => candidate.kind === 'enqueue' || candidate.kind === 'dequeue')) expect(result.valid).toBe(true);
      }),
      propertyParameters('queue checker property 1', 500),
    );
  });
});
