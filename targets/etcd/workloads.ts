// etcd's counter and lock clients: a counter as a compare-and-swap loop on one key's mod revision, and a leased
// lock as etcd's concurrency recipe builds it (a key attached to a lease, ownership by lowest create revision),
// fencing writes by comparing the lock key's create revision in the same transaction, all through etcd3, unmodified.
import type { Etcd3 } from 'etcd3';
import type { Op } from '../../src/history/types.js';

export type Completion = (type: Op['type'], value: unknown, error?: string) => Op;
type Deadline = () => { deadline: Date };

const KEY_PREFIX = '/faultline';

export function counterKey(key: unknown): string {
  return `${KEY_PREFIX}/counter/${key === undefined || key === null ? '_' : String(key)}`;
}

export function lockPrefix(lock: string): string {
  return `${KEY_PREFIX}/lock/${lock}/`;
}

export function lockResourceKey(lock: string): string {
  return `${KEY_PREFIX}/lock-resource/${lock}`;
}

/** Compare-and-swap attempts for one add: each losing attempt certainly changed nothing, so retrying is safe. */
const counterAttemptsMax = 20;

export async function invokeCounter(etcd: Etcd3, op: Op, completion: Completion, deadline: Deadline, serializable: boolean): Promise<Op> {
  const key = counterKey(op.key);
  switch (op.f) {
    case 'read': {
      const text = await etcd.get(key).serializable(serializable).options(deadline()).string();
      return completion('ok', text === null ? 0 : Number(text));
    }
    case 'add': {
      if (typeof op.value !== 'number') return completion('fail', op.value, 'add expects a number');
      for (let attempt = 0; attempt < counterAttemptsMax; attempt++) {
        const found = await etcd.get(key).options(deadline()).exec();
        const current = found.kvs[0];
        // The swap happens only if nobody wrote the key since we read it (mod revision; version 0 when absent).
        const guard = current ? etcd.if(key, 'Mod', '==', Number(current.mod_revision)) : etcd.if(key, 'Version', '==', 0);
        const next = (current ? Number(current.value.toString()) : 0) + op.value;
        const response = await guard.then(etcd.put(key).value(String(next))).options(deadline()).commit();
        if (response.succeeded) return completion('ok', op.value);
      }
      return completion('fail', op.value, `lost ${counterAttemptsMax} compare-and-swap races`);
    }
    default:
      return completion('fail', op.value, `unknown counter function ${op.f}`);
  }
}

/** What one client (one process) knows of the lock it holds. */
interface LockSession {
  lock: string;
  leaseId: string;
  key: string;
  /** The lock key's create revision: etcd's fencing token. */
  token: number;
  ttlMs: number;
  /** performance.now() past which the holder can no longer know its lease is alive. */
  knownUntilMs: number;
}

export class EtcdLockState {
  session: LockSession | null = null;

  current(nowMs: number): LockSession | null {
    if (this.session && nowMs >= this.session.knownUntilMs) this.session = null;
    return this.session;
  }
}

/** One keepalive over the lease stream: the TTL etcd reports (0 or less: the lease is gone). */
async function keepAliveOnce(etcd: Etcd3, leaseId: string, deadline: Deadline): Promise<number> {
  const stream = await etcd.leaseClient.leaseKeepAlive(deadline());
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.on('data', (response: { TTL: string }) => resolve(Number(response.TTL)));
      stream.on('error', reject);
      stream.write({ ID: leaseId });
    });
  } finally {
    stream.end();
  }
}

/**
 * acquire is etcd's TryLock: grant a lease, create `prefix/leaseId` attached to it unless it exists, and hold the
 * lock if that key has the lowest create revision under the prefix; otherwise revoke the lease (removing the key)
 * and fail. The lease is granted after the acquire was invoked, so it lasts at least until invoke + ttl, the
 * bound the holder (and the checker) counts on; an ok renew invoked before the bound moves it to renew + ttl.
 */
