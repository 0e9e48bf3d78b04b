// Proves scripts/test-summary.mjs (.ci/run's closing lines) prints the skipped count, why each test was
// skipped, and test files that failed to load, from a vitest JSON report written here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';

const repositoryRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-test-summary-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('prints counts, each skipped test with its reason, and files that failed to load', async () => {
  const report = {
    numPassedTests: 3,
    numFailedTests: 1,
    numPendingTests: 2,
    numTodoTests: 0,
    testResults: [
      {
        name: join(repositoryRoot, 'checkers/reference.test.ts'),
        status: 'passed',
        message: '',
        assertionResults: [
          { fullName: 'reference histories a.html: skipped, not a history file (.html)', status: 'pending' },
          { fullName: 'reference histories b.edn is valid', status: 'passed' },
        ],
      },
      {
        name: join(repositoryRoot, 'src/backends/ssh.e2e.test.ts'),
        status: 'failed',
        message: '',
        assertionResults: [
          { fullName: 'ssh [skipped: the ssh e2e needs sshd, missing on this host] connects', status: 'skipped' },
          { fullName: 'ssh reconnects', status: 'failed' },
          { fullName: 'ssh runs', status: 'passed' },
        ],
      },
      { name: join(repositoryRoot, 'src/broken.e2e.test.ts'), status: 'failed', message: 'SyntaxError: Unexpected token\n  at line 3', assertionResults: [] },
    ],
  };
  const file = join(scratch, 'vitest.json');
  writeFileSync(file, JSON.stringify(report));
  const result = await execa('node', [join(repositoryRoot, 'scripts/test-summary.mjs'), file], { cwd: repositoryRoot, reject: false, timeout: 30_000 });
  expect(result.exitCode).toBe(0);
  expect(result.stdout.split('\n')).toEqual([
    '3 passed, 1 failed, 2 skipped, 1 test file failed to load',
    'skipped, with the reason in each title:',
    '  checkers/reference.test.ts: reference histories a.html: skipped, not a history file (.html)',
    '  src/backends/ssh.e2e.test.ts: ssh [skipped: the ssh e2e needs sshd, missing on this host] connects',
    'failed to load: src/broken.e2e.test.ts: SyntaxError: Unexpected token',
  ]);
});

it('says so, and exits non-zero, without a report', async () => {
  const result = await execa('node', [join(repositoryRoot, 'scripts/test-summary.mjs'), join(scratch, 'missing.json')], { cwd: repositoryRoot, reject: false, timeout: 30_000 });
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toMatch(/^test-summary: no vitest report at .*missing\.json/);
});
