// The target registry: `--target NAME` to a Target, each imported only when chosen; a new target is one line here.
import { UserError } from './errors.js';
import type { Target } from './target.js';

/** Module (relative to this file) and export name of each target. */
const targets: Record<string, { module: string; exportName: string }> = {
  raftkv: { module: '../targets/raftkv/index.js', exportName: 'raftkvTarget' },
  etcd: { module: '../targets/etcd/index.js', exportName: 'etcdTarget' },
  postgres: { module: '../targets/postgres/index.js', exportName: 'postgresTarget' },
  k8s: { module: '../targets/k8s/index.js', exportName: 'k8sTarget' },
};

export function targetNames(): string[] {
  return Object.keys(targets).sort();
}

export async function loadTarget(name: string): Promise<Target> {
  const entry = targets[name];
  if (!entry) throw new UserError(`target: expected one of ${targetNames().join(', ')}, got '${name}'`);
  let module: Record<string, unknown>;
  try {
    // A non-literal specifier: targets are built by different people at different times, and a missing one
    // must be a clear message at run time, not a build error for everyone else.
    const specifier: string = new URL(entry.module, import.meta.url).href;
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(`target: '${name}' is not available in this build (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const target = module[entry.exportName] as Target | undefined;
  if (!target || typeof target.db !== 'function' || typeof target.client !== 'function') {
    throw new UserError(`target: '${name}' does not export a Target named ${entry.exportName}`);
  }
  return target;
}
