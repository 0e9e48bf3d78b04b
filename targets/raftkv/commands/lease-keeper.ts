// The leader's side of raftkv leases: expiry is decided on the leader's monotonic clock and applied through the
// log (a lease-expire entry), so every node agrees on when a lock was freed.
import type { JsonValue } from '../state-machine.js';
import { readLockState, type ExtensionCommand } from './index.js';

/** A lease-expire proposed and not yet applied is proposed again after this long (the first may have been lost). */
const reproposeAfterMs = 1000;

/**
 * Safety rule: a lease may expire only after ttl has passed on this leader's clock since this leader first saw the
 * lease's current version. A grant or renewal is applied after its request was sent, and a new leader starts every
 * lease afresh (as etcd's lessor promotion does), so a lease never ends before request-send + ttl: the bound a
 * holder can know. A renewal that lands after an expire was proposed changes the version, and the expire is a no-op.
 */
export class LeaseKeeper {
  private readonly deadlines = new Map<number, { version: number; deadlineMs: number; proposedAtMs?: number }>();
  private term = -1;

  constructor(private readonly readState: () => JsonValue) {}

  /** Called every tick; returns the lease-expire commands the leader should propose now. */
  tick(nowMs: number, isLeader: boolean, term: number): ExtensionCommand[] {
    if (!isLeader || term !== this.term) {
      // Another term, or not leading: every lease starts afresh when (if) this node leads.
      this.deadlines.clear();
      this.term = isLeader ? term : -1;
      if (!isLeader) return [];
    }
    const state = readLockState(this.readState());
    const expired: ExtensionCommand[] = [];
    const live = new Set<number>();
    for (const [id, lease] of Object.entries(state.leases)) {
      const leaseId = Number(id);
      live.add(leaseId);
      let known = this.deadlines.get(leaseId);
      if (!known || known.version !== lease.version) {
        this.deadlines.set(leaseId, (known = { version: lease.version, deadlineMs: nowMs + lease.ttlMs }));
        continue;
      }
      if (nowMs < known.deadlineMs) continue;
      if (known.proposedAtMs !== undefined && nowMs - known.proposedAtMs < reproposeAfterMs) continue;
      known.proposedAtMs = nowMs;
      expired.push({ op: 'lease-expire', leaseId, version: lease.version });
    }
    for (const leaseId of this.deadlines.keys()) if (!live.has(leaseId)) this.deadlines.delete(leaseId);
    return expired;
  }
}
