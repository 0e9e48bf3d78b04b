// Simple per-f statistics for results.json: completion counts and latency percentiles. Informational: always valid.
import type { Checker, CheckResult } from '../types.js';
import { pairOps, type History } from '../../src/history/types.js';

export interface FunctionStats {
  count: number;
  ok: number;
  fail: number;
  info: number;
  /** Invocations without any completion (the run ended or was cut off). */
  incomplete: number;
  /** Latency of ok completions, milliseconds. */
  latencyMs: { p50: number; p90: number; p99: number; max: number } | null;
}

function percentile(sortedValues: readonly number[], fraction: number): number {
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(fraction * sortedValues.length) - 1));
  return sortedValues[index];
}

const roundMs = (nanoseconds: number) => Math.round(nanoseconds / 1e3) / 1e3;

export function statsChecker(): Checker {
  return {
    name: 'stats',
    async check(_context, history: History): Promise<CheckResult> {
      const byFunction = new Map<string, { stats: FunctionStats; latenciesNs: number[] }>();
      const entry = (f: string) => {
        let found = byFunction.get(f);
        if (!found) {
          found = { stats: { count: 0, ok: 0, fail: 0, info: 0, incomplete: 0, latencyMs: null }, latenciesNs: [] };
          byFunction.set(f, found);
        }
        return found;
      };
      const totals = { count: 0, ok: 0, fail: 0, info: 0, incomplete: 0 };
      for (const pair of pairOps(history)) {
        const { stats, latenciesNs } = entry(pair.invoke.f);
        stats.count++;
        totals.count++;
        const completion = pair.completion;
        if (!completion) {
          stats.incomplete++;
          totals.incomplete++;
          continue;
        }
        if (completion.type === 'ok') {
          stats.ok++;
          totals.ok++;
          latenciesNs.push(completion.time - pair.invoke.time);
        } else if (completion.type === 'fail') {
          stats.fail++;
          totals.fail++;
        } else {
          stats.info++;
          totals.info++;
        }
      }
      const byF: Record<string, FunctionStats> = {};
      for (const [f, { stats, latenciesNs }] of [...byFunction].sort(([a], [b]) => a.localeCompare(b))) {
        if (latenciesNs.length > 0) {
          latenciesNs.sort((a, b) => a - b);
          stats.latencyMs = {
            p50: roundMs(percentile(latenciesNs, 0.5)),
            p90: roundMs(percentile(latenciesNs, 0.9)),
            p99: roundMs(percentile(latenciesNs, 0.99)),
            max: roundMs(latenciesNs[latenciesNs.length - 1]),
          };
        }
        byF[f] = stats;
      }
      const nemesis: Record<string, number> = {};
      for (const op of history) {
        if (op.process === 'nemesis' && op.type !== 'invoke') nemesis[op.f] = (nemesis[op.f] ?? 0) + 1;
      }
      // Functions that never succeeded are worth a look, but they do not make a run invalid.
      const neverOk = Object.entries(byF).filter(([, stats]) => stats.ok === 0).map(([f]) => f);
      return { valid: true, ...totals, byF, nemesis, neverOk };
    },
  };
}
