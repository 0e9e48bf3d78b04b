// The lock checker: leased locks must give mutual exclusion over real time, fencing tokens must grow from one
// holder to the next, and a fenced resource must never accept a write from a stale holder.
import type { Checker, CheckResult } from '../types.js';
import { pairOps, type History, type Op, type OpPair } from '../../src/history/types.js';

/** How many violations of each kind the result lists; counts are always complete. */
const shownViolationsMax = 100;

/**
 * One holding: a process's ok acquire, and how long that process could know it still held the lock.
 *
 * The rule (conservative, so a correct store is never accused): a holding starts when the acquire completes ok
 * and ends at the earliest of
 * - the invocation of the process's release (from then on it no longer claims the lock, whatever the answer);
 * - its lease's lapse as the holder can know it: the lease was granted no earlier than the acquire's invocation,
 *   so it lasts at least until acquire invoke + ttl; an ok renew invoked before that bound extends it to
 *   renew invoke + ttl (the store renewed no earlier than that). A renew invoked after the bound, or one that
 *   did not complete ok, extends nothing: the holder could not know it still held the lock in between.
 * - the process's next acquire invocation (a client never acquires while it believes it holds).
 * Times are the history's (one monotonic clock), ttl in milliseconds from the acquire's ok value `{ttlMs}`.
 */
export interface Holding {
  process: number;
  lock: string;
  token: number | undefined;
  startNs: number;
  endNs: number;
  acquire: OpPair;
  /** The op whose time ends the holding: the release, the last renew (or acquire) that set the lapse, or the next acquire. */
  endedBy: { reason: 'release' | 'lease-lapse' | 'next-acquire'; index: number };
}

export interface Overlap {
  lock: string;
  first: { process: number; acquireIndex: number; endIndex: number; startNs: number; endNs: number; token?: number };
  second: { process: number; acquireIndex: number; endIndex: number; startNs: number; endNs: number; token?: number };
}

function lockOf(op: Op): string {
  return op.key === undefined || op.key === null ? 'lock' : String(op.key);
}

function tokenOf(value: unknown): number | undefined {
  const token = value !== null && typeof value === 'object' ? (value as { token?: unknown }).token : undefined;
  return typeof token === 'number' ? token : undefined;
}

function ttlNsOf(value: unknown): number | undefined {
  const ttlMs = value !== null && typeof value === 'object' ? (value as { ttlMs?: unknown }).ttlMs : undefined;
  return typeof ttlMs === 'number' && ttlMs > 0 ? ttlMs * 1e6 : undefined;
}

/** Every holding in the history, by the rule above; holdings that end before they start are dropped. */
export function holdings(history: History): Holding[] {
  const byProcess = new Map<number, OpPair[]>();
  for (const pair of pairOps(history)) {
    const process = pair.invoke.process as number;
    let list = byProcess.get(process);
    if (!list) byProcess.set(process, (list = []));
    list.push(pair);
  }
  const found: Holding[] = [];
  for (const [process, pairs] of byProcess) {
    for (let position = 0; position < pairs.length; position++) {
      const acquire = pairs[position];
      if (acquire.invoke.f !== 'acquire' || acquire.completion?.type !== 'ok') continue;
      const ttlNs = ttlNsOf(acquire.completion.value);
      let endNs = ttlNs === undefined ? Number.POSITIVE_INFINITY : acquire.invoke.time + ttlNs;
      let endedBy: Holding['endedBy'] = { reason: 'lease-lapse', index: acquire.invoke.index };
      for (let next = position + 1; next < pairs.length; next++) {
        const later = pairs[next];
        if (later.invoke.time >= endNs) break;
        if (later.invoke.f === 'release') {
          endNs = later.invoke.time;
          endedBy = { reason: 'release', index: later.invoke.index };
          break;
        }
        if (later.invoke.f === 'acquire') {
          endNs = later.invoke.time;
          endedBy = { reason: 'next-acquire', index: later.invoke.index };
          break;
        }
        if (later.invoke.f === 'renew' && later.completion?.type === 'ok' && ttlNs !== undefined) {
          const renewedTtlNs = ttlNsOf(later.completion.value) ?? ttlNs;
          if (later.invoke.time + renewedTtlNs > endNs) {
            endNs = later.invoke.time + renewedTtlNs;
            endedBy = { reason: 'lease-lapse', index: later.invoke.index };
          }
        }
      }
      if (endNs <= acquire.completion.time) continue;
      found.push({ process, lock: lockOf(acquire.invoke), token: tokenOf(acquire.completion.value), startNs: acquire.completion.time, endNs, acquire, endedBy });
    }
  }
  return found.sort((a, b) => a.startNs - b.startNs || a.process - b.process);
}

