// Proves the ssh flags of `faultline run` reach the ssh backend and its warnings reach the user: the built CLI
// runs raftkv on real OpenSSH nodes (network namespaces made here) with --ssh-strict false, --ssh-root and
// --ssh-tmpfs-mb, and the host-key warning appears in the output, results.json and report.html.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execa } from 'execa';
import { sshdAvailable, startSshdFixture, type SshdFixture } from '../backends/ssh/sshd-fixture.js';
import type { RunResults } from '../results.js';
import { buildOnce, cliPath, describeRun, readJsonl, repositoryRoot } from './e2e-support.js';
import { describeWhen } from '../testing/requirements.js';


describeWhen('the faultline run --backend ssh flags e2e', { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() })('faultline run --backend ssh: flags in, warnings out', () => {
  let fixture: SshdFixture;

  beforeAll(async () => {
    await buildOnce();
    // The nodes must not see this checkout, as on real machines: raftkv is copied to them over SFTP.
    fixture = await startSshdFixture({ count: 3, hiddenPaths: [repositoryRoot] });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it('runs with host keys unchecked, says so everywhere, and keeps the nodes under --ssh-root', async () => {
    const store = path.join(fixture.directory, 'store');
    const remoteRoot = path.join(fixture.directory, 'remote');
    const child = await execa('node', [
      cliPath, 'run', '--name', 'ssh-flags', '--target', 'raftkv', '--backend', 'ssh', '--nodes', fixture.hosts.join(','),
      '--ssh-key', fixture.userKeyFile, '--ssh-strict', 'false', '--ssh-root', remoteRoot, '--ssh-tmpfs-mb', '64',
      '--nemesis', 'partition', '--nemesis-interval', '2', '--time-limit', '8', '--concurrency', '3', '--rate', '20', '--recovery', '2',
      '--seed', '424242', '--store', store,
    ], { cwd: repositoryRoot, reject: false, timeout: 300_000, env: { FORCE_COLOR: '0', SSH_AUTH_SOCK: '' } });
    const runDir = /faultline: results in (.+)$/m.exec(child.stdout)?.[1]?.trim();
    expect(runDir, child.stdout + child.stderr).toBeDefined();
    const results = JSON.parse(readFileSync(path.join(runDir!, 'results.json'), 'utf8')) as RunResults;
    const summary = describeRun({ exitCode: child.exitCode ?? -1, stdout: child.stdout, stderr: child.stderr, runDir, results });
    expect(results.errors, summary).toEqual([]);
    expect(child.exitCode, summary).toBe(0);

    const warning = /ssh: host key checking is OFF \(--ssh-strict=false\)/;
    expect(results.warnings?.join('\n')).toMatch(warning);
    expect(child.stdout.split('\n').filter((line) => line.startsWith('faultline: warning: ')).join('\n')).toMatch(warning);
    expect(readFileSync(path.join(runDir!, 'report.html'), 'utf8')).toMatch(/host key checking is OFF \(--ssh-strict=false\)/);
    // The nodes lived under --ssh-root (the run's directory is gone after teardown; the root stays).
    expect(existsSync(remoteRoot)).toBe(true);
    expect(existsSync(path.join(remoteRoot, results.runId))).toBe(false);
    // Faults happened at their scheduled times, counted from the client phase.
    const nemesisOps = readJsonl(path.join(runDir!, 'history.jsonl')).filter((op) => op.process === 'nemesis' && op.type === 'invoke');
    expect(nemesisOps.length).toBeGreaterThan(0);
    expect(nemesisOps[0].time).toBeGreaterThanOrEqual(1e9);
  }, 400_000);
});
