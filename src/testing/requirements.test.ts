// Proves the missing-dependency rule: outside CI a test needing what the host lacks is skipped with the reason
// in its title; with CI=true it fails with that reason. Checked in a child vitest on a fixture file, by its JSON report.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { decide, inContinuousIntegration } from './requirements.js';

const repositoryRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const scratch = mkdtempSync(join(tmpdir(), 'faultline-requirements-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface AssertionResult {
  title: string;
  fullName: string;
  status: string;
  failureMessages: string[];
}

/** Runs the fixture in a child vitest with the given CI value; returns its tests as the JSON reporter saw them. */
async function runFixture(ci: string | undefined): Promise<AssertionResult[]> {
  const name = `ci-${ci ?? 'unset'}`;
  const config = join(scratch, `${name}.config.mjs`);
  const output = join(scratch, `${name}.json`);
  writeFileSync(config, `export default { test: { include: ['src/testing/fixtures/missing-dependency.fixture.ts'], reporters: [['json', { outputFile: ${JSON.stringify(output)} }]] } };\n`);
  const environment: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  delete environment.CI;
  delete environment.VITEST;
  if (ci !== undefined) environment.CI = ci;
  await execa('npx', ['vitest', 'run', '--root', repositoryRoot, '--config', config], { cwd: repositoryRoot, env: environment, extendEnv: false, reject: false, timeout: 100_000 });
  const report = JSON.parse(readFileSync(output, 'utf8')) as { testResults: Array<{ assertionResults: AssertionResult[] }> };
  return report.testResults.flatMap((file) => file.assertionResults);
}

describe('missing dependencies', () => {
  it('decides run, skip or fail, naming what is missing', () => {
    expect(decide('x', { sshd: true, root: true }, true)).toEqual({ action: 'run' });
    expect(decide('the ssh e2e', { sshd: false, root: true, chromium: false }, false)).toEqual({
      action: 'skip',
      reason: 'the ssh e2e needs sshd, chromium, missing on this host',
    });
    const failed = decide('the ssh e2e', { sshd: false }, true);
    expect(failed.action).toBe('fail');
    expect(failed.action !== 'run' && failed.reason).toContain('the ssh e2e needs sshd, missing on this host (CI=true');
  });

  it('reads CI as CI services set it', () => {
    expect(inContinuousIntegration({ CI: 'true' })).toBe(true);
    expect(inContinuousIntegration({ CI: '1' })).toBe(true);
    expect(inContinuousIntegration({ CI: 'false' })).toBe(false);
    expect(inContinuousIntegration({ CI: '' })).toBe(false);
    expect(inContinuousIntegration({})).toBe(false);
  });

  it('outside CI skips, with the reason in the title; the block with everything runs', async () => {
    const results = await runFixture(undefined);
    const skipped = results.filter((result) => result.status === 'skipped' || result.status === 'pending');
    expect(skipped.map((result) => result.fullName).sort()).toEqual([
      'a block [skipped: the fixture block needs a-tool-no-host-has, missing on this host] would pass if it ran',
      'a test [skipped: the fixture test needs a-tool-no-host-has, missing on this host]',
    ]);
    expect(results.filter((result) => result.status === 'passed').map((result) => result.fullName)).toEqual(['a block with everything runs']);
    expect(results.filter((result) => result.status === 'failed')).toEqual([]);
  }, 120_000);

  it('with CI=true fails each test that lacks something, with the reason, and skips nothing', async () => {
    const results = await runFixture('true');
    expect(results.filter((result) => result.status !== 'passed' && result.status !== 'failed')).toEqual([]);
    const failed = results.filter((result) => result.status === 'failed');
    expect(failed.map((result) => result.fullName).sort()).toEqual(['a block has what it needs on this host', 'a test']);
    for (const result of failed) expect(result.failureMessages.join('\n')).toMatch(/needs a-tool-no-host-has, missing on this host \(CI=true: a missing dependency fails rather than skips\)/);
    expect(results.filter((result) => result.status === 'passed').map((result) => result.fullName)).toEqual(['a block with everything runs']);
  }, 120_000);
});