function describeHolding(holding: Holding): Overlap['first'] {
  return {
    process: holding.process,
    acquireIndex: holding.acquire.completion!.index,
    endIndex: holding.endedBy.index,
    startNs: holding.startNs,
    endNs: holding.endNs,
    ...(holding.token === undefined ? {} : { token: holding.token }),
  };
}

/** Every pair of holdings of one lock whose intervals overlap (a sweep over holdings sorted by start). */
export function overlaps(found: readonly Holding[]): Overlap[] {
  const result: Overlap[] = [];
  const byLock = new Map<string, Holding[]>();
  for (const holding of found) {
    let list = byLock.get(holding.lock);
    if (!list) byLock.set(holding.lock, (list = []));
    list.push(holding);
  }
  for (const [lock, list] of byLock) {
    const active: Holding[] = [];
    for (const holding of list) {
      // Sorted by start: a holding still active when this one starts overlaps it.
      for (let position = active.length - 1; position >= 0; position--) if (active[position].endNs <= holding.startNs) active.splice(position, 1);
      for (const earlier of active) result.push({ lock, first: describeHolding(earlier), second: describeHolding(holding) });
      active.push(holding);
    }
  }
  return result;
}

export interface TokenViolation {
  lock: string;
  /** `earlier`'s acquire completed before `later`'s acquire was invoked, yet its token is not smaller. */
  earlier: { process: number; acquireIndex: number; token: number };
  later: { process: number; acquireIndex: number; token: number };
}

/** Pairs of holdings in real-time order (one's acquire done before the other's began) whose tokens do not grow. */
export function tokenViolations(found: readonly Holding[]): TokenViolation[] {
  const result: TokenViolation[] = [];
  const withTokens = found.filter((holding) => holding.token !== undefined);
  const byCompletion = [...withTokens].sort((a, b) => a.acquire.completion!.time - b.acquire.completion!.time);
  const byInvoke = [...withTokens].sort((a, b) => a.acquire.invoke.time - b.acquire.invoke.time);
  // For each later holding, the earlier holdings are those completed before its invoke: keep the one with the
  // largest token (a violation exists iff that token is >= the later one's) and list every offender.
  let completedUpTo = 0;
  const completedSoFar: Holding[] = [];
  for (const later of byInvoke) {
    while (completedUpTo < byCompletion.length && byCompletion[completedUpTo].acquire.completion!.time < later.acquire.invoke.time) completedSoFar.push(byCompletion[completedUpTo++]);
    for (const earlier of completedSoFar) {
      if (earlier.lock === later.lock && earlier.token! >= later.token!) {
        result.push({
          lock: later.lock,
          earlier: { process: earlier.process, acquireIndex: earlier.acquire.completion!.index, token: earlier.token! },
          later: { process: later.process, acquireIndex: later.acquire.completion!.index, token: later.token! },
        });
      }
    }
  }
  return result;
}

export interface StaleWrite {
  lock: string;
  /** Position in the resource's accepted writes, and the write's token and value. */
  position: number;
  token: number;
  value: unknown;
  /** The larger token accepted before it. */
  afterToken: number;
}

