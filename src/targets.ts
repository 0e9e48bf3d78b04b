// The target registry: `--target NAME` to a Target, each imported only when chosen; a new target is one line here.
// `--target ./my-target.js` (a path) loads a user's own Target instead; see "Adding your own system" in README.md.
import { UserError } from './errors.js';
import { importExternal, isModulePath } from './external-module.js';
import type { Target } from './target.js';

/** Module (relative to this file) and export name of each target. */
const targets: Record<string, { module: string; exportName: string }> = {
  raftkv: { module: '../targets/raftkv/index.js', exportName: 'raftkvTarget' },
  etcd: { module: '../targets/etcd/index.js', exportName: 'etcdTarget' },
  postgres: { module: '../targets/postgres/index.js', exportName: 'postgresTarget' },
  k8s: { module: '../targets/k8s/index.js', exportName: 'k8sTarget' },
};

/** Targets registered at run time by a program using Faultline as a library (registerTarget). */
const registered = new Map<string, Target>();

export function targetNames(): string[] {
  return [...new Set([...Object.keys(targets), ...registered.keys()])];
}

/** Whether `value` has the shape the runner needs of a Target. */
export function isTarget(value: unknown): value is Target {
  const candidate = value as Partial<Target> | null | undefined;
  return (
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.name === 'string' &&
    Array.isArray(candidate.workloads) &&
    typeof candidate.db === 'function' &&
    typeof candidate.client === 'function'
  );
}

const targetShape = 'a Target {name, workloads, db(), client()}';

/** Makes `--target NAME` (and a spec's `target: NAME`) find `target`, for programs that run Faultline as a library. */
export function registerTarget(name: string, target: Target): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UserError(`registerTarget: expected a name of lowercase letters, digits and dashes, got '${name}'`);
  if (!isTarget(target)) throw new UserError(`registerTarget: '${name}' is not ${targetShape}`);
  registered.set(name, target);
}

/** The Target for a registry name, or for a module path (absolute, or relative to the working directory). */
export async function loadTarget(name: string): Promise<Target> {
  if (isModulePath(name)) return importExternal(name, 'target', 'target', targetShape, isTarget);
  const own = registered.get(name);
  if (own) return own;
  const entry = targets[name];
  if (!entry) throw new UserError(`target: expected one of ${targetNames().join(', ')}, or a path to your own target module, got '${name}'`);
  let module: Record<string, unknown>;
  try {
    // A non-literal specifier: targets are built by different people at different times, and a missing one
    // must be a clear message at run time, not a build error for everyone else.
    const specifier: string = new URL(entry.module, import.meta.url).href;
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(`target: '${name}' is not available in this build (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const target = module[entry.exportName];
  if (!isTarget(target)) {
    throw new UserError(`target: '${name}' does not export a Target named ${entry.exportName}`);
  }
  return target;
}
