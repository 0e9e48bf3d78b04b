// A target's server process, started by Backend.startDaemon and found again through its pid file: what every Db needs to kill, pause and resume it.
import type { Backend, Node } from './backends/types.js';

/** Bounds of waiting for a SIGKILLed process to be gone. */
const EXIT_POLL_INTERVAL_MS = 100;
const EXIT_TIMEOUT_MS_DEFAULT = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid the file on the node names, or undefined when the file is missing or holds no positive integer. */
export async function readPidFile(backend: Backend, node: Node, pidFile: string): Promise<number | undefined> {
  const result = await backend.exec(node, ['cat', pidFile], { allowFailure: true });
  const pid = Number.parseInt(result.stdout.trim(), 10);
  return result.exitCode === 0 && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether the process runs (stopped counts as running). A zombie still answers kill -0, so its state in
 * /proc tells it apart; reading /proc needs no ps, which minimal images lack.
 */
export async function isProcessAlive(backend: Backend, node: Node, pid: number): Promise<boolean> {
  const state = await backend.exec(node, ['cat', `/proc/${pid}/stat`], { allowFailure: true });
  // The command name sits in parentheses and may itself hold spaces or parentheses: the state follows the last ')'.
  return state.exitCode === 0 && state.stdout.trim() !== '' && !/^\d+ \(.*\) Z/s.test(state.stdout);
}

/** The pid of the daemon the pid file names when that process still runs. */
export async function runningDaemonPid(backend: Backend, node: Node, pidFile: string): Promise<number | undefined> {
  const pid = await readPidFile(backend, node, pidFile);
  return pid !== undefined && (await isProcessAlive(backend, node, pid)) ? pid : undefined;
}

/** Waits (bounded) until the process is gone; true when it is. */
export async function waitForProcessExit(backend: Backend, node: Node, pid: number, timeoutMs: number = EXIT_TIMEOUT_MS_DEFAULT): Promise<boolean> {
  const attempts = Math.max(1, Math.ceil(timeoutMs / EXIT_POLL_INTERVAL_MS));
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (!(await isProcessAlive(backend, node, pid))) return true;
    await sleep(EXIT_POLL_INTERVAL_MS);
  }
  return !(await isProcessAlive(backend, node, pid));
}

/**
 * Sends the signal to the daemon the pid file names; a missing pid file is no error (nothing was started, or
 * teardown removed it). Returns the pid signalled.
 */
export async function signalDaemon(backend: Backend, node: Node, pidFile: string, signal: 'KILL' | 'STOP' | 'CONT'): Promise<number | undefined> {
  const pid = await readPidFile(backend, node, pidFile);
  if (pid !== undefined) await backend.exec(node, ['kill', `-${signal}`, String(pid)], { allowFailure: true });
  return pid;
}

/**
 * SIGKILLs the daemon and waits until it is gone, so a following start does not find it still alive. Throws
 * when it outlives `exitTimeoutMs` (a process in uninterruptible sleep), naming the node and pid.
 */
export async function killDaemon(backend: Backend, node: Node, pidFile: string, exitTimeoutMs: number = EXIT_TIMEOUT_MS_DEFAULT): Promise<void> {
  const pid = await signalDaemon(backend, node, pidFile, 'KILL');
  if (pid === undefined) return;
  if (!(await waitForProcessExit(backend, node, pid, exitTimeoutMs))) {
    throw new Error(`the process on ${node.name} (pid ${pid}, from ${pidFile}) survived SIGKILL for ${exitTimeoutMs} ms`);
  }
}
