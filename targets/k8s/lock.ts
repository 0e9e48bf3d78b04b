// The lock workload on Kubernetes: a coordination.k8s.io Lease taken as client-go's leader election takes it
// (free, or unchanged for a lease duration as this client observed it; updated under a resourceVersion
// precondition), and a ConfigMap resource fenced by the Lease's transition count as the token.
import { ApiException, type CoordinationV1Api, type CoreV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Op } from '../../src/history/types.js';

export const LOCK_NAMESPACE = 'default';

type Completion = (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op;
type Bounded = <T>(call: () => Promise<T>) => Promise<T>;

/** One client's view: its identity, what it holds, and when it last saw each Lease record change. */
export class K8sLockState {
  readonly identity = `faultline-${Math.random().toString(36).slice(2, 10)}`;
  session: { lock: string; token: number; ttlMs: number } | null = null;
  readonly observed = new Map<string, { record: string; atMs: number }>();
}

function leaseName(lock: string): string {
  return `faultline-lock-${lock}`;
}

function resourceName(lock: string): string {
  return `faultline-lock-${lock}-resource`;
}

function notFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

async function readLease(coordination: CoordinationV1Api, lock: string, bounded: Bounded): Promise<V1Lease | undefined> {
  try {
    return await bounded(() => coordination.readNamespacedLease({ name: leaseName(lock), namespace: LOCK_NAMESPACE }));
  } catch (error) {
    if (notFound(error)) return undefined;
    throw error;
  }
}

function leaseBody(lock: string, holder: string, transitions: number, ttlMs: number, resourceVersion?: string): V1Lease {
  return {
    metadata: { name: leaseName(lock), namespace: LOCK_NAMESPACE, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      leaseTransitions: transitions,
      renewTime: new V1MicroTime(),
      ...(holder ? { acquireTime: new V1MicroTime() } : {}),
    },
  };
}

/** Whether the Lease is ours under the session's token (a certain answer from a consistent read). */
function heldBySession(lease: V1Lease | undefined, state: K8sLockState, token: number): boolean {
  return lease?.spec?.holderIdentity === state.identity && (lease.spec.leaseTransitions ?? 0) === token;
}

export async function invokeK8sLock(
  coordination: CoordinationV1Api,
  core: CoreV1Api,
  op: Op,
  state: K8sLockState,
  completion: Completion,
  bounded: Bounded,
): Promise<Op> {
  const lock = String(op.key ?? 'lock');
  const session = state.session && state.session.lock === lock ? state.session : null;
  switch (op.f) {
    case 'acquire': {
      // A client that acquires again walks away from what it held: that lease runs out on its own.
      state.session = null;
      const ttlMs = Number((op.value as { ttlMs?: unknown } | null)?.ttlMs ?? 3000);
      const lease = await readLease(coordination, lock, bounded);
      const now = performance.now();
      if (!lease) {
        await bounded(() => coordination.createNamespacedLease({ namespace: LOCK_NAMESPACE, body: leaseBody(lock, state.identity, 1, ttlMs) }));
        state.session = { lock, token: 1, ttlMs };
        return completion('ok', { token: 1, ttlMs });
      }
      // client-go's rule: a held Lease is taken over only once its record has not changed for a lease duration,
      // measured on this client's clock from when it first saw that record (never from the record's timestamps).
      const record = JSON.stringify({ holder: lease.spec?.holderIdentity, transitions: lease.spec?.leaseTransitions, renew: lease.spec?.renewTime });
      const seen = state.observed.get(lock);
      if (!seen || seen.record !== record) state.observed.set(lock, { record, atMs: now });
      const observedAtMs = state.observed.get(lock)!.atMs;
      const holder = lease.spec?.holderIdentity ?? '';
      if (holder !== '' && holder !== state.identity && observedAtMs + ttlMs > now) return completion('fail', op.value, { error: 'lock held by another client' });
      const token = (lease.spec?.leaseTransitions ?? 0) + 1;
      await bounded(() =>
        coordination.replaceNamespacedLease({ name: leaseName(lock), namespace: LOCK_NAMESPACE, body: leaseBody(lock, state.identity, token, ttlMs, lease.metadata?.resourceVersion) }),
      );
      state.session = { lock, token, ttlMs };
      return completion('ok', { token, ttlMs });
    }
    case 'renew': {
      if (!session) return completion('fail', op.value, { error: 'not holding this lock' });
      const lease = await readLease(coordination, lock, bounded);
      if (!lease || !heldBySession(lease, state, session.token)) {
        state.session = null;
        return completion('fail', op.value, { error: 'lease lost' });
      }
      await bounded(() =>
        coordination.replaceNamespacedLease({ name: leaseName(lock), namespace: LOCK_NAMESPACE, body: leaseBody(lock, state.identity, session.token, session.ttlMs, lease.metadata?.resourceVersion) }),
      );
      return completion('ok', { ttlMs: session.ttlMs });
    }
    case 'release': {
      if (!session) return completion('fail', op.value, { error: 'not holding this lock' });
      state.session = null;
      const lease = await readLease(coordination, lock, bounded);
      if (!lease || !heldBySession(lease, state, session.token)) return completion('fail', op.value, { error: 'lease lost' });
      await bounded(() =>
        coordination.replaceNamespacedLease({ name: leaseName(lock), namespace: LOCK_NAMESPACE, body: leaseBody(lock, '', session.token, session.ttlMs, lease.metadata?.resourceVersion) }),
      );
      return completion('ok', op.value);
    }
    case 'write': {
      if (!session) return completion('fail', op.value, { error: 'not holding this lock' });
      const value = (op.value as { value?: unknown } | null)?.value ?? null;
      // Fenced by the token: the resource keeps the highest token it accepted and refuses lower ones; the PUT's
      // resourceVersion precondition makes the check and the write one step.
      let current;
      try {
        current = await bounded(() => core.readNamespacedConfigMap({ name: resourceName(lock), namespace: LOCK_NAMESPACE }));
      } catch (error) {
        if (!notFound(error)) throw error;
      }
      const writes = current?.data?.writes ? (JSON.parse(current.data.writes) as unknown[]) : [];
      const highest = Number(current?.data?.token ?? 0);
      if (session.token < highest) return completion('fail', op.value, { error: `fenced out: token ${session.token} below ${highest}` });
      const body = {
        metadata: { name: resourceName(lock), namespace: LOCK_NAMESPACE, ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}) },
        data: { writes: JSON.stringify([...writes, [session.token, value]]), token: String(session.token) },
      };
      if (current) await bounded(() => core.replaceNamespacedConfigMap({ name: resourceName(lock), namespace: LOCK_NAMESPACE, body }));
      else await bounded(() => core.createNamespacedConfigMap({ namespace: LOCK_NAMESPACE, body }));
      return completion('ok', { token: session.token, value });
    }
    case 'read': {
      try {
        const current = await bounded(() => core.readNamespacedConfigMap({ name: resourceName(lock), namespace: LOCK_NAMESPACE }));
        return completion('ok', current.data?.writes ? JSON.parse(current.data.writes) : []);
      } catch (error) {
        if (notFound(error)) return completion('ok', []);
        throw error;
      }
    }
    default:
      return completion('fail', op.value, { error: `unknown lock function ${op.f}` });
  }
}
