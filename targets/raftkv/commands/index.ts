// raftkv's commands beyond put/delete/cas/txn, for the lock, bank and queue workloads: each is one Raft entry,
// applied atomically and deterministically on every node, keeping its state in ordinary keys (so snapshots carry it).
import type { JsonValue } from '../state-machine.js';

/** The key holding every leased lock, lease and the token counters (one key: one atomic, snapshotted object). */
export const lockStateKey = 'lock-state';

export type ExtensionCommand =
  /** Grants a lease of ttlMs and takes the lock with it if it is free; answers {leaseId, token, ttlMs}. */
  | { op: 'lock-acquire'; lock: string; owner: string; ttlMs: number; wallClockMs?: number; requestId?: string }
  /** Keeps a lease alive: the leader's expiry clock starts again; answers {ttlMs}. */
  | { op: 'lease-renew'; leaseId: number; wallClockMs?: number; requestId?: string }
  | { op: 'lock-release'; lock: string; leaseId: number; requestId?: string }
  /** Proposed by the leader when a lease ran out on its clock; a no-op if the lease was renewed since (version). */
  | { op: 'lease-expire'; leaseId: number; version: number; requestId?: string }
  /** A fenced write: accepted only with a token at least the largest the resource has accepted. */
  | { op: 'fenced-append'; resource: string; token: number; value: JsonValue; requestId?: string }
  /** Moves amount between two accounts if `from` holds enough; a missing account holds `initial`. */
  | { op: 'bank-transfer'; from: string; to: string; amount: number; initial: number; requestId?: string }
  /** Reads every account in one entry (a consistent snapshot); a missing account holds `initial`. */
  | { op: 'bank-read'; accounts: string[]; initial: number; requestId?: string }
  | { op: 'enqueue'; queue: string; value: JsonValue; requestId?: string }
  /** Takes the head, remembering which dequeue took it (so the checker can settle a dequeue that timed out). */
  | { op: 'dequeue'; queue: string; dequeueId: string; requestId?: string }
  /** Takes every element left; answers {elements, taken: {dequeueId: element}}. */
  | { op: 'drain'; queue: string; requestId?: string };

export type ExtensionResult = { extension: true; ok: true; value: JsonValue } | { extension: true; ok: false; error: string };

/** HTTP routes (POST, JSON body) to the command each proposes. */
export const extensionRoutes = new Map<string, ExtensionCommand['op']>([
  ['/lock/acquire', 'lock-acquire'],
  ['/lock/renew', 'lease-renew'],
  ['/lock/release', 'lock-release'],
  ['/lock/fenced-append', 'fenced-append'],
  ['/bank/transfer', 'bank-transfer'],
  ['/bank/read', 'bank-read'],
  ['/queue/enqueue', 'enqueue'],
  ['/queue/dequeue', 'dequeue'],
  ['/queue/drain', 'drain'],
]);

export interface KeyValueAccess {
  get(key: string): JsonValue;
  set(key: string, value: JsonValue): void;
}

export interface LockState {
  nextLease: number;
  nextToken: number;
  /** renewedAtWallMs: only under the lock-wall-clock bug, the proposing leader's wall clock at grant or renewal. */
  leases: Record<string, { ttlMs: number; version: number; lock: string; renewedAtWallMs?: number }>;
  locks: Record<string, { leaseId: number; token: number; owner: string }>;
}

/** A copy: the stored object may be part of a snapshot being written, so it is never changed in place. */
export function readLockState(value: JsonValue): LockState {
  const state = value === null ? null : (JSON.parse(JSON.stringify(value)) as LockState);
  return state ?? { nextLease: 0, nextToken: 0, leases: {}, locks: {} };
}

const ok = (value: JsonValue = null): ExtensionResult => ({ extension: true, ok: true, value });
const refused = (error: string): ExtensionResult => ({ extension: true, ok: false, error });

function executeLock(command: Extract<ExtensionCommand, { op: 'lock-acquire' | 'lease-renew' | 'lock-release' | 'lease-expire' }>, store: KeyValueAccess): ExtensionResult {
  const state = readLockState(store.get(lockStateKey));
  const save = () => store.set(lockStateKey, state as unknown as JsonValue);
  switch (command.op) {
    case 'lock-acquire': {
      const held = state.locks[command.lock];
      if (held) {
        // The lock-wall-clock bug (wallClockMs is stamped only then): a lease whose wall-clock time looks up is
        // taken over at once, without waiting for the leader's expiry entry. A skewed clock makes it look up early.
        const lease = state.leases[held.leaseId];
        const looksExpired = command.wallClockMs !== undefined && lease?.renewedAtWallMs !== undefined && lease.renewedAtWallMs + lease.ttlMs <= command.wallClockMs;
        if (!looksExpired) return refused('lock-held');
        delete state.leases[held.leaseId];
      }
      const leaseId = ++state.nextLease;
      const token = ++state.nextToken;
      state.leases[leaseId] = { ttlMs: command.ttlMs, version: 0, lock: command.lock, ...(command.wallClockMs === undefined ? {} : { renewedAtWallMs: command.wallClockMs }) };
      state.locks[command.lock] = { leaseId, token, owner: command.owner };
      save();
      return ok({ leaseId, token, ttlMs: command.ttlMs });
    }
    case 'lease-renew': {
      const lease = state.leases[command.leaseId];
      if (!lease) return refused('no-lease');
      lease.version++;
      if (command.wallClockMs !== undefined) lease.renewedAtWallMs = command.wallClockMs;
      save();
      return ok({ ttlMs: lease.ttlMs });
    }
    case 'lock-release': {
      const held = state.locks[command.lock];
      if (!held || held.leaseId !== command.leaseId) return refused('not-holder');
      delete state.locks[command.lock];
      delete state.leases[command.leaseId];
      save();
      return ok();
    }
    case 'lease-expire': {
      const lease = state.leases[command.leaseId];
      if (!lease || lease.version !== command.version) return ok(false);
      if (state.locks[lease.lock]?.leaseId === command.leaseId) delete state.locks[lease.lock];
      delete state.leases[command.leaseId];
      save();
      return ok(true);
    }
  }
}

