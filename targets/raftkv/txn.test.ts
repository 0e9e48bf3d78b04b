// Proves the split-txn bug switch's mechanics: each micro-op goes to the state machine as its own transaction (so
// another client's transaction can land between two parts), results are stitched back in order, request ids stay
// unique per part, and a part failing after an earlier one applied is never reported as definite.
import { describe, expect, it } from 'vitest';
import { KeyValueStateMachine, type Command } from './state-machine.js';
import { proposeSplitTransaction, type TransactionAnswer } from './txn.js';

function answerOf(machine: KeyValueStateMachine, command: Command): TransactionAnswer {
  const result = machine.apply(command);
  return result.ok ? { status: 200, body: { ok: true, results: result.results } } : { status: 422, body: { ok: false, error: result.error, definite: true } };
}

describe('split-txn', () => {
  it('proposes one entry per micro-op, so another transaction can interleave between the parts', async () => {
    const machine = new KeyValueStateMachine();
    const proposed: Command[] = [];
    const answer = await proposeSplitTransaction({ op: 'txn', ops: [['append', 'x', 1], ['r', 'x', null]], requestId: 'a' }, async (part) => {
      proposed.push(part);
      const result = answerOf(machine, part);
      // Another client's append commits between this transaction's two parts.
      if (proposed.length === 1) machine.apply({ op: 'txn', ops: [['append', 'x', 2]] });
      return result;
    });
    expect(proposed).toEqual([
      { op: 'txn', ops: [['append', 'x', 1]], requestId: 'a#0' },
      { op: 'txn', ops: [['r', 'x', null]], requestId: 'a#1' },
    ]);
    // Atomically, the read would show [1]; split, it shows the other transaction's append too.
    expect(answer).toEqual({ status: 200, body: { ok: true, results: [['append', 'x', 1], ['r', 'x', [1, 2]]] } });
  });

  it('keeps a first part\'s definite refusal, but a later part\'s failure is not definite', async () => {
    const refused = await proposeSplitTransaction({ op: 'txn', ops: [['r', 'x', null], ['r', 'y', null]] }, async () => ({ status: 503, body: { ok: false, error: 'not-leader', definite: true } }));
    expect(refused.body.definite).toBe(true);
    const machine = new KeyValueStateMachine();
    machine.apply({ op: 'put', key: 'y', value: 'not a list' });
    const halfDone = await proposeSplitTransaction({ op: 'txn', ops: [['append', 'x', 1], ['append', 'y', 2]] }, async (part) => answerOf(machine, part));
    expect(halfDone.status).toBe(422);
    expect(halfDone.body.definite).toBe(false);
    expect(halfDone.body.error).toBe('split-txn: part 2 of 2: not-a-list');
    expect(machine.get('x')).toEqual([1]);
  });
});
