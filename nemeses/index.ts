// The nemesis registry: fault names to packages, and their composition into one nemesis routed by op f.
// The spec's validation and the CLI help read the names from `factories`; a new fault is one folder and one line there.
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { Nemesis } from '../src/nemesis.js';
import type { TestContext } from '../src/test-context.js';
import type { FaultName, NemesisPackage } from './types.js';
import { errorMessage, refused, type NemesisOptions } from './common.js';
import { importExternal, isModulePath } from '../src/external-module.js';
import { UserError } from '../src/errors.js';
import { capacityPackage } from './capacity/index.js';
import { apiserverEtcdPackage } from './apiserver-etcd/index.js';
import { clockPackage } from './clock/index.js';
import { diskPackage } from './disk/index.js';
import { flapPackage } from './flap/index.js';
import { killPackage } from './kill/index.js';
import { packetPackage } from './packet/index.js';
import { partitionPackage } from './partition/index.js';
import { pausePackage } from './pause/index.js';

export type { NemesisOptions, PartitionMode, TargetSelector, CorruptMode } from './common.js';

const factories: Record<string, NemesisFactory> = {
  partition: partitionPackage,
  packet: packetPackage,
  kill: killPackage,
  pause: pausePackage,
  clock: clockPackage,
  disk: diskPackage,
  flap: flapPackage,
  capacity: capacityPackage,
  'apiserver-etcd': apiserverEtcdPackage,
};

/** Makes a nemesis package from the spec's nemesis options; one call per run. */
export type NemesisFactory = (options: NemesisOptions) => NemesisPackage;

/** The built-in faults, in registry order. */
export const FAULT_NAMES: readonly FaultName[] = Object.keys(factories);

/** Faults registered at run time: by a program using Faultline as a library, or a spec's module path. */
const registered = new Map<string, NemesisFactory>();

/** Every fault name `--nemesis` accepts now: the built-ins, then registered ones. */
export function faultNames(): string[] {
  return [...new Set([...FAULT_NAMES, ...registered.keys()])];
}

export function isFaultName(value: unknown): value is FaultName {
  return typeof value === 'string' && (Object.hasOwn(factories, value) || registered.has(value));
}

/** Makes `--nemesis NAME` find `factory`, for programs that run Faultline as a library. */
export function registerNemesis(name: string, factory: NemesisFactory): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UserError(`registerNemesis: expected a name of lowercase letters, digits and dashes, got '${name}'`);
  if (typeof factory !== 'function') throw new UserError(`registerNemesis: '${name}' is not a function from nemesis options to a NemesisPackage`);
  registered.set(name, factory);
}

/** Whether `value` has the shape the runner needs of a NemesisPackage. */
export function isNemesisPackage(value: unknown): value is NemesisPackage {
  const candidate = value as Partial<NemesisPackage> | null | undefined;
  return (
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.name === 'string' &&
    typeof candidate.startOp === 'function' &&
    typeof candidate.healOp === 'function' &&
    typeof candidate.nemesis === 'object' &&
    candidate.nemesis !== null &&
    Array.isArray(candidate.nemesis.fs) &&
    typeof candidate.nemesis.invoke === 'function'
  );
}

const nemesisShape = 'a NemesisPackage {name, nemesis, startOp(), healOp()} or a function from nemesis options to one';

function isNemesisModuleExport(value: unknown): value is NemesisPackage | NemesisFactory {
  return typeof value === 'function' || isNemesisPackage(value);
}

/**
 * Imports each module path among `names` (absolute, from the spec loader) and registers it under that path, so
 * createNemesisPackages finds it; registry names pass through. A module exports a NemesisPackage or a factory.
 */
export async function loadNemesisModules(names: readonly string[]): Promise<void> {
  for (const name of names) {
    if (!isModulePath(name) || registered.has(name)) continue;
    const exported = await importExternal(name, 'nemesis', 'nemesis', nemesisShape, isNemesisModuleExport);
    registered.set(name, (options) => {
      const made = typeof exported === 'function' ? exported(options) : exported;
      if (!isNemesisPackage(made)) throw new UserError(`nemesis ${name}: its factory returned something that is not ${nemesisShape}`);
      return made;
    });
  }
}

/** One package per named fault, in the order given (duplicates dropped). */
export function createNemesisPackages(names: readonly FaultName[], options: NemesisOptions = {}): NemesisPackage[] {
  const unique = [...new Set(names)];
  for (const name of unique) {
    if (!isFaultName(name)) throw new Error(`nemesis: expected one of ${faultNames().join(', ')}, got '${String(name)}'`);
  }
  return unique.map((name) => (registered.get(name) ?? factories[name])(options));
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
