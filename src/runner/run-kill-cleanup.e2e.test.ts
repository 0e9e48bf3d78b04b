// Proves no fault outlives a run: with pauses, clock skew and partitions in force, (1) Ctrl-C twice still heals
// and tears down before exiting (exit 2), and (2) a controller killed by SIGKILL leaves a cluster that
// `faultline cleanup` removes entirely. Each waits until a fault is really in force, on a real 3-node raftkv.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, cliPath, faultline, leftoversOf, readJsonl, repositoryRoot } from './e2e-support.js';

const store = mkdtempSync(join(tmpdir(), 'faultline-e2e-kill-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));
beforeAll(buildOnce, 300_000);

/** Starts a long faulty run and waits (bounded) until a fault has been started and not yet healed. */
async function startRunWithFaultInForce(name: string) {
  const child = execa('node', [cliPath, 'run', '--name', name, '--nodes', '3', '--nemesis', 'pause,clock,partition',
    '--nemesis-interval', '1', '--nemesis-schedule', 'periodic', '--time-limit', '120', '--seed', '5', '--store', store],
    { cwd: repositoryRoot, reject: false, env: { FORCE_COLOR: '0' } });
  const output = { stdout: '', runId: undefined as string | undefined, faultInForce: false };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  // The history writer fsyncs nemesis.jsonl within a second, so polling it sees faults shortly after they start.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !output.faultInForce && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    output.runId ??= /run id (\S+);/.exec(output.stdout)?.[1];
    const runDir = /faultline: results in (.+)$/m.exec(output.stdout)?.[1]?.trim();
    if (!runDir || !output.runId) continue;
    const nemesisOps = readJsonl(join(runDir, 'nemesis.jsonl'));
    const last = nemesisOps[nemesisOps.length - 1];
    output.faultInForce = nemesisOps.length >= 3 && last?.action === 'start' && last.error === undefined;
  }
  return { child, output };
}

describe('no fault outlives a run', () => {
  it('Ctrl-C twice: faults are healed and nodes torn down before exit 2', async () => {
    const { child, output } = await startRunWithFaultInForce('e2e-interrupt');
    try {
      expect(output.faultInForce, `no fault in force before the deadline:\n${output.stdout}`).toBe(true);
      child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill('SIGINT');
      const finished = await child;
      expect(finished.exitCode, finished.stderr).toBe(2);
      expect(finished.stderr).toMatch(/healing every fault/);
      expect(await leftoversOf(output.runId!)).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (output.runId && (await leftoversOf(output.runId)).length > 0) await faultline(['cleanup'], 120_000);
    }
  }, 400_000);

  it('SIGKILL, then faultline cleanup: no namespace, rule, stopped process or skewed clock remains', async () => {
    const { child, output } = await startRunWithFaultInForce('e2e-kill');
    const runId = output.runId;
    try {
      expect(runId, output.stdout).toBeDefined();
      expect(output.faultInForce, `no fault in force before the deadline:\n${output.stdout}`).toBe(true);
      child.kill('SIGKILL');
      await child;

      const left = await leftoversOf(runId!);
      expect(left.length, 'a killed run should leave its cluster behind (or this test proves nothing)').toBeGreaterThan(0);

      const cleanup = await faultline(['cleanup'], 120_000);
      expect(cleanup.exitCode, cleanup.stderr).toBe(0);
      expect(cleanup.stdout).toMatch(/removed/);
      expect(await leftoversOf(runId!)).toEqual([]);
      expect(existsSync(join('/tmp/faultline', runId!))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      // Whatever happened above, leave the host clean.
      if (runId && (await leftoversOf(runId)).length > 0) await faultline(['cleanup'], 120_000);
    }
  }, 400_000);
});
