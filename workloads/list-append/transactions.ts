// Elle-style transaction generation shared by the list-append and rw-register workloads: short transactions of
// reads and writes over a few live keys, every written value unique per key, keys retired after a bounded number
// of writes so each key's history stays small; plus the final read transactions and the checker wrapper.
import type { Checker, CheckResult } from '../../checkers/types.js';
import type { Generator, OpRequest, Random } from '../../src/generator/index.js';
import type { History } from '../../src/history/types.js';
import { UserError } from '../../src/errors.js';
import { checkTransactions, consistencyModels, type ConsistencyModel, type TxnWorkload } from '../../checkers/txn/index.js';
import { chooseSlot, slotWeights } from '../register/index.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { Workload, WorkloadInstance } from '../types.js';

/** The write micro-op's name: list-append appends to a list, rw-register overwrites a register. */
export type WriteFunction = 'append' | 'w';

/** One micro-operation in Elle's shape: [f, key, value]; a read's value is null on invoke. */
export type MicroOp = [string, number, unknown];

export interface TransactionGeneratorOptions {
  write: WriteFunction;
  /** How many keys are live at once. */
  keys: number;
  keyDistribution: 'uniform' | 'zipfian';
  /** Writes to a key before it is retired and a fresh key takes its place. */
  writesPerKey: number;
  /** Micro-ops per transaction: 1 to this many, uniformly. */
  transactionLengthMax: number;
}

/** Elle's defaults: transactions of up to four micro-ops, each a read or a write with even odds. */
export const transactionLengthMaxDefault = 4;
/** The final phase reads at most this many keys (the newest), this many to a transaction. */
const finalKeysMax = 1000;
const finalKeysPerTransaction = 10;

interface KeySlot {
  key: number;
  writes: number;
  /** The last value written to this key (values are 1, 2, 3, ... per key). */
  lastValue: number;
}

/** Endless `txn` ops; `keysUsed()` names every key some transaction touched (for the final reads). */
export function transactionGenerator(options: TransactionGeneratorOptions): Generator & { keysUsed(): number[] } {
  const cumulative = slotWeights(options.keys, options.keyDistribution);
  const slots: KeySlot[] = Array.from({ length: options.keys }, (_, key) => ({ key, writes: 0, lastValue: 0 }));
  const used = new Set<number>();
  let nextKey = options.keys;
  return {
    next(context) {
      const length = context.random.between(1, options.transactionLengthMax);
      const micros: MicroOp[] = [];
      for (let position = 0; position < length; position++) {
        const index = chooseSlot(cumulative, context.random);
        const slot = slots[index];
        used.add(slot.key);
        if (context.random.int(2) === 0) {
          micros.push(['r', slot.key, null]);
          continue;
        }
        slot.lastValue++;
        slot.writes++;
        micros.push([options.write, slot.key, slot.lastValue]);
        // A retired key keeps its values; a fresh key takes its place (and its heat) for later transactions.
        if (slot.writes >= options.writesPerKey) slots[index] = { key: nextKey++, writes: 0, lastValue: 0 };
      }
      const op: OpRequest = { f: 'txn', value: micros };
      return { type: 'op', op, atNs: context.timeNs };
    },
    keysUsed: () => [...used].sort((a, b) => a - b),
  };
}

/** Read-only transactions over the given keys, a few keys each, spread over the nodes. */
export function finalReadTransactions(keys: readonly number[], nodeNames: readonly string[]): Array<{ node: string; op: OpRequest }> {
  const newest = keys.slice(-finalKeysMax);
  const transactions: Array<{ node: string; op: OpRequest }> = [];
  for (let start = 0; start < newest.length; start += finalKeysPerTransaction) {
    const micros: MicroOp[] = newest.slice(start, start + finalKeysPerTransaction).map((key) => ['r', key, null]);
    transactions.push({ node: nodeNames[transactions.length % nodeNames.length], op: { f: 'txn', value: micros, final: true } });
  }
  return transactions;
}

/** The spec's consistency model, or the default; an unknown name is one clear line. */
export function chooseConsistency(value: unknown, fallback: ConsistencyModel): ConsistencyModel {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string' || !(consistencyModels as readonly string[]).includes(value)) {
    throw new UserError(`consistency: expected one of ${consistencyModels.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ConsistencyModel;
}

/** The Elle-style checker (checkers/txn) as a Checker, loaded only when a transaction workload runs. */
export function transactionChecker(workload: TxnWorkload, consistency: ConsistencyModel): Checker {
  return {
    name: 'elle',
    async check(_context, history: History): Promise<CheckResult> {
      return checkTransactions(history, { workload, consistency });
    },
  };
}

/**
 * A transactional workload (list-append or rw-register): the same generator, final reads and checkers, told
 * apart by the write micro-op and the checker's inference. Checked as strict serializable unless the spec's
 * `consistency` names another model.
 */
export function transactionWorkload(name: TxnWorkload, write: WriteFunction): Workload {
  return {
    name,
    create(spec: TestSpec): WorkloadInstance {
      const consistency = chooseConsistency(spec.consistency, 'strict-serializable');
      const generator = transactionGenerator({
        write,
        keys: spec.keys,
        keyDistribution: spec.keyDistribution,
        writesPerKey: spec.opsPerKey,
        transactionLengthMax: transactionLengthMaxDefault,
      });
      return {
        name,
        generator,
        finalOps: (nodeNames) => finalReadTransactions(generator.keysUsed(), nodeNames),
        checkers: async (): Promise<Checker[]> => [transactionChecker(name, consistency), statsChecker()],
        checkContext: () => ({ options: { workload: name, consistency } }),
      };
    },
  };
}
