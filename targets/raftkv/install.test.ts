// Proves the server's upload bundle is complete and self-contained: on a made-up compiled project, the closure
// follows relative imports and package dependencies (and nothing else), and the staged copy runs with node.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageNameOf, raftkvServerClosure, stageServer } from './install.js';

const project = mkdtempSync(join(tmpdir(), 'faultline-raftkv-install-test-'));
const staged: string[] = [];
afterAll(() => {
  rmSync(project, { recursive: true, force: true });
  for (const directory of staged) rmSync(directory, { recursive: true, force: true });
});

function write(relativePath: string, text: string): void {
  const path = join(project, relativePath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

write('package.json', JSON.stringify({ name: 'made-up', type: 'module', scripts: { test: 'never copied' } }));
write(
  'dist/targets/raftkv/server.js',
  [
    "import http from 'node:http';",
    "import { helper } from './helper.js';",
    "import { shared } from '../../src/shared.js';",
    "import { greet } from 'greeter/words';",
    // A string that merely contains "from '...'" is no import (tsc output has such headers in object literals).
    "const headers = { 'x-from': 'somewhere', note: \"see from './not-a-file.js'\" };",
    'void http; void headers;',
    "console.log(greet(helper() + shared));",
  ].join('\n'),
);
write('dist/targets/raftkv/helper.js', "import { shared } from '../../src/shared.js';\nexport const helper = () => 'raftkv-' + shared.length;");
write('dist/src/shared.js', "export const shared = 'abc';");
write('dist/targets/raftkv/unused.js', "export const unused = 'not imported, not copied';");
write('node_modules/greeter/package.json', JSON.stringify({ name: 'greeter', type: 'module', dependencies: { punctuation: '1.0.0' }, exports: { './words': './words.js' } }));
write('node_modules/greeter/words.js', "import { mark } from 'punctuation';\nexport const greet = (text) => `hello ${text}${mark}`;");
write('node_modules/punctuation/package.json', JSON.stringify({ name: 'punctuation', type: 'module', main: 'index.js' }));
write('node_modules/punctuation/index.js', "export const mark = '!';");
write('node_modules/unrelated/package.json', JSON.stringify({ name: 'unrelated' }));

describe('raftkv server closure', () => {
  it('names packages by their first path part (two for scoped ones)', () => {
    expect(packageNameOf('greeter/words')).toBe('greeter');
    expect(packageNameOf('@scope/name/deep/file.js')).toBe('@scope/name');
  });

  it('follows relative imports and package dependencies only', async () => {
    const closure = await raftkvServerClosure(join(project, 'dist/targets/raftkv/server.js'));
    expect(closure.projectDirectory).toBe(project);
    expect(closure.files).toEqual(
      ['dist/src/shared.js', 'dist/targets/raftkv/helper.js', 'dist/targets/raftkv/server.js'].map((path) => join(project, path)),
    );
    expect(closure.packages).toEqual(['greeter', 'punctuation']);
  });

  it('stages a copy that runs on its own', async () => {
    const closure = await raftkvServerClosure(join(project, 'dist/targets/raftkv/server.js'));
    const staging = await stageServer(closure);
    staged.push(staging);
    expect(JSON.parse(readFileSync(join(staging, 'package.json'), 'utf8'))).toEqual({ name: 'made-up', type: 'module', private: true });
    expect(existsSync(join(staging, 'dist/targets/raftkv/unused.js'))).toBe(false);
    expect(existsSync(join(staging, 'node_modules/unrelated'))).toBe(false);
    // The original project is moved out of reach first, so the copy cannot lean on it.
    const moved = `${project}-moved`;
    execFileSync('mv', [project, moved]);
    try {
      const output = execFileSync(process.execPath, [join(staging, 'dist/targets/raftkv/server.js')], { encoding: 'utf8', timeout: 20_000 });
      expect(output.trim()).toBe('hello raftkv-3abc!');
    } finally {
      execFileSync('mv', [moved, project]);
    }
  });

  it('refuses an import that is not installed', async () => {
    write('dist/targets/raftkv/broken.js', "import 'missing-package';");
    await expect(raftkvServerClosure(join(project, 'dist/targets/raftkv/broken.js'))).rejects.toThrow(/missing-package, which is not installed/);
  });
});
