// Proves that SIGHUP (a closed terminal or ssh session) and an uncaught error in the controller heal like SIGTERM:
// a real `faultline run` with pauses, clock skew and partitions in force gets SIGHUP, exits 2, and leaves none of
// its own namespaces, links, iptables rules or (stopped) processes; an uncaught exception aborts the run instead
// of killing the controller mid-fault.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('SIGHUP and uncaught errors heal like SIGTERM', () => {
  it('SIGHUP during faults: exit 2, every fault healed, nothing of the run left on the host', async () => {
    const child = execa('node', [cliPath, 'run', '--name', 'e2e-hangup', '--nodes', '3', '--nemesis', 'pause,clock,partition',
      '--nemesis-interval', '1', '--nemesis-schedule', 'periodic', '--time-limit', '120', '--seed', '8', '--store', store],
      { cwd: repositoryRoot, reject: false, env: { FORCE_COLOR: '0' } });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    let runId: string | undefined;
    try {
      // Wait (bounded) until a fault has started and not yet healed, so there is something to heal.
      let faultInForce = false;
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && !faultInForce && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        runId ??= /run id (\S+);/.exec(stdout)?.[1];
        const runDir = /faultline: results in (.+)$/m.exec(stdout)?.[1]?.trim();
        if (!runDir || !runId) continue;
        const nemesisOps = readJsonl(join(runDir, 'nemesis.jsonl'));
        const last = nemesisOps[nemesisOps.length - 1];
        faultInForce = nemesisOps.length >= 3 && last?.action === 'start' && last.error === undefined;
      }
      expect(faultInForce, `no fault in force before the deadline:\n${stdout}`).toBe(true);
      expect((await leftoversOf(runId!)).length, 'the run has a cluster up (or this test proves nothing)').toBeGreaterThan(0);

      child.kill('SIGHUP');
      const finished = await child;
      expect(finished.exitCode, finished.stderr).toBe(2);
      expect(finished.stderr).toMatch(/SIGHUP: healing every fault/);
      expect(stdout).toMatch(/problem: interrupted during run/);
      expect(await leftoversOf(runId!)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (runId) await removeLeftoversOfThisRun(runId);
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
