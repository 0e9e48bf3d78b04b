// The workload registry: `--workload NAME` to a Workload; a new workload is one folder and one line here.
// The spec's validation, the CLI help and the types all read the names from this one list.
import { UserError } from '../src/errors.js';
import { importExternal, isModulePath } from '../src/external-module.js';
import type { Workload } from './types.js';

const workloads: Record<string, () => Promise<Workload>> = {
  register: async () => (await import('./register/index.js')).registerWorkload,
  set: async () => (await import('./set/index.js')).setWorkload,
  'list-append': async () => (await import('./list-append/index.js')).listAppendWorkload,
  'rw-register': async () => (await import('./rw-register/index.js')).rwRegisterWorkload,
  counter: async () => (await import('./counter/index.js')).counterWorkload,
  bank: async () => (await import('./bank/index.js')).bankWorkload,
  queue: async () => (await import('./queue/index.js')).queueWorkload,
  lock: async () => (await import('./lock/index.js')).lockWorkload,
  'leader-election': async () => (await import('./leader-election/index.js')).leaderElectionWorkload,
  watch: async () => (await import('./watch/index.js')).watchWorkload,
};

/** Workloads registered at run time by a program using Faultline as a library (registerWorkload). */
const registered = new Map<string, Workload>();

export function workloadNames(): string[] {
  return [...new Set([...Object.keys(workloads), ...registered.keys()])].sort();
}

/** Whether `value` has the shape the runner needs of a Workload. */
export function isWorkload(value: unknown): value is Workload {
  const candidate = value as Partial<Workload> | null | undefined;
  return candidate !== null && typeof candidate === 'object' && typeof candidate.name === 'string' && typeof candidate.create === 'function';
}

const workloadShape = 'a Workload {name, create(spec)}';

/** Makes `--workload NAME` find `workload`, for programs that run Faultline as a library. */
export function registerWorkload(name: string, workload: Workload): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UserError(`registerWorkload: expected a name of lowercase letters, digits and dashes, got '${name}'`);
  if (!isWorkload(workload)) throw new UserError(`registerWorkload: '${name}' is not ${workloadShape}`);
  registered.set(name, workload);
}

/** The Workload for a registry name, or for a module path (absolute, or relative to the working directory). */
export async function loadWorkload(name: string): Promise<Workload> {
  if (isModulePath(name)) return importExternal(name, 'workload', 'workload', workloadShape, isWorkload);
  const own = registered.get(name);
  if (own) return own;
  const load = workloads[name];
  if (!load) throw new UserError(`workload: expected one of ${workloadNames().join(', ')} or a path to a module, got '${name}'`);
  return load();
}

export type { Workload, WorkloadInstance, FinalOp } from './types.js';
