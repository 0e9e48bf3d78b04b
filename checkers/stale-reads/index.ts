// Labels reads served from a cache (ops marked readFrom: 'watch-cache', e.g. Kubernetes' resourceVersion "0")
// that were stale: they returned an older version than a write acknowledged before the read began. Informational:
// the verdict is the consistency checker's; this entry says how many cache reads there were and which were stale.
import type { Checker, CheckResult } from '../types.js';
import type { Op } from '../../src/history/types.js';

export interface StaleRead {
  /** History index of the read's completion. */
  index: number;
  key: unknown;
  node?: string;
  /** What the read saw, and the newest version acknowledged before the read began. */
  readResourceVersion: string | null;
  newerResourceVersion: string;
  /** Acknowledged writes the read missed. */
  missedWrites: number;
  /** The value the read returned. */
  value: unknown;
}

export interface StalenessReport {
  cacheReads: number;
  staleReads: StaleRead[];
}

/** How many stale reads the checker's result lists as examples (the count is always complete). */
const examplesMax = 20;

/**
 * resourceVersions are opaque to clients in general; on an etcd-backed apiserver they are etcd revisions, so
 * (within one run of one cluster) a larger number is a later write. Returns undefined for anything else.
 */
function revision(resourceVersion: unknown): bigint | undefined {
  return typeof resourceVersion === 'string' && /^\d+$/.test(resourceVersion) ? BigInt(resourceVersion) : undefined;
}

/** Scans the history in order: each ok write/cas is known from its completion on; each cache read is compared to them. */
export function staleCacheReads(history: readonly Op[]): StalenessReport {
  const invokeOf = new Map<number | string, Op>();
  /** Per key: revisions of acknowledged writes, in completion order. */
  const acknowledged = new Map<string, { revision: bigint; resourceVersion: string; completedAt: number }[]>();
  const report: StalenessReport = { cacheReads: 0, staleReads: [] };
  const pending: { invoke: Op; completion: Op }[] = [];
  for (const op of history) {
    if (op.process === 'nemesis') continue;
    if (op.type === 'invoke') {
      invokeOf.set(op.process, op);
      continue;
    }
    const invoke = invokeOf.get(op.process);
    invokeOf.delete(op.process);
    if (op.type !== 'ok' || !invoke) continue;
    const key = JSON.stringify(op.key ?? null);
    if ((op.f === 'write' || op.f === 'cas') && revision(op.resourceVersion) !== undefined) {
      const list = acknowledged.get(key) ?? [];
      list.push({ revision: revision(op.resourceVersion)!, resourceVersion: op.resourceVersion as string, completedAt: op.time });
      acknowledged.set(key, list);
    } else if (op.f === 'read' && op.readFrom === 'watch-cache') {
      pending.push({ invoke, completion: op });
    }
  }
  for (const { invoke, completion } of pending) {
    report.cacheReads++;
    const seen = revision(completion.resourceVersion) ?? -1n;
    const before = (acknowledged.get(JSON.stringify(completion.key ?? null)) ?? []).filter((write) => write.completedAt < invoke.time && write.revision > seen);
    if (before.length === 0) continue;
    const newest = before.reduce((a, b) => (b.revision > a.revision ? b : a));
    report.staleReads.push({
      index: completion.index,
      key: completion.key,
      ...(completion.node === undefined ? {} : { node: completion.node }),
      readResourceVersion: typeof completion.resourceVersion === 'string' ? completion.resourceVersion : null,
      newerResourceVersion: newest.resourceVersion,
      missedWrites: before.length,
      value: completion.value,
    });
  }
  return report;
}

/** The checker entry: always valid (stale cache reads are allowed where they were asked for); the labels are the point. */
export function checkStaleReads(history: readonly Op[]): CheckResult {
  const report = staleCacheReads(history);
  const byNode: Record<string, number> = {};
  for (const stale of report.staleReads) byNode[stale.node ?? '?'] = (byNode[stale.node ?? '?'] ?? 0) + 1;
  return {
    valid: true,
    informational: true,
    note: 'reads with resourceVersion "0" may be served stale from the apiserver cache (allowed by Kubernetes); the register checker judges consistency',
    cacheReads: report.cacheReads,
    staleReads: report.staleReads.length,
    staleByNode: byNode,
    mostMissedWrites: report.staleReads.reduce((most, stale) => Math.max(most, stale.missedWrites), 0),
    examples: report.staleReads.slice(0, examplesMax),
  };
}

export function staleReadsChecker(): Checker {
  return { name: 'stale-reads', check: async (_context, history) => checkStaleReads(history) };
}
