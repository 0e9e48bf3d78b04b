// Proves raftkv's lock, bank and queue commands on the state machine, and the lease keeper's expiry rule:
// never before ttl after the leader saw a lease's current version, afresh in a new term, no-op after a renewal.
import { describe, expect, it } from 'vitest';
import { KeyValueStateMachine, validateCommand } from '../state-machine.js';
import { lockStateKey } from './index.js';
import { LeaseKeeper } from './lease-keeper.js';

describe('raftkv lock commands', () => {
  it('grants one holder at a time with growing tokens, renews, releases and expires by version', () => {
    const machine = new KeyValueStateMachine();
    const first = machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'a', ttlMs: 1000 });
    expect(first).toEqual({ extension: true, ok: true, value: { leaseId: 1, token: 1, ttlMs: 1000 } });
    expect(machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'b', ttlMs: 1000 })).toEqual({ extension: true, ok: false, error: 'lock-held' });
    expect(machine.apply({ op: 'lease-renew', leaseId: 1 })).toMatchObject({ ok: true, value: { ttlMs: 1000 } });
    // An expiry decided before the renewal (version 0) must not free the lock.
    expect(machine.apply({ op: 'lease-expire', leaseId: 1, version: 0 })).toMatchObject({ ok: true, value: false });
    expect(machine.apply({ op: 'lock-release', lock: 'l', leaseId: 2 })).toMatchObject({ ok: false, error: 'not-holder' });
    expect(machine.apply({ op: 'lease-expire', leaseId: 1, version: 1 })).toMatchObject({ ok: true, value: true });
    expect(machine.apply({ op: 'lease-renew', leaseId: 1 })).toMatchObject({ ok: false, error: 'no-lease' });
    expect(machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'b', ttlMs: 1000 })).toMatchObject({ ok: true, value: { leaseId: 2, token: 2 } });
    expect(machine.apply({ op: 'lock-release', lock: 'l', leaseId: 2 })).toMatchObject({ ok: true });
  });

  it('fences writes by token and survives a snapshot image round trip', () => {
    const machine = new KeyValueStateMachine();
    expect(machine.apply({ op: 'fenced-append', resource: 'r', token: 2, value: 'a' })).toMatchObject({ ok: true });
    expect(machine.apply({ op: 'fenced-append', resource: 'r', token: 1, value: 'b' })).toMatchObject({ ok: false, error: 'stale-token' });
    expect(machine.apply({ op: 'fenced-append', resource: 'r', token: 2, value: 'c' })).toMatchObject({ ok: true });
    machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'a', ttlMs: 5 });
    const copy = new KeyValueStateMachine();
    copy.restore(JSON.parse(JSON.stringify(machine.image())));
    expect(copy.get('fenced-r')).toEqual({ maxToken: 2, writes: [[2, 'a'], [2, 'c']] });
    expect(copy.apply({ op: 'lock-acquire', lock: 'l', owner: 'b', ttlMs: 5 })).toMatchObject({ ok: false, error: 'lock-held' });
  });

  it('moves money only when the source holds enough, and reads every account at once', () => {
    const machine = new KeyValueStateMachine();
    expect(machine.apply({ op: 'bank-transfer', from: '0', to: '1', amount: 7, initial: 10 })).toMatchObject({ ok: true });
    expect(machine.apply({ op: 'bank-transfer', from: '0', to: '2', amount: 4, initial: 10 })).toMatchObject({ ok: false, error: 'insufficient-funds' });
    expect(machine.apply({ op: 'bank-read', accounts: ['0', '1', '2'], initial: 10 })).toMatchObject({ ok: true, value: { 0: 3, 1: 17, 2: 10 } });
  });

  it('dequeues in order, remembers which dequeue took what, and drains', () => {
    const machine = new KeyValueStateMachine();
    expect(machine.apply({ op: 'dequeue', queue: 'q', dequeueId: 'd0' })).toMatchObject({ ok: false, error: 'empty' });
    for (const value of [1, 2, 3]) machine.apply({ op: 'enqueue', queue: 'q', value });
    expect(machine.apply({ op: 'dequeue', queue: 'q', dequeueId: 'd1' })).toMatchObject({ ok: true, value: 1 });
    expect(machine.apply({ op: 'drain', queue: 'q' })).toMatchObject({ ok: true, value: { elements: [2, 3], taken: { d1: 1 } } });
  });

  it('under the lock-wall-clock bug, takes over a lease whose stamped wall clock looks run out (and only then)', () => {
    const machine = new KeyValueStateMachine();
    machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'a', ttlMs: 1000, wallClockMs: 10_000 });
    machine.apply({ op: 'lease-renew', leaseId: 1, wallClockMs: 10_500 });
    expect(machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'b', ttlMs: 1000, wallClockMs: 11_499 })).toMatchObject({ ok: false, error: 'lock-held' });
    // A leader whose clock jumped ahead: the holder's lease looks expired and is taken over.
    expect(machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'b', ttlMs: 1000, wallClockMs: 20_000 })).toMatchObject({ ok: true, value: { leaseId: 2, token: 2 } });
    // Without the stamp (the correct server) a held lock is never taken over.
    expect(machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'c', ttlMs: 1000 })).toMatchObject({ ok: false, error: 'lock-held' });
  });

  it('rejects malformed commands with a reason', () => {
    expect(validateCommand({ op: 'lock-acquire', lock: 'l', owner: 'a', ttlMs: 0 })).toMatch(/ttlMs/);
    expect(validateCommand({ op: 'bank-transfer', from: '0', to: '1', amount: -1, initial: 10 })).toMatch(/amount/);
    expect(validateCommand({ op: 'dequeue', queue: 'q', dequeueId: 'd' })).toBeNull();
    expect(validateCommand({ op: 'nonsense' })).toMatch(/op must be/);
  });
});

describe('lease keeper', () => {
  it('expires a lease only ttl after the leader saw its current version, starting afresh in a new term', () => {
    const machine = new KeyValueStateMachine();
    const keeper = new LeaseKeeper(() => machine.get(lockStateKey));
    machine.apply({ op: 'lock-acquire', lock: 'l', owner: 'a', ttlMs: 100 });
    expect(keeper.tick(0, true, 1)).toEqual([]);
    expect(keeper.tick(99, true, 1)).toEqual([]);
    machine.apply({ op: 'lease-renew', leaseId: 1 });
    // The renewal is seen at 99: the deadline moves to 199.
    expect(keeper.tick(99, true, 1)).toEqual([]);
    expect(keeper.tick(198, true, 1)).toEqual([]);
    // A new term: everything starts again from the first tick as leader.
    expect(keeper.tick(198, true, 2)).toEqual([]);
    expect(keeper.tick(297, true, 2)).toEqual([]);
    expect(keeper.tick(298, true, 2)).toEqual([{ op: 'lease-expire', leaseId: 1, version: 1 }]);
    // Proposed once, not again until the re-proposal delay.
    expect(keeper.tick(300, true, 2)).toEqual([]);
    expect(keeper.tick(400, false, 2)).toEqual([]);
  });
});
