// The bank workload (Jepsen's): transfers between a few accounts, each in one transaction, and reads of every
// account at once; every read must sum to the constant total, with no negative balance.
import type { Checker } from '../../checkers/types.js';
import { bankChecker } from '../../checkers/bank/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/** Jepsen's defaults: a handful of accounts, a small total, transfers of a few units. */
export const bankAccounts = ['0', '1', '2', '3', '4'];
export const bankInitialBalance = 10;
const transferAmountMax = 5;

/**
 * Ops: transfer {value: {from, to, amount}} -> ok, or fail when `from` holds less than amount;
 * read {value: null} -> ok {value: {account: balance}}. Every op names the accounts and the initial balance
 * (extra fields), so a client needs no other configuration.
 */
export function bankGenerator(): Generator {
  const shared = { accounts: bankAccounts, initialBalance: bankInitialBalance };
  return {
    next(context) {
      if (context.random.int(3) === 0) return { type: 'op', op: { f: 'read', value: null, ...shared }, atNs: context.timeNs };
      const from = context.random.int(bankAccounts.length);
      const to = (from + 1 + context.random.int(bankAccounts.length - 1)) % bankAccounts.length;
      const value = { from: bankAccounts[from], to: bankAccounts[to], amount: 1 + context.random.int(transferAmountMax) };
      return { type: 'op', op: { f: 'transfer', value, ...shared }, atNs: context.timeNs };
    },
  };
}

export const bankWorkload: Workload = {
  name: 'bank',
  create(_spec: TestSpec): WorkloadInstance {
    const total = bankAccounts.length * bankInitialBalance;
    return {
      name: 'bank',
      generator: bankGenerator(),
      finalOps: (nodeNames) =>
        nodeNames.map((node) => ({ node, op: { f: 'read', value: null, accounts: bankAccounts, initialBalance: bankInitialBalance, final: true } })),
      checkers: async (): Promise<Checker[]> => [
        bankChecker({ accounts: bankAccounts, total }),
        // A transfer may always be refused (insufficient funds); reads must answer.
        statsChecker({ mustSucceed: ['read'], mayNeverSucceed: ['transfer'] }),
      ],
      checkContext: () => ({ options: { accounts: bankAccounts, total } }),
    };
  },
};
