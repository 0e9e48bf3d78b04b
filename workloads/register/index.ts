// The register workload: independent integer keys, each a register read, written and cas'd with values unique
// per key, checked per key for linearizability (model cas-register, initial null).
import type { Checker } from '../../checkers/types.js';
import { statsChecker, type StatsRules } from '../../checkers/stats/index.js';
import { type Generator, type Random } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import type { FinalOp, Workload, WorkloadInstance } from '../types.js';

/** Zipf exponent of the hot-key distribution: key rank r is chosen with weight 1/r. */
const zipfExponent = 1;
/** How far back a cas's expected value reaches among the key's recent values: near enough to succeed often. */
const casLookbackValues = 3;
/** The final phase reads at most this many keys (the most recent ones); bounded like everything else. */
const finalKeysMax = 1000;

interface KeySlot {
  key: number;
  opsIssued: number;
  /** The last value handed out for this key (values are 1, 2, 3, ... per key). */
  lastValue: number;
}

/** Cumulative weights for choosing among `count` slots; uniform or zipfian (slot 0 hottest). */
export function slotWeights(count: number, distribution: 'uniform' | 'zipfian'): number[] {
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= count; rank++) {
    total += distribution === 'zipfian' ? 1 / rank ** zipfExponent : 1;
    cumulative.push(total);
  }
  return cumulative.map((value) => value / total);
}

/** The slot a seeded draw lands in, given cumulative weights (from slotWeights). */
export function chooseSlot(cumulative: readonly number[], random: Random): number {
  const draw = random.next();
  let low = 0;
  let high = cumulative.length - 1;
  // Binary search: the first slot whose cumulative weight exceeds the draw.
  while (low < high) {
    const middle = (low + high) >> 1;
    if (cumulative[middle] > draw) high = middle;
    else low = middle + 1;
  }
  return low;
}

export interface RegisterOptions {
  keys: number;
  keyDistribution: 'uniform' | 'zipfian';
  opsPerKey: number;
}

/** The generator alone (exported for tests): reads, writes and cases spread over the live keys. */
export function registerGenerator(options: RegisterOptions): Generator & { keysUsed(): number[] } {
  const cumulative = slotWeights(options.keys, options.keyDistribution);
  const slots: KeySlot[] = Array.from({ length: options.keys }, (_, key) => ({ key, opsIssued: 0, lastValue: 0 }));
  let nextKey = options.keys;
  return {
    next(context) {
      const index = chooseSlot(cumulative, context.random);
      const slot = slots[index];
      const kind = context.random.int(3);
      let op;
      if (kind === 0) {
        op = { f: 'read', key: slot.key, value: null };
      } else if (kind === 1 || slot.lastValue === 0) {
        slot.lastValue++;
        op = { f: 'write', key: slot.key, value: slot.lastValue };
      } else {
        const expected = Math.max(1, slot.lastValue - context.random.int(casLookbackValues));
        slot.lastValue++;
        op = { f: 'cas', key: slot.key, value: [expected, slot.lastValue] };
      }
      slot.opsIssued++;
      // A retired key's history stays small enough to check; a fresh key takes its place (and its heat).
      if (slot.opsIssued >= options.opsPerKey) slots[index] = { key: nextKey++, opsIssued: 0, lastValue: 0 };
      return { type: 'op', op, atNs: context.timeNs };
    },
    keysUsed: () => {
      const untouched = new Set(slots.filter((slot) => slot.opsIssued === 0).map((slot) => slot.key));
      return Array.from({ length: nextKey }, (_, key) => key).filter((key) => !untouched.has(key));
    },
  };
}

/**
 * A register run proves something only if a read observed the register and a write changed it; a cas may
 * fail every time (its expected value differed: an ordinary answer), and is then only listed.
 */
export const registerStatsRules: StatsRules = { mustSucceed: ['read', 'write'], mayNeverSucceed: ['cas'] };

export const registerWorkload: Workload = {
  name: 'register',
  create(spec: TestSpec): WorkloadInstance {
    const generator = registerGenerator({ keys: spec.keys, keyDistribution: spec.keyDistribution, opsPerKey: spec.opsPerKey });
    return {
      name: 'register',
      generator,
      finalOps(nodeNames): FinalOp[] {
        const keys = generator.keysUsed().slice(-finalKeysMax);
        return keys.map((key, index) => ({ node: nodeNames[index % nodeNames.length], op: { f: 'read', key, value: null, final: true } }));
      },
      async checkers(): Promise<Checker[]> {
        const { linearizableChecker } = await import('../../checkers/linearizable/index.js');
        const timeoutMs = Math.max(30_000, spec.timeLimitSeconds * 1000);
        const checkers = [linearizableChecker({ model: 'cas-register', initial: null, timeoutMs }), statsChecker(registerStatsRules)];
        // k8s cache-reads: label the reads served from the apiserver cache, and the stale ones (informational).
        if (spec.targetOptions['cache-reads'] === true) checkers.push((await import('../../checkers/stale-reads/index.js')).staleReadsChecker());
        return checkers;
      },
      checkContext: () => ({ options: { model: 'cas-register', initial: null } }),
    };
  },
};
