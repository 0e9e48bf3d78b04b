// Proves the image builder ships exactly raftkv's import closure: it follows relative imports through dist/,
// collects the npm packages named (with their dependencies), and leaves Node's built-ins and unrelated files out.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raftkvClosure } from './builder.js';

describe('raftkv import closure', () => {
  let project = '';

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'flg-closure-'));
    const files: Record<string, string> = {
      'dist/targets/raftkv/server.js': "import { a } from './lib/a.js';\nimport fs from 'fs';\nimport { x } from 'node:path';\nexport * from '../../src/shared.js';\nconst later = await import('lazy-package');\n",
      'dist/targets/raftkv/lib/a.js': "import chalk from 'chalk';\nimport sub from '@scope/pkg/sub.js';\nexport const a = 1;\n",
      'dist/targets/raftkv/server.test.js': "import 'vitest';\n",
      'dist/src/shared.js': 'export const shared = 2;\n',
      'dist/src/unrelated.js': "import 'commander';\n",
      'node_modules/chalk/package.json': JSON.stringify({ name: 'chalk', dependencies: { 'ansi-styles': '1' } }),
      'node_modules/ansi-styles/package.json': JSON.stringify({ name: 'ansi-styles' }),
      'node_modules/@scope/pkg/package.json': JSON.stringify({ name: '@scope/pkg' }),
      'node_modules/lazy-package/package.json': JSON.stringify({ name: 'lazy-package' }),
      'node_modules/commander/package.json': JSON.stringify({ name: 'commander' }),
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(project, path, '..'), { recursive: true });
      await writeFile(join(project, path), content);
    }
  });

  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('follows relative imports and collects packages with their dependencies', async () => {
    const closure = await raftkvClosure(project);
    const relativeFiles = closure.files.map((file) => file.slice(project.length + 1));
    expect(relativeFiles).toEqual(['dist/src/shared.js', 'dist/targets/raftkv/lib/a.js', 'dist/targets/raftkv/server.js']);
    expect(closure.packages).toEqual(['@scope/pkg', 'ansi-styles', 'chalk', 'lazy-package']);
  });

  it('says to build first when dist/targets/raftkv is missing', async () => {
    await expect(raftkvClosure(join(project, 'nowhere'))).rejects.toThrow(/npm run build/);
  });
});
