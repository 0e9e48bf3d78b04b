// Latency percentiles per operation type (f), over the ops that completed ok, from the summary arrays.
import { Outcome, type HistorySummary } from './summary.js';

export interface LatencyRow {
  f: string;
  count: number;
  ok: number;
  fail: number;
  info: number;
  /** Milliseconds at each quantile of `quantiles`, over ok ops; empty when none completed ok. */
  quantilesMs: number[];
  maximumMs: number | undefined;
}

export const quantiles = [0.5, 0.9, 0.99, 0.999] as const;

/** Exact quantiles (nearest rank) from a sorted copy per f: a few million doubles sort in well under a second. */
export function latencyPercentiles(summary: HistorySummary): LatencyRow[] {
  const perF = summary.fNames.map(() => ({ count: 0, ok: 0, fail: 0, info: 0 }));
  for (let slot = 0; slot < summary.opCount; slot++) {
    const tally = perF[summary.fIndex[slot]];
    tally.count += 1;
    const outcome = summary.outcome[slot];
    if (outcome === Outcome.ok) tally.ok += 1;
    else if (outcome === Outcome.fail) tally.fail += 1;
    else tally.info += 1;
  }
  const latencies = perF.map((tally) => new Float64Array(tally.ok));
  const filled = perF.map(() => 0);
  // Without timestamps, latency is measured in history positions (see HistorySummary.timeless).
  const divisor = summary.timeless ? 1 : 1e6;
  for (let slot = 0; slot < summary.opCount; slot++) {
    if (summary.outcome[slot] !== Outcome.ok) continue;
    const f = summary.fIndex[slot];
    latencies[f][filled[f]++] = summary.latencyNs[slot] / divisor;
  }
  return summary.fNames
    .map((f, position) => {
      const sorted = latencies[position].sort();
      const tally = perF[position];
      return {
        f,
        ...tally,
        quantilesMs: sorted.length === 0 ? [] : quantiles.map((quantile) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(quantile * sorted.length) - 1))]),
        maximumMs: sorted.length === 0 ? undefined : sorted[sorted.length - 1],
      };
    })
    .sort((a, b) => b.count - a.count);
}
