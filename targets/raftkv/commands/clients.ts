// The raftkv client's side of the bank, queue and lock workloads: op shapes (see workloads/*/index.ts) to the
// HTTP routes of commands/index.ts, and the lock holder's own view of its lease.
import type { Op } from '../../../src/history/types.js';
import type { RaftkvHttpClient, RaftkvResponse } from '../http-client.js';

export type Completion = (type: Op['type'], value: unknown, error?: string) => Op;
/** The adapter's mapping of an unsuccessful answer: fail when certainly without effect (or a read), else info. */
export type Failed = (response: RaftkvResponse) => Op;

const refusal = (response: RaftkvResponse) => (response.status === 422 ? String(response.body.error ?? 'refused') : undefined);

export async function invokeBank(http: RaftkvHttpClient, op: Op, completion: Completion, failed: Failed, timeoutMs: number): Promise<Op> {
  const accounts = Array.isArray(op.accounts) ? op.accounts.map(String) : [];
  const initial = typeof op.initialBalance === 'number' ? op.initialBalance : 0;
  switch (op.f) {
    case 'read': {
      // One command reads every account: a consistent snapshot, linearizable through the log.
      const response = await http.request('POST', '/bank/read', { accounts, initial }, timeoutMs);
      return response.status === 200 ? completion('ok', response.body.value) : failed(response);
    }
    case 'transfer': {
      const { from, to, amount } = (op.value ?? {}) as { from?: unknown; to?: unknown; amount?: unknown };
      const response = await http.request('POST', '/bank/transfer', { from: String(from), to: String(to), amount, initial }, timeoutMs);
      if (response.status === 200) return completion('ok', op.value);
      const refused = refusal(response);
      return refused ? completion('fail', op.value, refused) : failed(response);
    }
    default:
      return completion('fail', op.value, `unknown bank function ${op.f}`);
  }
}

export async function invokeQueue(http: RaftkvHttpClient, op: Op, completion: Completion, failed: Failed, timeoutMs: number): Promise<Op> {
  const queue = `q-${String(op.key ?? 'default')}`;
  switch (op.f) {
    case 'enqueue': {
      const response = await http.request('POST', '/queue/enqueue', { queue, value: op.value }, timeoutMs);
      return response.status === 200 ? completion('ok', op.value) : failed(response);
    }
    case 'dequeue': {
      if (typeof op.dequeueId !== 'string') return completion('fail', op.value, 'dequeue expects a dequeueId');
      const response = await http.request('POST', '/queue/dequeue', { queue, dequeueId: op.dequeueId }, timeoutMs);
      if (response.status === 200) return completion('ok', response.body.value);
      const refused = refusal(response);
      return refused ? completion('fail', null, refused) : failed(response);
    }
    case 'drain': {
      const response = await http.request('POST', '/queue/drain', { queue }, timeoutMs);
      if (response.status !== 200) return failed(response);
      const { elements, taken } = response.body.value as { elements: unknown[]; taken: Record<string, unknown> };
      return { ...completion('ok', elements), taken };
    }
    default:
      return completion('fail', op.value, `unknown queue function ${op.f}`);
  }
}

/** What one client (one process) knows of the lock it holds. */
export interface LockSession {
  lock: string;
  leaseId: number;
  token: number;
  ttlMs: number;
  /** performance.now() past which the holder can no longer know its lease is alive (the checker's rule). */
  knownUntilMs: number;
}

export class LockClientState {
  session: LockSession | null = null;

  /** The session if it has not lapsed by this client's clock; a lapsed one is dropped (its lease runs out). */
  current(nowMs: number): LockSession | null {
    if (this.session && nowMs >= this.session.knownUntilMs) this.session = null;
    return this.session;
  }
}

export async function invokeLock(http: RaftkvHttpClient, op: Op, state: LockClientState, completion: Completion, failed: Failed, timeoutMs: number, owner: string): Promise<Op> {
  const lock = String(op.key ?? 'lock');
  const invokedAtMs = performance.now();
  const session = state.current(invokedAtMs);
  switch (op.f) {
    case 'acquire': {
      // A client that acquires again walks away from any lease it still had: it runs out on its own.
      state.session = null;
      const ttlMs = (op.value as { ttlMs?: unknown } | null)?.ttlMs;
      const response = await http.request('POST', '/lock/acquire', { lock, owner, ttlMs }, timeoutMs);
      if (response.status !== 200) {
        const refused = refusal(response);
        return refused ? completion('fail', op.value, refused) : failed(response);
      }
      const granted = response.body.value as { leaseId: number; token: number; ttlMs: number };
      state.session = { lock, leaseId: granted.leaseId, token: granted.token, ttlMs: granted.ttlMs, knownUntilMs: invokedAtMs + granted.ttlMs };
      return completion('ok', { token: granted.token, ttlMs: granted.ttlMs });
    }
    case 'renew': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      const response = await http.request('POST', '/lock/renew', { leaseId: session.leaseId }, timeoutMs);
      if (response.status !== 200) {
        const refused = refusal(response);
        if (refused) state.session = null;
        return refused ? completion('fail', op.value, refused) : failed(response);
      }
      // Renewed no earlier than it was asked: known alive until then + ttl (if not lapsed meanwhile).
      if (state.session === session && invokedAtMs < session.knownUntilMs) session.knownUntilMs = Math.max(session.knownUntilMs, invokedAtMs + session.ttlMs);
      return completion('ok', { ttlMs: session.ttlMs });
    }
    case 'release': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      // From now on this client no longer claims the lock, whatever the answer.
      state.session = null;
      const response = await http.request('POST', '/lock/release', { lock, leaseId: session.leaseId }, timeoutMs);
      if (response.status === 200) return completion('ok', op.value);
      const refused = refusal(response);
      return refused ? completion('fail', op.value, refused) : failed(response);
    }
    case 'write': {
      if (!session || session.lock !== lock) return completion('fail', op.value, 'not holding this lock');
      const value = (op.value as { value?: unknown } | null)?.value ?? null;
      const response = await http.request('POST', '/lock/fenced-append', { resource: lock, token: session.token, value }, timeoutMs);
      if (response.status === 200) return completion('ok', { token: session.token, value });
      const refused = refusal(response);
      return refused ? completion('fail', op.value, refused) : failed(response);
    }
    case 'read': {
      const response = await http.request('GET', `/kv/${encodeURIComponent(`fenced-${lock}`)}`, undefined, timeoutMs);
      if (response.status !== 200) return failed(response);
      const resource = response.body.value as { writes?: unknown[] } | null;
      return completion('ok', resource?.writes ?? []);
    }
    default:
      return completion('fail', op.value, `unknown lock function ${op.f}`);
  }
}
