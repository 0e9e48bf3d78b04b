// The leader-election workload's client side: one candidate per client, running client-go's leaderelection
// algorithm on a Lease one step per `elect` op (an acquire attempt, or a renew round bounded by renewDeadline).
import { ApiException, type CoordinationV1Api, V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Op } from '../../src/history/types.js';

export const ELECTION_NAMESPACE = 'default';

type Completion = (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op;

interface Timing {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

function leaseName(key: unknown): string {
  return `faultline-election-${key === undefined || key === null ? 'leader' : String(key)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Rejects after `ms`: the attempt's outcome is then unknown (client-go counts it as a failed attempt). Shared by
 * the k8s clients that wait on one API call (lease.ts, watch-client.ts).
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(ms)} ms`)), Math.max(1, ms));
    }),
  ]).finally(() => clearTimeout(timer));
}

function errorText(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}`;
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
}

/** One candidate's memory between steps (client-go's observedRecord/observedTime and whether it leads). */
export class K8sElectionState {
  readonly identity = `candidate-${Math.random().toString(36).slice(2, 10)}`;
  observedRecord = '';
  /** When this candidate last saw the record change, on its own monotonic clock (never the record's timestamps). */
  observedAtMs = 0;
  leading = false;
  /** When its last acquire or renew succeeded: a renew round ends at this + retryPeriod + renewDeadline. */
  lastSuccessMs = 0;
  transitions = 0;
}

function spec(holder: string, acquireTime: Date, transitions: number, timing: Timing): V1LeaseSpec {
  return {
    holderIdentity: holder,
    leaseDurationSeconds: Math.ceil(timing.leaseDurationMs / 1000),
    acquireTime: new V1MicroTime(acquireTime.getTime()),
    renewTime: new V1MicroTime(),
    leaseTransitions: transitions,
  };
}

/** client-go's tryAcquireOrRenew: true when this candidate holds the Lease after the call. */
async function tryAcquireOrRenew(api: CoordinationV1Api, name: string, state: K8sElectionState, timing: Timing, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const remaining = () => deadline - performance.now();
  let lease: V1Lease | undefined;
  try {
    lease = await within(api.readNamespacedLease({ name, namespace: ELECTION_NAMESPACE }), remaining());
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
  if (!lease) {
    const created = await within(api.createNamespacedLease({ namespace: ELECTION_NAMESPACE, body: { metadata: { name, namespace: ELECTION_NAMESPACE }, spec: spec(state.identity, new Date(), 1, timing) } }), remaining());
    state.observedRecord = JSON.stringify(created.spec ?? {});
    state.observedAtMs = performance.now();
    state.transitions = 1;
    return true;
  }
  const current = lease.spec ?? {};
  const record = JSON.stringify(current);
  if (record !== state.observedRecord) {
    state.observedRecord = record;
    state.observedAtMs = performance.now();
  }
  const holder = current.holderIdentity ?? '';
  // Held by another and not expired as this candidate has observed it: do not touch it.
  if (holder !== '' && holder !== state.identity && state.observedAtMs + timing.leaseDurationMs > performance.now()) return false;
  const renewing = holder === state.identity;
  const acquireTime = renewing && current.acquireTime ? new Date(current.acquireTime) : new Date();
  const transitions = (current.leaseTransitions ?? 0) + (renewing ? 0 : 1);
  // The resourceVersion precondition: applied only if nobody changed the Lease since the read.
  const updated = await within(
    api.replaceNamespacedLease({
      name,
      namespace: ELECTION_NAMESPACE,
      body: { metadata: { name, namespace: ELECTION_NAMESPACE, resourceVersion: lease.metadata?.resourceVersion }, spec: spec(state.identity, acquireTime, transitions, timing) },
    }),
    remaining(),
  );
  state.observedRecord = JSON.stringify(updated.spec ?? {});
  state.observedAtMs = performance.now();
  state.transitions = transitions;
  return true;
}

function timingOf(op: Op): Timing {
  const value = (op.value ?? {}) as Partial<Timing>;
  return { leaseDurationMs: Number(value.leaseDurationMs ?? 6000), renewDeadlineMs: Number(value.renewDeadlineMs ?? 4000), retryPeriodMs: Number(value.retryPeriodMs ?? 800) };
}

/**
 * One step. Not leading: one acquire attempt bounded by the retry period (client-go's acquire loop) ->
 * acquired or standby. Leading: one renew round, attempts every retry period until one succeeds (renewed) or
 * the round's deadline passes (lost: the candidate steps down, as client-go's renew loop returns). The round's
 * deadline is fixed by the last success, so a step that starts late steps down at once.
 */
export async function invokeElection(api: CoordinationV1Api, op: Op, state: K8sElectionState, completion: Completion): Promise<Op> {
  if (op.f !== 'elect') return completion('fail', op.value, { error: `unknown leader-election function ${op.f}` });
  const timing = timingOf(op);
  const name = leaseName(op.key);
  const report = (event: string, extra: Record<string, unknown> = {}) =>
    completion('ok', { event, holder: state.identity, transitions: state.transitions, ...extra });
  if (!state.leading) {
    try {
      if (await tryAcquireOrRenew(api, name, state, timing, timing.retryPeriodMs * 2)) {
        state.leading = true;
        state.lastSuccessMs = performance.now();
        return report('acquired');
      }
      return report('standby');
    } catch (error) {
      // A failed or timed-out attempt: the candidate does not lead (the Lease may name it; it runs out unrenewed).
      return report('standby', { error: errorText(error) });
    }
  }
  const roundEndsAtMs = state.lastSuccessMs + timing.retryPeriodMs + timing.renewDeadlineMs;
  const errors: string[] = [];
  // Bounded by the deadline, and by a count in case each attempt returns at once.
  for (let attempt = 0; attempt < 1000 && performance.now() < roundEndsAtMs; attempt++) {
    try {
      if (await tryAcquireOrRenew(api, name, state, timing, roundEndsAtMs - performance.now())) {
        state.lastSuccessMs = performance.now();
        return report('renewed', errors.length > 0 ? { retries: errors.length } : {});
      }
      // Someone else holds it now: client-go's renew fails this attempt and retries until the deadline.
      errors.push('held by another');
    } catch (error) {
      errors.push(errorText(error));
    }
    await sleep(Math.min(timing.retryPeriodMs, roundEndsAtMs - performance.now()));
  }
  state.leading = false;
  return report('lost', { lateMs: Math.max(0, Math.round(performance.now() - roundEndsAtMs)), errors: errors.slice(-3) });
}
