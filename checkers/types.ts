// The checker contract: a pure function of a history that returns a verdict and its evidence.
import type { History } from '../src/history/types.js';

/** false beats 'unknown' beats true when checkers compose. */
export type Validity = true | false | 'unknown';

export interface CheckResult {
  valid: Validity;
  [detail: string]: unknown;
}

/** What a checker may know of the test; checkers never see backends or targets. */
export interface CheckContext {
  /** Model name, initial state and other workload options, as the spec or CLI gave them. */
  options?: Record<string, unknown>;
  /** Search budget for checkers that search; past it the verdict is 'unknown'. */
  timeoutMs?: number;
}

export interface Checker {
  readonly name: string;
  check(context: CheckContext, history: History): Promise<CheckResult>;
}

export function mergeValidity(a: Validity, b: Validity): Validity {
  if (a === false || b === false) return false;
  if (a === 'unknown' || b === 'unknown') return 'unknown';
  return true;
}

/** Runs several checkers over one history; a checker that throws yields 'unknown', never a crash. */
export function composeCheckers(name: string, checkers: readonly Checker[]): Checker {
  return {
    name,
    async check(context, history) {
      const results: Record<string, CheckResult> = {};
      let valid: Validity = true;
      for (const checker of checkers) {
        let result: CheckResult;
        try {
          result = await checker.check(context, history);
        } catch (error) {
          result = { valid: 'unknown', error: error instanceof Error ? error.message : String(error) };
        }
        results[checker.name] = result;
        valid = mergeValidity(valid, result.valid);
      }
      return { valid, checkers: results };
    },
  };
}