/**
 * The fenced resource: `write` ops carry `{token, value}`; a final `read` returns the accepted writes in the
 * order the store applied them, `[[token, value], ...]`. A write accepted after one with a larger token came
 * from a stale holder; an ok write missing from the read was lost; a value nobody wrote is unexpected.
 */
function resourceProblems(history: History): { stale: StaleWrite[]; lost: unknown[]; unexpected: unknown[]; reads: number } {
  const pairs = pairOps(history);
  const reads = pairs.filter((pair) => pair.invoke.f === 'read' && pair.completion?.type === 'ok' && Array.isArray(pair.completion.value));
  const finalReads = reads.filter((pair) => pair.invoke.final === true || pair.completion!.final === true);
  const judged = finalReads.length > 0 ? finalReads : reads;
  const stale: StaleWrite[] = [];
  const lost = new Set<string>();
  const unexpected = new Set<string>();
  const writes = pairs.filter((pair) => pair.invoke.f === 'write');
  const attempted = new Set(writes.map((pair) => JSON.stringify((pair.invoke.value as { value?: unknown } | null)?.value ?? null)));
  for (const read of judged) {
    const entries = read.completion!.value as unknown[];
    const present = new Set<string>();
    let highest = Number.NEGATIVE_INFINITY;
    entries.forEach((entry, position) => {
      const [token, value] = Array.isArray(entry) ? (entry as [unknown, unknown]) : [undefined, entry];
      const key = JSON.stringify(value ?? null);
      present.add(key);
      if (!attempted.has(key)) unexpected.add(key);
      if (typeof token !== 'number') return;
      if (token < highest) stale.push({ lock: lockOf(read.invoke), position, token, value, afterToken: highest });
      highest = Math.max(highest, token);
    });
    for (const write of writes) {
      if (write.completion?.type !== 'ok' || write.completion.time >= read.invoke.time || lockOf(write.invoke) !== lockOf(read.invoke)) continue;
      const key = JSON.stringify((write.invoke.value as { value?: unknown } | null)?.value ?? null);
      if (!present.has(key)) lost.add(key);
    }
  }
  const parse = (keys: Set<string>) => [...keys].slice(0, shownViolationsMax).map((key) => JSON.parse(key) as unknown);
  return { stale, lost: parse(lost), unexpected: parse(unexpected), reads: judged.length };
}

export interface LockCheckerOptions {
  /**
   * false: the store fences, so two holders overlapping in real time is reported but is not itself a violation
   * (fencing tokens and the resource decide). Default true: any overlap is a violation.
   */
  overlapsInvalid?: boolean;
}

export function lockChecker(options: LockCheckerOptions = {}): Checker {
  return {
    name: 'lock',
    async check(_context, history: History): Promise<CheckResult> {
      const found = holdings(history);
      const overlapping = overlaps(found);
      const tokens = tokenViolations(found);
      const resource = resourceProblems(history);
      const overlapsInvalid = options.overlapsInvalid ?? true;
      const broken = (overlapsInvalid && overlapping.length > 0) || tokens.length > 0 || resource.stale.length > 0 || resource.lost.length > 0 || resource.unexpected.length > 0;
      return {
        valid: found.length === 0 ? 'unknown' : !broken,
        ...(found.length === 0 ? { error: 'no ok acquire' } : {}),
        holdings: found.length,
        acquiresWithToken: found.filter((holding) => holding.token !== undefined).length,
        overlapCount: overlapping.length,
        overlaps: overlapping.slice(0, shownViolationsMax),
        tokenViolationCount: tokens.length,
        tokenViolations: tokens.slice(0, shownViolationsMax),
        resourceReads: resource.reads,
        staleWriteCount: resource.stale.length,
        staleWrites: resource.stale.slice(0, shownViolationsMax),
        lostWriteCount: resource.lost.length,
        lostWrites: resource.lost,
        unexpectedWriteCount: resource.unexpected.length,
        unexpectedWrites: resource.unexpected,
      };
    },
  };
}
