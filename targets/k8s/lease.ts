// Lease-based leader election as client-go's leaderelection package does it, one candidate per apiserver, and the
// check that matters to controllers: were two candidates ever leading at the same time?
import { ApiException, CoordinationV1Api, V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import type { Node } from '../../src/backends/types.js';
import type { ClusterPki } from './certs.js';
import { kubeConfigFor } from './client.js';
import { within } from './election.js';

export interface LeaseElectionOptions {
  /** client-go's LeaseDuration, RenewDeadline and RetryPeriod (defaults 15 s, 10 s, 2 s; scaled down here). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  leaseName?: string;
  namespace?: string;
}

/** When one candidate believed it led: from a successful acquire to giving up (or the end of the run). */
export interface LeadershipInterval {
  candidate: string;
  node: string;
  startMs: number;
  endMs: number;
  /** Why it ended: renew deadline passed, or the election stopped. */
  ended: 'renew-deadline' | 'stopped';
}

export interface LeaseElectionReport {
  intervals: LeadershipInterval[];
  /** Pairs of intervals of different candidates that overlap: two leaders at once. */
  overlaps: { first: LeadershipInterval; second: LeadershipInterval; overlapMs: number }[];
  /** Attempts to acquire or renew, and how many of them failed (errors, timeouts, conflicts). */
  attempts: number;
  failedAttempts: number;
  errors: string[];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Intervals of different candidates that overlap in time (all measured on this process's monotonic clock). */
export function leaderOverlaps(intervals: readonly LeadershipInterval[]): LeaseElectionReport['overlaps'] {
  const overlaps: LeaseElectionReport['overlaps'] = [];
  for (let i = 0; i < intervals.length; i++) {
    for (let j = i + 1; j < intervals.length; j++) {
      const [a, b] = [intervals[i], intervals[j]];
      if (a.candidate === b.candidate) continue;
      const overlapMs = Math.min(a.endMs, b.endMs) - Math.max(a.startMs, b.startMs);
      if (overlapMs > 0) overlaps.push({ first: a, second: b, overlapMs });
    }
  }
  return overlaps;
}

/** One candidate: client-go's tryAcquireOrRenew, acquire loop and renew loop. */
class Candidate {
  private observedSpec = '';
  /** When this candidate last saw the lease record change (client-go's observedTime), on the local clock. */
  private observedAtMs = 0;

  constructor(
    readonly identity: string,
    readonly node: Node,
    private readonly api: CoordinationV1Api,
    private readonly options: Required<LeaseElectionOptions>,
    private readonly report: LeaseElectionReport,
    private readonly now: () => number,
  ) {}

  private spec(holder: string, acquireTime: Date, transitions: number): V1LeaseSpec {
    return {
      holderIdentity: holder,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: new V1MicroTime(acquireTime.getTime()),
      renewTime: new V1MicroTime(),
      leaseTransitions: transitions,
    };
  }

  /** True when this candidate holds the lease after the call. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { leaseName: name, namespace } = this.options;
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    if (!lease) {
      await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(this.identity, new Date(), 0) } });
      this.observedAtMs = this.now();
      return true;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify(spec);
    if (record !== this.observedSpec) {
      this.observedSpec = record;
      this.observedAtMs = this.now();
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && this.observedAtMs + this.options.leaseDurationMs > this.now()) return false;
    const renewing = holder === this.identity;
    const acquireTime = renewing && spec.acquireTime ? new Date(spec.acquireTime) : new Date();
    const transitions = (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1);
    // The resourceVersion precondition: the update applies only if nobody changed the lease since the read.
    const updated = await this.api.replaceNamespacedLease({
      name,
      namespace,
      body: { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: this.spec(this.identity, acquireTime, transitions) },
    });
    this.observedSpec = JSON.stringify(updated.spec ?? {});
    this.observedAtMs = this.now();
    return true;
  }

  private async attempt(timeoutMs: number): Promise<boolean> {
    this.report.attempts++;
    try {
      if (await within(this.tryAcquireOrRenew(), timeoutMs)) return true;
    } catch (error) {
      const text = error instanceof ApiException ? `HTTP ${error.code}` : error instanceof Error ? error.message.split('\n')[0] : String(error);
      if (this.report.errors.length < 50) this.report.errors.push(`${this.identity}: ${text.slice(0, 200)}`);
    }
    this.report.failedAttempts++;
    return false;
  }

  /** Acquire, lead while renewing, step down when a renewal round passes the renew deadline; until aborted. */
  async run(signal: AbortSignal): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    while (!signal.aborted) {
      if (!(await this.attempt(retryPeriodMs * 2))) {
        await sleep(retryPeriodMs, signal);
        continue;
      }
      const interval: LeadershipInterval = { candidate: this.identity, node: this.node.name, startMs: this.now(), endMs: 0, ended: 'stopped' };
      // Renew loop: each round retries every retryPeriod until a renewal succeeds or renewDeadline passes.
      while (!signal.aborted) {
        await sleep(retryPeriodMs, signal);
        if (signal.aborted) break;
        const roundEndsAt = this.now() + renewDeadlineMs;
        let renewed = false;
        while (!signal.aborted && this.now() < roundEndsAt) {
          if (await this.attempt(Math.max(1, roundEndsAt - this.now()))) {
            renewed = true;
            break;
          }
          await sleep(Math.min(retryPeriodMs, Math.max(0, roundEndsAt - this.now())), signal);
        }
        if (!renewed && !signal.aborted) {
          interval.ended = 'renew-deadline';
          break;
        }
      }
      interval.endMs = this.now();
      this.report.intervals.push(interval);
    }
  }
}

/** Runs one candidate per node (each through its own apiserver) until `signal` aborts; then reports. */
export async function runLeaseElection(nodes: readonly Node[], pki: ClusterPki, signal: AbortSignal, options: LeaseElectionOptions = {}): Promise<LeaseElectionReport> {
  const settings: Required<LeaseElectionOptions> = {
    leaseDurationMs: options.leaseDurationMs ?? 6000,
    renewDeadlineMs: options.renewDeadlineMs ?? 4000,
    retryPeriodMs: options.retryPeriodMs ?? 800,
    leaseName: options.leaseName ?? 'faultline-leader',
    namespace: options.namespace ?? 'default',
  };
  if (!(settings.renewDeadlineMs < settings.leaseDurationMs)) throw new Error('lease election: renewDeadlineMs must be below leaseDurationMs (client-go checks the same)');
  const report: LeaseElectionReport = { intervals: [], overlaps: [], attempts: 0, failedAttempts: 0, errors: [] };
  const started = performance.now();
  const now = () => performance.now() - started;
  const candidates = nodes.map(
    (node) => new Candidate(`candidate-${node.name}`, node, kubeConfigFor(node, pki).makeApiClient(CoordinationV1Api), settings, report, now),
  );
  await Promise.all(candidates.map((candidate) => candidate.run(signal)));
  report.intervals.sort((a, b) => a.startMs - b.startMs);
  report.overlaps = leaderOverlaps(report.intervals);
  return report;
}
