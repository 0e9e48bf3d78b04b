// The example project (examples/my-store) must use Faultline as any user would: only the package's public API.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const exampleSources = join(root, 'examples', 'my-store', 'src');

function importsOf(text: string): Array<{ names: string[]; specifier: string }> {
  const found: Array<{ names: string[]; specifier: string }> = [];
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+(?:type\s+)?(?:\{([^}]*)\}|[\w*\s,]+)?\s*(?:from\s*)?['"]([^'"]+)['"]/g)) {
    const names = (match[1] ?? '').split(',').map((name) => name.replace(/^\s*type\s+/, '').split(/\s+as\s+/)[0].trim()).filter((name) => name !== '');
    found.push({ names, specifier: match[2] });
  }
  for (const match of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ names: [], specifier: match[1] });
  return found;
}

/** Every name src/index.ts exports (values and types). */
function publicNames(): Set<string> {
  const text = readFileSync(join(root, 'src', 'index.ts'), 'utf8');
  const names = new Set<string>();
  for (const match of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of match[1].split(',')) {
      const name = part.replace(/^\s*type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      if (name !== '') names.add(name);
    }
  }
  return names;
}

describe('the example project uses the public API only', () => {
  const files = readdirSync(exampleSources).filter((name) => name.endsWith('.ts'));

  it('imports faultline by its package name, Node built-ins and its own files, nothing from the source tree', () => {
    expect(files.length).toBeGreaterThan(0);
    const outside: string[] = [];
    for (const file of files) {
      for (const { specifier } of importsOf(readFileSync(join(exampleSources, file), 'utf8'))) {
        const ownFile = /^\.\/[\w.-]+\.js$/.test(specifier);
        if (specifier !== 'faultline' && !specifier.startsWith('node:') && !ownFile) outside.push(`${file}: ${specifier}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it("imports from 'faultline' only names src/index.ts exports", () => {
    const exported = publicNames();
    const imported = files.flatMap((file) =>
      importsOf(readFileSync(join(exampleSources, file), 'utf8'))
        .filter(({ specifier }) => specifier === 'faultline')
        .flatMap(({ names }) => names),
    );
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("package.json's exports point at the built public API and its declarations", () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }>; types: string; files: string[] };
    expect(manifest.exports['.']).toEqual({ types: './dist/src/index.d.ts', import: './dist/src/index.js' });
    expect(manifest.types).toBe('dist/src/index.d.ts');
    expect(manifest.files).toContain('dist');
    const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions: { declaration: boolean } };
    expect(tsconfig.compilerOptions.declaration).toBe(true);
  });
});
