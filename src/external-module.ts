// Loads a user's own target, workload or nemesis from a JavaScript module path, with one clear line when it cannot.
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from './errors.js';

/**
 * Whether a spec value names a module file rather than a registry entry: registry names are bare words
 * (raftkv, list-append), so anything with a slash or a JavaScript extension is a path.
 */
export function isModulePath(value: string): boolean {
  return value.includes('/') || value.includes('\\') || /\.(c|m)?js$/.test(value);
}

/** A module path made absolute against `baseDirectory` (the spec file's folder, or the working directory for flags). */
export function resolveModulePath(value: string, baseDirectory: string): string {
  return isAbsolute(value) ? value : resolve(baseDirectory, value);
}

/**
 * Imports `path` and returns its default export or the export named `exportName`, whichever `accepts`.
 * `kind` and `expected` word the error: "target ./x.js: expected a module exporting a Target (default or
 * `target`) with db() and client(), got exports: foo".
 */
export async function importExternal<T>(
  path: string,
  kind: string,
  exportName: string,
  expected: string,
  accepts: (value: unknown) => value is T,
): Promise<T> {
  if (!existsSync(path)) throw new UserError(`${kind} ${path}: no such file (expected a JavaScript module exporting ${expected})`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new UserError(`${kind} ${path}: cannot be imported (${reason})`);
  }
  for (const candidate of [module.default, module[exportName]]) {
    if (accepts(candidate)) return candidate;
  }
  const exported = Object.keys(module).join(', ') || 'none';
  throw new UserError(`${kind} ${path}: expected a default export or an export named '${exportName}' that is ${expected}, got exports: ${exported}`);
}