export async function invokeLock(etcd: Etcd3, op: Op, state: EtcdLockState, completion: Completion, deadline: Deadline): Promise<Op> {
  const lock = String(op.key ?? 'lock');
  const invokedAtMs = performance.now();
  const session = state.current(invokedAtMs);
  switch (op.f) {
    case 'acquire': {
      // A client that acquires again walks away from any lease it still had: it runs out on its own.
      state.session = null;
      const ttlMs = Number((op.value as { ttlMs?: unknown } | null)?.ttlMs ?? 3000);
      // etcd leases are whole seconds; rounding down keeps the holder's bound no longer than etcd's lease.
      const ttlSeconds = Math.max(1, Math.floor(ttlMs / 1000));
      const granted = await etcd.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }, deadline());
      const leaseId = granted.ID;
      const prefix = lockPrefix(lock);
      const key = `${prefix}${leaseId}`;
      let holds = false;
      let token = 0;
      try {
        const created = await etcd.if(key, 'Create', '==', 0).then(etcd.put(key).value('').lease(leaseId)).options(deadline()).commit();
        if (created.succeeded) {
          token = Number(created.header.revision);
          const owner = await etcd.getAll().prefix(prefix).sort('Create', 'Ascend').limit(1).options(deadline()).exec();
          holds = owner.kvs.length > 0 && owner.kvs[0].key.toString() === key;
        }
      } finally {
        // Not the owner (or unsure): give the lease back, which removes our key. If that fails, the lease and key
        // may stay until the TTL ends; this op stays info (the checker counts only ok acquires as holders).
        if (!holds) await etcd.leaseClient.leaseRevoke({ ID: leaseId }, deadline());
      }
      if (!holds) return completion('fail', op.value, 'lock held by another client');
      state.session = { lock, leaseId, key, token, ttlMs: ttlSeconds * 1000, knownUntilMs: invokedAtMs + ttlSeconds * 1000 };
      return completion('ok', { token, ttlMs: ttlSeconds * 1000 });
    }
    case 'renew': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      const ttlSeconds = await keepAliveOnce(etcd, session.leaseId, deadline);
      if (ttlSeconds <= 0) {
        state.session = null;
        return completion('fail', op.value, 'lease expired');
      }
      if (state.session === session && invokedAtMs < session.knownUntilMs) session.knownUntilMs = Math.max(session.knownUntilMs, invokedAtMs + session.ttlMs);
      return completion('ok', { ttlMs: session.ttlMs });
    }
    case 'release': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      state.session = null;
      await etcd.leaseClient.leaseRevoke({ ID: session.leaseId }, deadline());
      return completion('ok', op.value);
    }
    case 'write': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      const value = (op.value as { value?: unknown } | null)?.value ?? null;
      const resourceKey = lockResourceKey(lock);
      const found = await etcd.get(resourceKey).options(deadline()).exec();
      const current = found.kvs[0];
      const writes = current ? (JSON.parse(current.value.toString()) as unknown[]) : [];
      // Fenced: applied only while our lock key still exists with our create revision, and nobody wrote between.
      const resourceGuard = current ? etcd.if(resourceKey, 'Mod', '==', Number(current.mod_revision)) : etcd.if(resourceKey, 'Version', '==', 0);
      const response = await resourceGuard
        .and(session.key, 'Create', '==', session.token)
        .then(etcd.put(resourceKey).value(JSON.stringify([...writes, [session.token, value]])))
        .options(deadline())
        .commit();
      return response.succeeded ? completion('ok', { token: session.token, value }) : completion('fail', op.value, 'fenced out: lock key gone or resource changed');
    }
    case 'read': {
      const text = await etcd.get(lockResourceKey(lock)).options(deadline()).string();
      return completion('ok', text === null ? [] : JSON.parse(text));
    }
    default:
      return completion('fail', op.value, `unknown lock function ${op.f}`);
  }
}

export function bankPrefix(key: unknown): string {
  return `${KEY_PREFIX}/bank/${key === undefined || key === null ? '_' : String(key)}/`;
}

export function queuePrefix(key: unknown): string {
  return `${KEY_PREFIX}/queue/${key === undefined || key === null ? '_' : String(key)}/items/`;
}

export function queueTakenPrefix(key: unknown): string {
  return `${KEY_PREFIX}/queue/${key === undefined || key === null ? '_' : String(key)}/taken/`;
}

/** Optimistic transaction attempts for one transfer or dequeue: a losing attempt certainly changed nothing. */
const transactionAttemptsMax = 20;

/**
 * bank: each account is a key (absent: the initial balance); a transfer reads both accounts and commits only if
 * neither changed since (mod revisions compared in one transaction); a read is one range read, a snapshot.
 */
