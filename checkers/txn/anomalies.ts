// The anomalies the transactional checker names, which consistency model forbids which, and a bounded log of
// examples (counts stay exact; only the examples kept are capped).

/** Anomalies found without a cycle: from single reads, single transactions or one key's versions. */
export type PlainAnomalyType =
  | 'G1a' // aborted read: a read saw a value written by a transaction that failed
  | 'G1b' // intermediate read: a read saw a value its writer later overwrote within the same transaction
  | 'dirty-update' // a failed transaction's append sits in the version order before committed ones
  | 'internal' // a transaction's read disagrees with its own earlier reads and writes
  | 'future-read' // a transaction's read saw a value it only wrote later
  | 'garbage-read' // a read saw a value nobody wrote
  | 'duplicate-elements' // one append seen twice in a list
  | 'incompatible-order' // two reads of a list neither of which is a prefix of the other
  | 'lost-update' // rw-register: two committed transactions read the same version and both wrote the key
  | 'duplicate-write'; // the workload wrote one value twice to a key: inference would be unsound

export const cycleBaseTypes = ['G0', 'G1c', 'G-single', 'G-nonadjacent', 'G2-item'] as const;
export type CycleBaseType = (typeof cycleBaseTypes)[number];
/** `-process`: the cycle needs a session (process order) edge; `-realtime`: a realtime edge. */
export type CycleType = CycleBaseType | `${CycleBaseType}-process` | `${CycleBaseType}-realtime`;
export type AnomalyType = PlainAnomalyType | CycleType;

export const consistencyModels = [
  'read-uncommitted',
  'read-committed',
  'snapshot-isolation',
  'repeatable-read',
  'serializable',
  'strong-session-snapshot-isolation',
  'strong-snapshot-isolation',
  'strong-session-serializable',
  'strict-serializable',
] as const;
export type ConsistencyModel = (typeof consistencyModels)[number];

/** Broken data, whatever the isolation level: no model explains them (Elle's PL-1 forbids duplicates and cyclic versions). */
const alwaysForbidden: AnomalyType[] = ['garbage-read', 'duplicate-elements', 'incompatible-order'];
const readCommitted: AnomalyType[] = [...alwaysForbidden, 'G0', 'G1a', 'G1b', 'G1c', 'dirty-update'];
/** Snapshot isolation forbids every cycle without two adjacent rw edges (Cerone and Gotsman; Elle's G-nonadjacent). */
const snapshotIsolation: AnomalyType[] = [...readCommitted, 'internal', 'future-read', 'lost-update', 'G-single', 'G-nonadjacent'];
const serializable: AnomalyType[] = [...snapshotIsolation, 'G2-item'];
const withSuffix = (types: readonly CycleBaseType[], suffix: 'process' | 'realtime'): AnomalyType[] =>
  types.map((type) => `${type}-${suffix}` as CycleType);
const siCycles: CycleBaseType[] = ['G0', 'G1c', 'G-single', 'G-nonadjacent'];

/** What each model forbids, following Elle's consistency-model graph (realtime variants imply process ones). */
export const prohibitedAnomalies: Record<ConsistencyModel, ReadonlySet<AnomalyType>> = {
  'read-uncommitted': new Set<AnomalyType>([...alwaysForbidden, 'G0']),
  'read-committed': new Set(readCommitted),
  'snapshot-isolation': new Set(snapshotIsolation),
  'repeatable-read': new Set(serializable),
  serializable: new Set(serializable),
  'strong-session-snapshot-isolation': new Set([...snapshotIsolation, ...withSuffix(siCycles, 'process')]),
  'strong-snapshot-isolation': new Set([...snapshotIsolation, ...withSuffix(siCycles, 'process'), ...withSuffix(siCycles, 'realtime')]),
  'strong-session-serializable': new Set([...serializable, ...withSuffix(cycleBaseTypes, 'process')]),
  'strict-serializable': new Set([...serializable, ...withSuffix(cycleBaseTypes, 'process'), ...withSuffix(cycleBaseTypes, 'realtime')]),
};

export function isConsistencyModel(name: string): name is ConsistencyModel {
  return (consistencyModels as readonly string[]).includes(name);
}

/** Which order edges a model adds to the data dependencies. */
export function orderEdgesOf(model: ConsistencyModel): 'none' | 'process' | 'realtime' {
  if (model === 'strict-serializable' || model === 'strong-snapshot-isolation') return 'realtime';
  if (model === 'strong-session-serializable' || model === 'strong-session-snapshot-isolation') return 'process';
  return 'none';
}

/** Snapshot-isolation models allow cycles with two adjacent rw edges (write skew); the rest allow none or all. */
export function isSnapshotModel(model: ConsistencyModel): boolean {
  return model === 'snapshot-isolation' || model === 'strong-snapshot-isolation' || model === 'strong-session-snapshot-isolation';
}

/** Counts every anomaly and keeps the first few examples of each type. */
export class AnomalyLog<Example> {
  readonly counts = new Map<string, number>();
  readonly examples = new Map<string, Example[]>();
  constructor(readonly examplesPerTypeMax: number) {}

  add(type: string, example: () => Example): void {
    const count = (this.counts.get(type) ?? 0) + 1;
    this.counts.set(type, count);
    if (count > this.examplesPerTypeMax) return;
    let list = this.examples.get(type);
    if (!list) this.examples.set(type, (list = []));
    list.push(example());
  }

  has(type: string): boolean {
    return this.counts.has(type);
  }
}
