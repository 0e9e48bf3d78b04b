// Proves `faultline cleanup --backend ssh --nodes ... [ssh flags] --run-id R` removes what a dead controller
// left on real OpenSSH nodes (its daemon and its run directory) and leaves another run alone: two controllers
// are killed mid-run (child processes that exit without teardown), then the built CLI cleans one, then the other.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, cliPath, repositoryRoot } from '../runner/e2e-support.js';
import { sshdAvailable, startSshdFixture, type SshdFixture } from '../backends/ssh/sshd-fixture.js';
import { describeWhen } from '../testing/requirements.js';


interface Leftover {
  runId: string;
  pid: number;
  dir: string;
}

/** Whether a process still runs and carries the ssh backend's run variable for `runId`. */
function runsFor(pid: number, runId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FAULTLINE_SSH_RUN_ID=${runId}`);
  } catch {
    return false;
  }
}

describeWhen('the faultline cleanup --backend ssh e2e', { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() })('faultline cleanup --backend ssh', () => {
  let fixture: SshdFixture;
  let remoteRoot: string;
  const leftovers: Leftover[] = [];

  /** A controller that provisions one node, starts a daemon there, and dies without tearing anything down. */
  async function abandonRun(runId: string): Promise<Leftover> {
    const script = [
      `import { createSshBackend } from ${JSON.stringify(path.join(repositoryRoot, 'dist/src/backends/ssh.js'))};`,
      'const options = JSON.parse(process.argv[1]);',
      'const backend = createSshBackend(options);',
      'const [node] = await backend.provision(1);',
      "const pid = await backend.startDaemon(node, ['sleep', '300'], { logFile: `${node.dir}/sleep.log`, pidFile: `${node.dir}/sleep.pid` });",
      'process.stdout.write(JSON.stringify({ pid, dir: node.dir }));',
      'process.exit(0);',
    ].join('\n');
    const options = { runId, hosts: fixture.hosts.slice(0, 1), privateKeyPath: fixture.userKeyFile, agent: false, knownHostsFiles: [fixture.knownHostsFile], remoteRoot };
    const child = await execa('node', ['--input-type=module', '-e', script, JSON.stringify(options)], { timeout: 120_000, reject: false });
    expect(child.exitCode, child.stderr).toBe(0);
    const leftover = { runId, ...(JSON.parse(child.stdout) as { pid: number; dir: string }) };
    leftovers.push(leftover);
    return leftover;
  }

  function cleanup(runId: string) {
    return execa('node', [
      cliPath, 'cleanup', '--backend', 'ssh', '--nodes', fixture.hosts[0], '--ssh-key', fixture.userKeyFile, '--ssh-known-hosts', fixture.knownHostsFile,
      '--ssh-root', remoteRoot, '--run-id', runId,
    ], { cwd: repositoryRoot, timeout: 120_000, reject: false, env: { FORCE_COLOR: '0', SSH_AUTH_SOCK: '' } });
  }

  beforeAll(async () => {
    await buildOnce();
    fixture = await startSshdFixture({ count: 1 });
    // A root of this test's own: cleanup deletes marked run directories below it, never anyone else's.
    remoteRoot = path.join(fixture.directory, 'remote');
  });

  afterAll(async () => {
    // Whatever happened, no sleeping daemon of this test survives it.
    for (const leftover of leftovers) if (runsFor(leftover.pid, leftover.runId)) process.kill(leftover.pid, 'SIGKILL');
    await fixture?.close();
  });

  it('removes the named dead run (daemon and directory) and only it', async () => {
    const first = await abandonRun(`flcleanup-a-${process.pid}`);
    const second = await abandonRun(`flcleanup-b-${process.pid}`);
    expect(runsFor(first.pid, first.runId) && runsFor(second.pid, second.runId), 'the dead controllers left their daemons running').toBe(true);
    expect(existsSync(first.dir) && existsSync(second.dir)).toBe(true);

    const cleaned = await cleanup(first.runId);
    expect(cleaned.exitCode, cleaned.stderr).toBe(0);
    expect(cleaned.stdout).toContain(`ssh: removed run ${first.runId} on ${fixture.hosts[0]}`);
    expect(runsFor(first.pid, first.runId)).toBe(false);
    expect(existsSync(path.join(remoteRoot, first.runId))).toBe(false);
    expect(runsFor(second.pid, second.runId)).toBe(true);
    expect(existsSync(second.dir)).toBe(true);

    const cleanedSecond = await cleanup(second.runId);
    expect(cleanedSecond.exitCode, cleanedSecond.stderr).toBe(0);
    expect(runsFor(second.pid, second.runId)).toBe(false);
    expect(existsSync(path.join(remoteRoot, second.runId))).toBe(false);
  }, 300_000);
});