export function executeExtension(command: ExtensionCommand, store: KeyValueAccess): ExtensionResult {
  switch (command.op) {
    case 'lock-acquire':
    case 'lease-renew':
    case 'lock-release':
    case 'lease-expire':
      return executeLock(command, store);
    case 'fenced-append': {
      const key = `fenced-${command.resource}`;
      const resource = store.get(key) as { maxToken: number; writes: JsonValue[] } | null;
      if (resource && command.token < resource.maxToken) return refused('stale-token');
      store.set(key, { maxToken: command.token, writes: [...(resource?.writes ?? []), [command.token, command.value]] });
      return ok();
    }
    case 'bank-transfer': {
      const fromKey = `bank-${command.from}`;
      const toKey = `bank-${command.to}`;
      const fromBalance = (store.get(fromKey) as number | null) ?? command.initial;
      const toBalance = (store.get(toKey) as number | null) ?? command.initial;
      if (command.from === command.to) return refused('same-account');
      if (fromBalance < command.amount) return refused('insufficient-funds');
      store.set(fromKey, fromBalance - command.amount);
      store.set(toKey, toBalance + command.amount);
      return ok();
    }
    case 'bank-read':
      return ok(Object.fromEntries(command.accounts.map((account) => [account, (store.get(`bank-${account}`) as number | null) ?? command.initial])));
    case 'enqueue': {
      const key = `queue-${command.queue}`;
      store.set(key, [...((store.get(key) as JsonValue[] | null) ?? []), command.value]);
      return ok();
    }
    case 'dequeue': {
      const key = `queue-${command.queue}`;
      const elements = (store.get(key) as JsonValue[] | null) ?? [];
      if (elements.length === 0) return refused('empty');
      const [head, ...rest] = elements;
      store.set(key, rest);
      const takenKey = `queue-taken-${command.queue}`;
      store.set(takenKey, { ...((store.get(takenKey) as Record<string, JsonValue> | null) ?? {}), [command.dequeueId]: head });
      return ok(head);
    }
    case 'drain': {
      const key = `queue-${command.queue}`;
      const elements = (store.get(key) as JsonValue[] | null) ?? [];
      store.set(key, []);
      return ok({ elements, taken: (store.get(`queue-taken-${command.queue}`) as JsonValue) ?? {} });
    }
  }
}

const isName = (value: unknown) => typeof value === 'string' && value.length > 0 && value.length <= 200;
const isWhole = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);

/** undefined: not one of these commands; null: well formed; else the reason it is not. */
export function validateExtension(command: Record<string, unknown>): string | null | undefined {
  switch (command.op) {
    case 'lock-acquire':
      return isName(command.lock) && isName(command.owner) && isWhole(command.ttlMs) && (command.ttlMs as number) > 0 ? null : 'lock-acquire needs lock, owner and ttlMs (a positive integer)';
    case 'lease-renew':
      return isWhole(command.leaseId) ? null : 'lease-renew needs leaseId';
    case 'lock-release':
      return isName(command.lock) && isWhole(command.leaseId) ? null : 'lock-release needs lock and leaseId';
    case 'lease-expire':
      return isWhole(command.leaseId) && isWhole(command.version) ? null : 'lease-expire needs leaseId and version';
    case 'fenced-append':
      return isName(command.resource) && isWhole(command.token) && command.value !== undefined ? null : 'fenced-append needs resource, token (an integer) and value';
    case 'bank-transfer':
      return isName(command.from) && isName(command.to) && isWhole(command.amount) && (command.amount as number) > 0 && isWhole(command.initial) ? null : 'bank-transfer needs from, to, amount (a positive integer) and initial';
    case 'bank-read':
      return Array.isArray(command.accounts) && command.accounts.length <= 1000 && command.accounts.every(isName) && isWhole(command.initial) ? null : 'bank-read needs accounts (names) and initial';
    case 'enqueue':
      return isName(command.queue) && command.value !== undefined ? null : 'enqueue needs queue and value';
    case 'dequeue':
      return isName(command.queue) && isName(command.dequeueId) ? null : 'dequeue needs queue and dequeueId';
    case 'drain':
      return isName(command.queue) ? null : 'drain needs queue';
    default:
      return undefined;
  }
}

/** The lock-wall-clock bug: the leader stamps lock commands with its wall clock, which the state machine trusts. */
export function stampWallClock(command: { op: string; wallClockMs?: number }, nowWallMs: number): void {
  if (command.op === 'lock-acquire' || command.op === 'lease-renew') command.wallClockMs = nowWallMs;
}