export async function invokeBank(etcd: Etcd3, op: Op, completion: Completion, deadline: Deadline, serializable: boolean): Promise<Op> {
  const prefix = bankPrefix(op.key);
  const accounts = Array.isArray(op.accounts) ? op.accounts.map(String) : [];
  const initial = typeof op.initialBalance === 'number' ? op.initialBalance : 0;
  switch (op.f) {
    case 'read': {
      // One range read: every account as of one revision.
      const stored = await etcd.getAll().prefix(prefix).serializable(serializable).options(deadline()).strings();
      return completion('ok', Object.fromEntries(accounts.map((account) => [account, `${prefix}${account}` in stored ? Number(stored[`${prefix}${account}`]) : initial])));
    }
    case 'transfer': {
      const { from, to, amount } = (op.value ?? {}) as { from?: unknown; to?: unknown; amount?: unknown };
      if (typeof amount !== 'number' || amount <= 0 || String(from) === String(to)) return completion('fail', op.value, 'transfer expects two accounts and a positive amount');
      const fromKey = `${prefix}${String(from)}`;
      const toKey = `${prefix}${String(to)}`;
      for (let attempt = 0; attempt < transactionAttemptsMax; attempt++) {
        const [fromFound, toFound] = await Promise.all([etcd.get(fromKey).options(deadline()).exec(), etcd.get(toKey).options(deadline()).exec()]);
        const fromKv = fromFound.kvs[0];
        const toKv = toFound.kvs[0];
        const fromBalance = fromKv ? Number(fromKv.value.toString()) : initial;
        const toBalance = toKv ? Number(toKv.value.toString()) : initial;
        if (fromBalance < amount) return completion('fail', op.value, 'insufficient-funds');
        const fromGuard = fromKv ? etcd.if(fromKey, 'Mod', '==', Number(fromKv.mod_revision)) : etcd.if(fromKey, 'Version', '==', 0);
        const guard = toKv ? fromGuard.and(toKey, 'Mod', '==', Number(toKv.mod_revision)) : fromGuard.and(toKey, 'Version', '==', 0);
        const response = await guard
          .then(etcd.put(fromKey).value(String(fromBalance - amount)), etcd.put(toKey).value(String(toBalance + amount)))
          .options(deadline())
          .commit();
        if (response.succeeded) return completion('ok', op.value);
      }
      return completion('fail', op.value, `lost ${transactionAttemptsMax} transaction races`);
    }
    default:
      return completion('fail', op.value, `unknown bank function ${op.f}`);
  }
}

/**
 * queue: an element is a key under the queue's prefix, in create-revision order; a dequeue deletes the oldest
 * in a transaction that checks it is still there and records which dequeue took it; the drain deletes every
 * element in one range delete, returning them, and reports those records.
 */
export async function invokeQueue(etcd: Etcd3, op: Op, completion: Completion, deadline: Deadline): Promise<Op> {
  const prefix = queuePrefix(op.key);
  const takenPrefix = queueTakenPrefix(op.key);
  switch (op.f) {
    case 'enqueue':
      await etcd.put(`${prefix}${JSON.stringify(op.value)}`).value(JSON.stringify(op.value)).options(deadline()).exec();
      return completion('ok', op.value);
    case 'dequeue': {
      if (typeof op.dequeueId !== 'string') return completion('fail', op.value, 'dequeue expects a dequeueId');
      for (let attempt = 0; attempt < transactionAttemptsMax; attempt++) {
        const oldest = await etcd.getAll().prefix(prefix).sort('Create', 'Ascend').limit(1).options(deadline()).exec();
        const head = oldest.kvs[0];
        if (!head) return completion('fail', null, 'empty');
        const key = head.key.toString();
        const response = await etcd
          .if(key, 'Create', '==', Number(head.create_revision))
          .then(etcd.delete().key(key), etcd.put(`${takenPrefix}${op.dequeueId}`).value(head.value.toString()))
          .options(deadline())
          .commit();
        if (response.succeeded) return completion('ok', JSON.parse(head.value.toString()));
      }
      return completion('fail', null, `lost ${transactionAttemptsMax} dequeue races`);
    }
    case 'drain': {
      const deleted = await etcd.delete().prefix(prefix).options(deadline()).getPrevious();
      const elements = [...deleted].sort((a, b) => Number(a.create_revision) - Number(b.create_revision)).map((kv) => JSON.parse(kv.value.toString()) as unknown);
      const takenRecords = await etcd.getAll().prefix(takenPrefix).options(deadline()).strings();
      const taken = Object.fromEntries(Object.entries(takenRecords).map(([key, element]) => [key.slice(takenPrefix.length), JSON.parse(element) as unknown]));
      return { ...completion('ok', elements), taken };
    }
    default:
      return completion('fail', op.value, `unknown queue function ${op.f}`);
  }
}
