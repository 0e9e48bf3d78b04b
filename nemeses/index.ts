// The nemesis registry: fault names to packages, and their composition into one nemesis routed by op f.
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { Nemesis } from '../src/nemesis.js';
import type { TestContext } from '../src/test-context.js';
import type { FaultName, NemesisPackage } from './types.js';
import { errorMessage, refused, type NemesisOptions } from './common.js';
import { capacityPackage } from './capacity/index.js';
import { clockPackage } from './clock/index.js';
import { diskPackage } from './disk/index.js';
import { flapPackage } from './flap/index.js';
import { killPackage } from './kill/index.js';
import { packetPackage } from './packet/index.js';
import { partitionPackage } from './partition/index.js';
import { pausePackage } from './pause/index.js';

export type { NemesisOptions, PartitionMode, TargetSelector, CorruptMode } from './common.js';

const factories: Record<FaultName, (options: NemesisOptions) => NemesisPackage> = {
  partition: partitionPackage,
  packet: packetPackage,
  kill: killPackage,
  pause: pausePackage,
  clock: clockPackage,
  disk: diskPackage,
  flap: flapPackage,
  capacity: capacityPackage,
};

export const FAULT_NAMES: readonly FaultName[] = Object.keys(factories) as FaultName[];

export function isFaultName(value: unknown): value is FaultName {
  return typeof value === 'string' && (FAULT_NAMES as readonly string[]).includes(value);
}

/** One package per named fault, in the order given (duplicates dropped). */
export function createNemesisPackages(names: readonly FaultName[], options: NemesisOptions = {}): NemesisPackage[] {
  const unique = [...new Set(names)];
  for (const name of unique) {
    if (!isFaultName(name)) throw new Error(`nemesis: expected one of ${FAULT_NAMES.join(', ')}, got '${String(name)}'`);
  }
  return unique.map((name) => factories[name](options));
}

/** One nemesis for the runner: routes each op to the package whose nemesis handles its f. */
export function composeNemeses(packages: readonly NemesisPackage[]): Nemesis {
  const route = new Map<string, Nemesis>();
  for (const nemesisPackage of packages) {
    for (const f of nemesisPackage.nemesis.fs) {
      if (route.has(f)) throw new Error(`nemesis: two packages handle '${f}'`);
      route.set(f, nemesisPackage.nemesis);
    }
  }
  const healFs = new Set(packages.map((nemesisPackage) => nemesisPackage.healOp().f));
  return {
    fs: [...route.keys()],
    async setup(test: TestContext, db: Db): Promise<void> {
      for (const nemesisPackage of packages) await nemesisPackage.nemesis.setup(test, db);
    },
    async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
      const nemesis = route.get(op.f);
      if (!nemesis) return refused(op, `no nemesis handles '${op.f}' (have: ${[...route.keys()].join(', ')})`);
      try {
        const completion = await nemesis.invoke(test, db, op);
        return healFs.has(op.f) ? markIncompleteHeal(completion) : completion;
      } catch (error) {
        // The fault may have been partly applied before the error: Jepsen's info, with the reason.
        return { ...op, type: 'info', error: errorMessage(error) };
      }
    },
    async teardown(test: TestContext, db: Db): Promise<void> {
      const errors: string[] = [];
      // Undo in reverse order of composition, but free the disk first: a full volume can block other heals.
      const order = [...packages].reverse().sort((a, b) => Number(b.name === 'disk') - Number(a.name === 'disk'));
      for (const nemesisPackage of order) {
        try {
          await nemesisPackage.nemesis.teardown(test, db);
        } catch (error) {
          errors.push(errorMessage(error));
        }
      }
      if (errors.length > 0) throw new Error(errors.join('; '));
    },
  };
}

/**
 * Packages complete a heal that failed on some nodes as info with `errors` (or `healed: false`) in the value,
 * which reads like success: a heal that errs must not count as healed, so it gets an `error` the runner sees.
 */
export function markIncompleteHeal(completion: Op): Op {
  if (completion.type === 'fail' || typeof completion.error === 'string') return completion;
  const value = completion.value as { errors?: unknown; healed?: unknown } | null | undefined;
  const errors = value !== null && typeof value === 'object' && Array.isArray(value.errors) ? value.errors.map(String) : [];
  if (errors.length === 0 && value?.healed !== false) return completion;
  return { ...completion, error: `heal incomplete: ${errors.join('; ') || 'the nemesis says not healed'}` };
}
