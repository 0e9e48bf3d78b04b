// Proves that SIGHUP (a closed terminal or ssh session) and an uncaught error in the controller heal like SIGTERM:
// a real `faultline run` with pauses, clock skew and partitions in force gets SIGHUP, exits 2, and leaves none of
// its own namespaces, links, iptables rules or (stopped) processes, on the local backend and on real OpenSSH
// nodes; an uncaught exception aborts the run instead of killing the controller mid-fault.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdAvailable, startSshdFixture, type SshdFixture } from '../backends/ssh/sshd-fixture.js';
import { describeWhen } from '../testing/requirements.js';
import { buildOnce, cliPath, leftoversOf, readJsonl, repositoryRoot } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-hangup-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

/**
 * Removes what this one run left (never another run's): its processes by pid, its namespaces and links by
 * name, its host iptables rules. Only reached when the test already failed; bounded by the leftovers listed.
 */
async function removeLeftoversOfThisRun(runId: string): Promise<void> {
  const run = (argv: string[]) => execa(argv[0], argv.slice(1), { reject: false, timeout: 20_000 });
  for (const leftover of await leftoversOf(runId)) {
    const pid = /process (\d+):/.exec(leftover);
    if (pid) {
      await run(['kill', '-CONT', pid[1]]);
      await run(['kill', '-KILL', pid[1]]);
    }
    const namespace = /^namespace (\S+)/.exec(leftover);
    if (namespace) await run(['ip', 'netns', 'delete', namespace[1]]);
    const link = /^link (\S+)/.exec(leftover);
    if (link) await run(['ip', 'link', 'delete', link[1].split('@')[0]]);
    const rule = /^iptables (\w+): -A (.*)$/.exec(leftover);
    if (rule) await run(['iptables', '-t', rule[1], '-D', ...rule[2].split(' ')]);
  }
}

/** Starts `faultline run ARGS` and waits (bounded) until a fault has started and not yet healed. */
async function startRunWithFaultInForce(args: string[], env: Record<string, string> = {}) {
  const child = execa('node', [cliPath, 'run', ...args], { cwd: repositoryRoot, reject: false, env: { FORCE_COLOR: '0', ...env } });
  const state = { stdout: '', runId: undefined as string | undefined, faultInForce: false };
  child.stdout?.on('data', (chunk: Buffer) => {
    state.stdout += chunk.toString();
  });
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline && !state.faultInForce && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    state.runId ??= /run id (\S+);/.exec(state.stdout)?.[1];
    const runDir = /faultline: results in (.+)$/m.exec(state.stdout)?.[1]?.trim();
    if (!runDir || !state.runId) continue;
    const nemesisOps = readJsonl(join(runDir, 'nemesis.jsonl'));
    const last = nemesisOps[nemesisOps.length - 1];
    state.faultInForce = nemesisOps.length >= 3 && last?.action === 'start' && last.error === undefined;
  }
  return { child, state };
}

