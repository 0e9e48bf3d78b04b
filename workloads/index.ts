// The workload registry: `--workload NAME` to a Workload; a new workload is one folder and one line here.
import { UserError } from '../src/errors.js';
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
};

export function workloadNames(): string[] {
  return Object.keys(workloads).sort();
}

export async function loadWorkload(name: string): Promise<Workload> {
  const load = workloads[name];
  if (!load) throw new UserError(`workload: expected one of ${workloadNames().join(', ')}, got '${name}'`);
  return load();
}

export type { Workload, WorkloadInstance, FinalOp } from './types.js';
