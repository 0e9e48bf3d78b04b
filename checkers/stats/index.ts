// Per-f statistics (completion counts, latency percentiles) and Jepsen's stats rule: a run in which some
// function never succeeded, or no client op happened at all, proves nothing about it, so its verdict is
// 'unknown', never 'valid' (an all-fail history is trivially linearizable and must not pass for a good one).
import type { Checker, CheckResult, Validity } from '../types.js';
import { isClientProcess, pairOps, type History, type Op } from '../../src/history/types.js';

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

/** Which functions a verdict needs to have seen succeed. */
export interface StatsRules {
  /**
   * Functions that must have at least one ok completion even if the history never invoked them (a
   * register run with no successful read observed nothing; one with no successful write changed nothing).
   */
  mustSucceed?: readonly string[];
  /**
   * Functions whose every completion may be `fail` without the run proving less: their failure is an
   * ordinary answer (a cas whose expected value differed), so they are listed in `neverOk` but not judged.
   */
  mayNeverSucceed?: readonly string[];
}

/** What the stats rule says about a history's completion counts. */
export interface StatsVerdict {
  valid: Validity;
  /** Why the verdict is not `true`; absent when it is. */
  reason?: string;
  /** Functions invoked (or required) that never completed ok. */
  neverOk: string[];
}

type Counts = Pick<FunctionStats, 'count' | 'ok' | 'fail' | 'info' | 'incomplete'>;

function describeOutcomes(f: string, counts: Counts | undefined): string {
  if (!counts || counts.count === 0) return `no ${f} was ever invoked`;
  const parts = [`${counts.fail} fail`, `${counts.info} info`];
  if (counts.incomplete > 0) parts.push(`${counts.incomplete} never completed`);
  return `no ${f} ever succeeded (0 ok of ${counts.count}: ${parts.join(', ')})`;
}

/**
 * Jepsen's stats rule over per-f counts: every function invoked (and every one in `mustSucceed`) needs at
 * least one ok, except those in `mayNeverSucceed`; a history without client ops is unknown too. Unknown
 * rather than invalid: nothing was seen to break, but nothing was tested either.
 */
export function judgeFunctionStats(byF: Readonly<Record<string, Counts>>, rules: StatsRules = {}): StatsVerdict {
  const exempt = new Set(rules.mayNeverSucceed ?? []);
  const judged = [...new Set([...Object.keys(byF), ...(rules.mustSucceed ?? [])])].sort();
  const neverOk = judged.filter((f) => (byF[f]?.ok ?? 0) === 0);
  const totalOps = Object.values(byF).reduce((sum, counts) => sum + counts.count, 0);
  const reasons: string[] = [];
  if (totalOps === 0) reasons.push('the history holds no client operations');
  else if (Object.values(byF).every((counts) => counts.ok === 0)) reasons.push(`none of its ${totalOps} client operation${totalOps === 1 ? '' : 's'} succeeded`);
  else for (const f of neverOk) if (!exempt.has(f)) reasons.push(describeOutcomes(f, byF[f]));
  if (reasons.length === 0) return { valid: true, neverOk };
  return { valid: 'unknown', reason: `${reasons.join('; ')}: what never succeeded was not tested, so the history cannot pass as valid`, neverOk };
}

/**
 * The rules `faultline check` applies for a model (it knows the model, not the workload): Jepsen's rule for
 * every function, but a cas may fail every time (a cas-register history whose cases all missed still tests
 * its reads and writes).
 */
export function statsRulesForModel(model: string): StatsRules {
  return model === 'cas-register' ? { mayNeverSucceed: ['cas'] } : {};
}

/**
 * Counts a history line by line (invokes by their f, completions by theirs), for a file too big to hold:
 * the same counts as pairing, for any history where a completion carries its invocation's f.
 */
export class FunctionOutcomeCounter {
  private readonly byF = new Map<string, Counts>();

  add(process: unknown, type: string, f: string, times = 1): void {
    if (!isClientProcess(process as Op['process'])) return;
    let counts = this.byF.get(f);
    if (!counts) this.byF.set(f, (counts = { count: 0, ok: 0, fail: 0, info: 0, incomplete: 0 }));
    if (type === 'invoke') counts.count += times;
    else if (type === 'ok') counts.ok += times;
    else if (type === 'fail') counts.fail += times;
    else if (type === 'info') counts.info += times;
  }

  counts(): Record<string, Counts> {
    const result: Record<string, Counts> = {};
    for (const [f, counts] of this.byF) result[f] = { ...counts, incomplete: Math.max(0, counts.count - counts.ok - counts.fail - counts.info) };
    return result;
  }
}

function percentile(sortedValues: readonly number[], fraction: number): number {
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil(fraction * sortedValues.length) - 1));
  return sortedValues[index];
}

const roundMs = (nanoseconds: number) => Math.round(nanoseconds / 1e3) / 1e3;

/** Counts and latencies per f, and the stats rule's verdict (see `judgeFunctionStats`). */
export function statsChecker(rules: StatsRules = {}): Checker {
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
      const verdict = judgeFunctionStats(byF, rules);
      return { valid: verdict.valid, ...(verdict.reason ? { reason: verdict.reason } : {}), ...totals, byF, nemesis, neverOk: verdict.neverOk };
    },
  };
}

/**
 * Client threads that stopped before the generator was done (a harness error, or a client that could not be
 * opened): the ops they would have issued are missing from the history, so a clean-looking history proves
 * less than it seems. Unknown whenever there is one; its reason says which threads and why.
 */
export function clientWorkersChecker(stoppedWorkers: readonly string[]): Checker {
  return {
    name: 'client-workers',
    async check(): Promise<CheckResult> {
      if (stoppedWorkers.length === 0) return { valid: true, stopped: [] };
      const shown = stoppedWorkers.slice(0, 10).join('; ');
      const more = stoppedWorkers.length > 10 ? `; and ${stoppedWorkers.length - 10} more` : '';
      return {
        valid: 'unknown',
        reason: `${stoppedWorkers.length} client worker${stoppedWorkers.length === 1 ? '' : 's'} died before the run ended (${shown}${more}): their operations are missing from the history`,
        stopped: [...stoppedWorkers],
      };
    },
  };
}
