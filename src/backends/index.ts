// The backend registry: `--backend NAME` to a Backend. One line per backend, each imported only when chosen.
import { UserError } from '../errors.js';
import type { Backend, BackendName } from './types.js';

/** Options every backend accepts; each backend reads the fields it knows and ignores the rest. */
export interface BackendOptions {
  /** The run's id; resources carry it so `faultline cleanup` finds them. Default: generated. */
  runId?: string;
  [option: string]: unknown;
}

type BackendFactory = (options: BackendOptions) => Promise<Backend>;

const backends: Record<string, BackendFactory> = {
  local: async (options) => (await import('./local.js')).createLocalBackend(options as import('./local.js').LocalBackendOptions),
  docker: async (options) => (await import('./docker.js')).createDockerBackend(options),
  ssh: async (options) => (await import('./ssh.js')).createSshBackendFromOptions(options),
};

/** Names of the backends this build knows. */
export function backendNames(): string[] {
  return Object.keys(backends).sort();
}

export async function createBackend(name: BackendName | string, options: BackendOptions = {}): Promise<Backend> {
  const factory = backends[name];
  if (!factory) throw new UserError(`backend: expected one of ${backendNames().join(', ')}, got '${name}'`);
  return factory(options);
}