describe('SIGHUP and uncaught errors heal like SIGTERM', () => {
  it('SIGHUP during faults: exit 2, every fault healed, nothing of the run left on the host', async () => {
    const { child, state } = await startRunWithFaultInForce(['--name', 'e2e-hangup', '--nodes', '3', '--nemesis', 'pause,clock,partition',
      '--nemesis-interval', '1', '--nemesis-schedule', 'periodic', '--time-limit', '120', '--seed', '8', '--store', store]);
    try {
      expect(state.faultInForce, `no fault in force before the deadline:\n${state.stdout}`).toBe(true);
      expect((await leftoversOf(state.runId!)).length, 'the run has a cluster up (or this test proves nothing)').toBeGreaterThan(0);

      child.kill('SIGHUP');
      const finished = await child;
      expect(finished.exitCode, finished.stderr).toBe(2);
      expect(finished.stderr).toMatch(/SIGHUP: healing every fault/);
      expect(state.stdout).toMatch(/problem: interrupted during run/);
      expect(await leftoversOf(state.runId!)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (state.runId) await removeLeftoversOfThisRun(state.runId);
    }
  }, 400_000);

  it('an uncaught exception and an unhandled rejection abort the run through the same path; the controller lives to heal', async () => {
    const script = join(store, 'crash.mjs');
    const runModule = pathToFileURL(join(repositoryRoot, 'dist', 'src', 'cli', 'run.js')).href;
    writeFileSync(script, [
      `import { interruptOnTrouble } from ${JSON.stringify(runModule)};`,
      'const trouble = interruptOnTrouble(process.stderr);',
      // Stands for the runner: on abort it heals and tears down (takes a while), then says so.
      "trouble.signal.addEventListener('abort', () => setTimeout(() => {",
      "  console.log(`healed and torn down; crashed=${trouble.crashed()}`);",
      '  trouble.dispose();',
      '}, 300));',
      "setTimeout(() => { throw new Error('boom in a worker'); }, 20);",
      "setTimeout(() => { Promise.reject(new Error('a rejection nobody awaited')); }, 60);",
    ].join('\n'));
    const child = await execa('node', [script], { reject: false, timeout: 30_000 });
    expect(child.exitCode, child.stderr).toBe(0);
    expect(child.stdout).toBe('healed and torn down; crashed=true');
    expect(child.stderr).toMatch(/uncaught error in the controller: Error: boom in a worker/);
    expect(child.stderr).toMatch(/uncaught error: healing every fault/);
    expect(child.stderr).toMatch(/a rejection nobody awaited/);
    expect(child.stderr).toMatch(/uncaught error again: still healing/);
  }, 60_000);
});

/** Processes on this host started by ssh run `runId` (the ssh backend puts FAULTLINE_SSH_RUN_ID in their environment). */
function processesOfSshRun(runId: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FAULTLINE_SSH_RUN_ID=${runId}`)) continue;
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      found.push(`${state === 'T' ? 'stopped ' : ''}process ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describeWhen('the SIGHUP e2e over ssh', { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() })('SIGHUP over ssh', () => {
  let fixture: SshdFixture;
  beforeAll(async () => {
    fixture = await startSshdFixture({ count: 3, hiddenPaths: [repositoryRoot] });
  }, 120_000);
  afterAll(async () => {
    await fixture?.close();
  });

  it('SIGHUP during faults on ssh nodes: exit 2, no rule, process or run directory of the run left on any node', async () => {
    const remoteRoot = join(fixture.directory, 'remote');
    const { child, state } = await startRunWithFaultInForce(['--name', 'e2e-hangup-ssh', '--backend', 'ssh', '--nodes', fixture.hosts.join(','),
      '--ssh-key', fixture.userKeyFile, '--ssh-known-hosts', fixture.knownHostsFile, '--ssh-root', remoteRoot, '--ssh-tmpfs-mb', '64',
      '--nemesis', 'pause,partition', '--nemesis-interval', '1', '--nemesis-schedule', 'periodic', '--time-limit', '120',
      '--concurrency', '3', '--rate', '20', '--seed', '9', '--store', store], { SSH_AUTH_SOCK: '' });
    try {
      expect(state.faultInForce, `no fault in force before the deadline:\n${state.stdout}`).toBe(true);
      const runId = state.runId!;
      expect(processesOfSshRun(runId).length, 'the run has daemons up (or this test proves nothing)').toBeGreaterThan(0);

      child.kill('SIGHUP');
      const finished = await child;
      expect(finished.exitCode, finished.stderr).toBe(2);
      expect(finished.stderr).toMatch(/SIGHUP: healing every fault/);
      expect(processesOfSshRun(runId)).toEqual([]);
      const chainTag = createHash('sha256').update(runId).digest('hex').slice(0, 8);
      for (const node of fixture.nodes) {
        const rules = await execa('ip', ['netns', 'exec', node.namespace, 'iptables', '-S'], { reject: false, timeout: 20_000 });
        expect(rules.stdout.split('\n').filter((line) => line.includes(chainTag)), node.name).toEqual([]);
      }
      expect(existsSync(join(remoteRoot, runId))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      // Whatever failed above, stop this run's daemons (by pid; only processes carrying this run's id).
      if (state.runId) {
        for (const line of processesOfSshRun(state.runId)) {
          const pid = /process (\d+):/.exec(line)?.[1];
          if (pid) await execa('kill', ['-CONT', pid], { reject: false }).then(() => execa('kill', ['-KILL', pid], { reject: false }));
        }
      }
    }
  }, 400_000);
});
