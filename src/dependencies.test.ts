// Proves every package a source file imports is declared in package.json: an import that only resolves
// because another package happens to pull it in breaks the day that package drops or moves it.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const folders = ['src', 'checkers', 'nemeses', 'workloads', 'reports', 'targets', 'docker', 'scripts'];

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  const walk = (directory: string): void => {
    for (const name of readdirSync(directory)) {
      if (name === 'node_modules' || name === 'dist') continue;
      const path = join(directory, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(name)) files.push(path);
    }
  };
  walk(folder);
  return files;
}

/** The package a bare specifier names: `a/b` -> `a`, `@s/a/b` -> `@s/a`; null for relative and node: ones. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return builtinModules.includes(name) ? null : name;
}

describe('declared dependencies', () => {
  it('names each imported package in package.json (tests may use devDependencies)', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
    const all = new Set([...runtime, ...Object.keys(manifest.devDependencies ?? {})]);
    const undeclared: string[] = [];
    const importPattern = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;
    for (const folder of folders) {
      for (const file of sourceFiles(join(root, folder))) {
        const text = readFileSync(file, 'utf8');
        // Test files, benchmarks and test support run only in development: devDependencies are enough there.
        const devOnly = /\.test\.ts$|\/testing\/|\/test-support\/|\/bench|vitest/.test(file);
        for (const match of text.matchAll(importPattern)) {
          // A test's dynamic import may sit inside a fixture string (docker/builder.test.ts): static ones only there.
          if (match[2] !== undefined && file.endsWith('.test.ts')) continue;
          const name = packageOf(match[1] ?? match[2] ?? match[3]);
          if (name === null) continue;
          if (!(devOnly ? all : runtime).has(name)) undeclared.push(`${relative(root, file)}: ${name}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('reads package names from specifiers', () => {
    expect(packageOf('cockatiel')).toBe('cockatiel');
    expect(packageOf('@kubernetes/client-node/dist/x.js')).toBe('@kubernetes/client-node');
    expect(packageOf('node:fs')).toBeNull();
    expect(packageOf('fs')).toBeNull();
    expect(packageOf('../errors.js')).toBeNull();
  });
});
