// Proves raftkv's state machine semantics directly: cas compares by value, a transaction applies all of its
// micro-ops or none, a request id applies once however often it is retried, and a snapshot image round-trips.
import { describe, expect, it } from 'vitest';
import { KeyValueStateMachine, validateCommand } from './state-machine.js';

describe('KeyValueStateMachine', () => {
  it('puts, deletes and compares-and-sets by JSON value', () => {
    const machine = new KeyValueStateMachine();
    expect(machine.apply({ op: 'put', key: 'k', value: { a: [1] } })).toEqual({ ok: true });
    expect(machine.apply({ op: 'cas', key: 'k', expected: { a: [1] }, value: 2 })).toEqual({ ok: true });
    expect(machine.apply({ op: 'cas', key: 'k', expected: 1, value: 3 })).toEqual({ ok: false, error: 'cas-mismatch', value: 2 });
    expect(machine.apply({ op: 'cas', key: 'absent', expected: null, value: 'new' })).toEqual({ ok: true });
    machine.apply({ op: 'delete', key: 'k' });
    expect(machine.get('k')).toBeNull();
    expect(machine.get('absent')).toBe('new');
  });

  it('applies a transaction atomically: reads see its own writes, and a failing op leaves nothing behind', () => {
    const machine = new KeyValueStateMachine();
    const result = machine.apply({ op: 'txn', ops: [['append', 'l', 1], ['w', 'x', 5], ['add', 'n', 2], ['r', 'l', null], ['r', 'x', null]] });
    expect(result).toEqual({ ok: true, results: [['append', 'l', 1], ['w', 'x', 5], ['add', 'n', 2], ['r', 'l', [1]], ['r', 'x', 5]] });
    const failed = machine.apply({ op: 'txn', ops: [['append', 'l', 2], ['w', 'x', 6], ['append', 'x', 7]] });
    expect(failed).toEqual({ ok: false, error: 'not-a-list', key: 'x' });
    expect(machine.get('l')).toEqual([1]);
    expect(machine.get('x')).toBe(5);
    expect(machine.apply({ op: 'txn', ops: [['add', 'l', 1]] })).toEqual({ ok: false, error: 'not-a-number', key: 'l' });
  });

  it('applies a request id at most once and keeps the table in its image', () => {
    const machine = new KeyValueStateMachine();
    const append = { op: 'txn' as const, ops: [['append', 'l', 'x']] as Array<['append', string, string]>, requestId: 'r1' };
    machine.apply(append);
    machine.apply(append);
    expect(machine.get('l')).toEqual(['x']);
    const copy = new KeyValueStateMachine();
    copy.restore(JSON.parse(JSON.stringify(machine.image())));
    copy.apply(append);
    expect(copy.get('l')).toEqual(['x']);
    expect(copy.apply({ op: 'put', key: 'l', value: 0, requestId: 'r1' })).toEqual({ ok: true, results: [['append', 'l', 'x']] });
  });

  it('rejects malformed commands with a reason', () => {
    expect(validateCommand({ op: 'put', key: 'k' })).toMatch(/value/);
    expect(validateCommand({ op: 'txn', ops: [['bogus', 'k', 1]] })).toMatch(/txn op/);
    expect(validateCommand({ op: 'drop' })).toMatch(/op must be/);
    expect(validateCommand({ op: 'delete', key: 'k', requestId: 7 })).toMatch(/requestId/);
    expect(validateCommand({ op: 'cas', key: 'k', expected: null, value: 1 })).toBeNull();
  });
});
