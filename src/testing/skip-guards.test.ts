// Proves no test file skips on its own: every guard for a missing dependency goes through requirements.ts
// (which fails under CI), found by reading every *.test.ts; the one legitimate skip is listed here by its text.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repositoryRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const testFolders = ['src', 'checkers', 'nemeses', 'workloads', 'reports', 'targets', 'docker', 'scenarios'];
/** Files searched at most: a bound on the walk. */
const filesMax = 5000;

/** Skips that are not about a missing dependency, by file and the line's text. */
const legitimateSkips = [
  // A MANIFEST row that is an HTML rendering of a history, not a history: nothing to check.
  { file: 'checkers/reference.test.ts', text: 'it.skip(`${row.path}: skipped, ${reason}`, () => {});' },
];

/** vitest's own ways to skip, and the hand-made `ready ? describe : describe.skip`. */
const skipPattern = /\b(describe|it|test|suite|context)\.(skip|skipIf|runIf)\b|\bcontext\.skip\(|\? describe : describe\.skip/;

function testFiles(): string[] {
  const found: string[] = [];
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (found.length >= filesMax) return;
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.test.ts')) found.push(path);
    }
  };
  for (const folder of testFolders) {
    try {
      walk(join(repositoryRoot, folder));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return found;
}

/** `file:line: text` for each skip in the source that is neither the helper's nor a listed legitimate one. */
export function rawSkips(file: string, source: string): string[] {
  const name = relative(repositoryRoot, file);
  return source.split('\n').flatMap((line, index) => {
    const text = line.trim();
    if (text.startsWith('//') || text.startsWith('/*') || text.startsWith('*') || !skipPattern.test(text)) return [];
    if (legitimateSkips.some((allowed) => allowed.file === name && text === allowed.text)) return [];
    return [`${name}:${index + 1}: ${text}`];
  });
}

describe('skip guards', () => {
  it('finds a raw guard when there is one (the scan itself works)', () => {
    const file = join(repositoryRoot, 'src/example.e2e.test.ts');
    expect(rawSkips(file, "const runIt = isRoot || process.env.CI ? describe : describe.skip;\ndescribe.skipIf(!ok)('x', () => {});")).toEqual([
      'src/example.e2e.test.ts:1: const runIt = isRoot || process.env.CI ? describe : describe.skip;',
      "src/example.e2e.test.ts:2: describe.skipIf(!ok)('x', () => {});",
    ]);
    expect(rawSkips(file, "    if (!fixture.sudoUser) context.skip();")).toHaveLength(1);
    expect(rawSkips(file, "describeWhen('x', { root: isRoot })('y', () => {});")).toEqual([]);
  });

  it('no test file skips outside src/testing/requirements.ts', () => {
    // This file spells the patterns out to test the scan.
    const files = testFiles().filter((file) => file !== fileURLToPath(import.meta.url));
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((file) => rawSkips(file, readFileSync(file, 'utf8')))).toEqual([]);
  });
});
