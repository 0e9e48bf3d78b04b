// The bank checker (Jepsen's bank): transfers move money between accounts inside transactions, so every ok
// read must see all the accounts, summing to the constant total, with no negative balance unless allowed.
import type { Checker, CheckResult } from '../types.js';
import { pairOps, type History } from '../../src/history/types.js';

/** How many bad reads the result lists; counts are always complete. */
const shownErrorsMax = 100;

export interface BankOptions {
  /** The account names every read must hold (as strings; a read's balances are keyed by them). */
  accounts: ReadonlyArray<string | number>;
  total: number;
  negativeAllowed?: boolean;
}

export type BankReadErrorKind = 'wrong-total' | 'negative-balance' | 'wrong-accounts' | 'not-a-balance';

export interface BankReadError {
  kind: BankReadErrorKind;
  invokeIndex: number;
  completionIndex: number;
  balances: unknown;
  total?: number;
  accounts?: string[];
}

/** A read's value: {account: balance}. */
function readErrors(balances: unknown, options: BankOptions): Array<{ kind: BankReadErrorKind; total?: number; accounts?: string[] }> {
  if (balances === null || typeof balances !== 'object' || Array.isArray(balances)) return [{ kind: 'not-a-balance' }];
  const entries = Object.entries(balances as Record<string, unknown>);
  const expected = new Set(options.accounts.map(String));
  const found: string[] = [];
  const errors: Array<{ kind: BankReadErrorKind; total?: number; accounts?: string[] }> = [];
  let total = 0;
  const negative: string[] = [];
  for (const [account, balance] of entries) {
    found.push(account);
    if (typeof balance !== 'number' || !Number.isFinite(balance)) return [{ kind: 'not-a-balance', accounts: [account] }];
    total += balance;
    if (balance < 0) negative.push(account);
  }
  const missing = [...expected].filter((account) => !found.includes(account));
  const extra = found.filter((account) => !expected.has(account));
  if (missing.length > 0 || extra.length > 0) errors.push({ kind: 'wrong-accounts', accounts: [...missing.map((account) => `missing ${account}`), ...extra.map((account) => `unexpected ${account}`)] });
  if (total !== options.total) errors.push({ kind: 'wrong-total', total });
  if (negative.length > 0 && options.negativeAllowed !== true) errors.push({ kind: 'negative-balance', accounts: negative });
  return errors;
}

export function bankChecker(options: BankOptions): Checker {
  return {
    name: 'bank',
    async check(_context, history: History): Promise<CheckResult> {
      const reads = pairOps(history).filter((pair) => pair.invoke.f === 'read' && pair.completion?.type === 'ok');
      const errors: BankReadError[] = [];
      const countsByKind: Partial<Record<BankReadErrorKind, number>> = {};
      for (const read of reads) {
        for (const error of readErrors(read.completion!.value, options)) {
          countsByKind[error.kind] = (countsByKind[error.kind] ?? 0) + 1;
          errors.push({ ...error, invokeIndex: read.invoke.index, completionIndex: read.completion!.index, balances: read.completion!.value });
        }
      }
      if (reads.length === 0) return { valid: 'unknown', error: 'no successful read' };
      const transfers = pairOps(history).filter((pair) => pair.invoke.f === 'transfer');
      return {
        valid: errors.length === 0,
        reads: reads.length,
        transfers: { ok: transfers.filter((pair) => pair.completion?.type === 'ok').length, fail: transfers.filter((pair) => pair.completion?.type === 'fail').length },
        errorCount: errors.length,
        errorCountsByKind: countsByKind,
        errors: errors.slice(0, shownErrorsMax),
      };
    },
  };
}
