// Proves the pid-file daemon helpers on real processes of this host: a daemon is found by its pid file, a
// stopped one still counts as alive, kill waits until it is gone, and a missing pid file is no error.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, ExecOptions, ExecResult, Node } from './backends/types.js';
import { isProcessAlive, killDaemon, readPidFile, runningDaemonPid, signalDaemon } from './daemon.js';

/** The host as a node: exec runs the argv here, as the local backend does inside a namespace. */
const hostBackend = {
  name: 'local',
  runId: 'daemon-unit',
  exec(_node: Node, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      execFile(argv[0], argv.slice(1), { timeout: options.timeoutMs ?? 10_000 }, (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (exitCode !== 0 && !options.allowFailure) reject(new Error(`${argv.join(' ')} exited ${exitCode}: ${stderr}`));
        else resolve({ exitCode, stdout, stderr });
      });
    });
  },
} as Backend;

const folder = mkdtempSync(join(tmpdir(), 'flg-daemon-unit-'));
const node: Node = { name: 'host', host: '127.0.0.1', dir: folder, clockFile: join(folder, 'clock') };
const children: ChildProcess[] = [];

function startSleeper(pidFile: string): number {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  writeFileSync(pidFile, `${child.pid}\n`);
  return child.pid!;
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(folder, { recursive: true, force: true });
});

describe('pid-file daemons', () => {
  it('finds a running daemon, keeps a stopped one alive, and kills it for good', async () => {
    const pidFile = join(folder, 'sleeper.pid');
    const pid = startSleeper(pidFile);
    expect(await readPidFile(hostBackend, node, pidFile)).toBe(pid);
    expect(await runningDaemonPid(hostBackend, node, pidFile)).toBe(pid);
    expect(await signalDaemon(hostBackend, node, pidFile, 'STOP')).toBe(pid);
    expect(await isProcessAlive(hostBackend, node, pid)).toBe(true);
    await signalDaemon(hostBackend, node, pidFile, 'CONT');
    await killDaemon(hostBackend, node, pidFile);
    expect(await isProcessAlive(hostBackend, node, pid)).toBe(false);
    // The pid file stays (a restart overwrites it), but it names no running daemon now.
    expect(await runningDaemonPid(hostBackend, node, pidFile)).toBeUndefined();
  });

  it('treats a missing or garbled pid file as no daemon', async () => {
    const missing = join(folder, 'missing.pid');
    expect(await readPidFile(hostBackend, node, missing)).toBeUndefined();
    await expect(killDaemon(hostBackend, node, missing)).resolves.toBeUndefined();
    expect(await signalDaemon(hostBackend, node, missing, 'STOP')).toBeUndefined();
    const garbled = join(folder, 'garbled.pid');
    writeFileSync(garbled, 'not a pid\n');
    expect(await readPidFile(hostBackend, node, garbled)).toBeUndefined();
  });
});
