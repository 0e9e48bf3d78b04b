// Reduces a history, op by op, to the compact arrays the charts need, so a million-op run fits in memory and time.
import type { Op, Key } from '../src/history/types.js';

/** Completion outcome codes, in the order the charts colour them. */
export const Outcome = { ok: 0, fail: 1, info: 2 } as const;
export type OutcomeCode = (typeof Outcome)[keyof typeof Outcome];
export const outcomeNames = ['ok', 'fail', 'info'] as const;

/** Every client op as parallel arrays (one entry per invoke), plus the nemesis ops in full. */
export interface HistorySummary {
  /** Client invocations. */
  opCount: number;
  /** History lines read (invokes, completions and nemesis ops). */
  eventCount: number;
  /** Time of the first and last event, in nanoseconds since the test began. */
  firstNs: number;
  lastNs: number;
  invokeNs: number[];
  /** Completion time minus invoke time; NaN when the op never completed. */
  latencyNs: number[];
  outcome: OutcomeCode[];
  /** Index into `fNames`. */
  fIndex: number[];
  fNames: string[];
  counts: { ok: number; fail: number; info: number; neverCompleted: number };
  /** Ops with process 'nemesis', in history order (bounded by `nemesisLimit`). */
  nemesisOps: Op[];
  /** Full ops kept because the caller asked for them (e.g. a counterexample's), by history index. */
  keptOps: Map<number, Op>;
  /** Client ops (invoke and completion) of the watched keys, bounded per key. */
  keyOps: Map<string, Op[]>;
  keys: Set<string>;
  keyLimitReached: boolean;
  /** True when no op carried a time of its own (Jepsen files without :time; readers then use the position): charts show positions. */
  timeless: boolean;
}

export interface SummaryOptions {
  /** History indexes whose ops must be kept whole. */
  keepIndexes?: ReadonlySet<number>;
  /** Keys whose ops are kept whole (up to `keyOpLimit` each) so a counterexample can be drawn from them. */
  watchKeys?: ReadonlySet<string>;
  keyOpLimit?: number;
  nemesisLimit?: number;
  /** Distinct keys counted before counting stops (the count is only shown). */
  distinctKeyLimit?: number;
}

/** The key as a string for maps; null/undefined (the single register) as the empty string. */
export function keyName(key: Key | undefined | unknown): string {
  if (key === null || key === undefined) return '';
  return typeof key === 'string' ? key : JSON.stringify(key);
}

/** Builds a summary incrementally: call `add` for each op in history order, then `finish`. */
export class HistorySummarizer {
  private readonly summary: HistorySummary;
  private readonly open = new Map<unknown, number>();
  private readonly fLookup = new Map<string, number>();
  private readonly keepIndexes: ReadonlySet<number>;
  private readonly watchKeys: ReadonlySet<string>;
  private readonly keyOpLimit: number;
  private readonly nemesisLimit: number;
  private readonly distinctKeyLimit: number;
  private position = 0;

  constructor(options: SummaryOptions = {}) {
    this.keepIndexes = options.keepIndexes ?? new Set();
    this.watchKeys = options.watchKeys ?? new Set();
    this.keyOpLimit = options.keyOpLimit ?? 200_000;
    this.nemesisLimit = options.nemesisLimit ?? 100_000;
    this.distinctKeyLimit = options.distinctKeyLimit ?? 100_000;
    this.summary = {
      opCount: 0,
      eventCount: 0,
      firstNs: Number.POSITIVE_INFINITY,
      lastNs: Number.NEGATIVE_INFINITY,
      invokeNs: [],
      latencyNs: [],
      outcome: [],
      fIndex: [],
      fNames: [],
      counts: { ok: 0, fail: 0, info: 0, neverCompleted: 0 },
      nemesisOps: [],
      keptOps: new Map(),
      keyOps: new Map(),
      keys: new Set(),
      keyLimitReached: false,
      timeless: true,
    };
  }

  add(op: Op): void {
    const summary = this.summary;
    const index = typeof op.index === 'number' ? op.index : this.position;
    this.position += 1;
    summary.eventCount += 1;
    const time = typeof op.time === 'number' && Number.isFinite(op.time) ? op.time : index;
    if (summary.timeless && time !== index) summary.timeless = false;
    if (time < summary.firstNs) summary.firstNs = time;
    if (time > summary.lastNs) summary.lastNs = time;
    if (this.keepIndexes.has(index)) summary.keptOps.set(index, op);

    if (op.process === 'nemesis' || typeof op.process !== 'number') {
      if (summary.nemesisOps.length < this.nemesisLimit) summary.nemesisOps.push(op);
      return;
    }
    if (op.key !== undefined && op.key !== null) {
      const name = keyName(op.key);
      if (!summary.keys.has(name)) {
        if (summary.keys.size < this.distinctKeyLimit) summary.keys.add(name);
        else summary.keyLimitReached = true;
      }
    }
    if (this.watchKeys.size > 0) {
      const name = keyName(op.key);
      if (this.watchKeys.has(name)) {
        let list = summary.keyOps.get(name);
        if (!list) summary.keyOps.set(name, (list = []));
        if (list.length < this.keyOpLimit) list.push(op);
      }
    }
    if (op.type === 'invoke') {
      let f = this.fLookup.get(op.f);
      if (f === undefined) {
        f = summary.fNames.length;
        summary.fNames.push(String(op.f));
        this.fLookup.set(op.f, f);
      }
      const slot = summary.opCount;
      summary.opCount += 1;
      summary.invokeNs.push(time);
      summary.latencyNs.push(Number.NaN);
      summary.outcome.push(Outcome.info);
      summary.fIndex.push(f);
      this.open.set(op.process, slot);
      return;
    }
    const slot = this.open.get(op.process);
    if (slot === undefined) return;
    this.open.delete(op.process);
    summary.latencyNs[slot] = time - summary.invokeNs[slot];
    summary.outcome[slot] = op.type === 'ok' ? Outcome.ok : op.type === 'fail' ? Outcome.fail : Outcome.info;
  }

  finish(): HistorySummary {
    const summary = this.summary;
    summary.counts = { ok: 0, fail: 0, info: 0, neverCompleted: 0 };
    for (let slot = 0; slot < summary.opCount; slot++) {
      const outcome = summary.outcome[slot];
      if (outcome === Outcome.ok) summary.counts.ok += 1;
      else if (outcome === Outcome.fail) summary.counts.fail += 1;
      else {
        summary.counts.info += 1;
        if (Number.isNaN(summary.latencyNs[slot])) summary.counts.neverCompleted += 1;
      }
    }
    if (summary.eventCount === 0) summary.timeless = false;
    if (summary.eventCount === 0) {
      summary.firstNs = 0;
      summary.lastNs = 0;
    }
    return summary;
  }
}

export function summarizeHistory(history: Iterable<Op>, options?: SummaryOptions): HistorySummary {
  const summarizer = new HistorySummarizer(options);
  for (const op of history) summarizer.add(op);
  return summarizer.finish();
}
