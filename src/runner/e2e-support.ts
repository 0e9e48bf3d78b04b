// Shared by the harness's end-to-end tests: run the built `faultline` CLI as a real process, read what it
// stored, and list anything a run left on this host (namespaces, links, rules, processes, clock files, mounts).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { runTag } from '../backends/local.js';
import type { Op } from '../history/types.js';
import type { RunResults } from '../results.js';

/** The repository root, from src/runner (tests run from source) or dist/src/runner. */
export const repositoryRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), existsSync(fileURLToPath(new URL('../../package.json', import.meta.url))) ? '../..' : '../../..');
export const cliPath = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');

/** Builds dist/ (the e2e tests drive the built CLI, as a user would). Other helpers' type errors do not stop emit. */
export async function buildOnce(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repositoryRoot, reject: false, timeout: 280_000 });
  if (!existsSync(cliPath)) throw new Error(`build produced no ${cliPath}`);
}

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  runDir?: string;
  results?: RunResults;
  runId?: string;
}

/** Runs `faultline ARGS` to completion (bounded) and reads its results.json when it printed a results path. */
export async function faultline(args: string[], timeoutMs: number): Promise<CliRun> {
  const child = await execa('node', [cliPath, ...args], { cwd: repositoryRoot, reject: false, timeout: timeoutMs, env: { FORCE_COLOR: '0' } });
  const runDir = /faultline: results in (.+)$/m.exec(child.stdout)?.[1]?.trim();
  const runId = /run id (\S+);/.exec(child.stdout)?.[1];
  let results: RunResults | undefined;
  if (runDir && existsSync(join(runDir, 'results.json'))) results = JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as RunResults;
  return { exitCode: child.exitCode ?? -1, stdout: child.stdout, stderr: child.stderr, runDir, results, runId: results?.runId || runId };
}

export function readJsonl(path: string): Op[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Op);
}

/** A short account of a run for assertion messages: verdict, exit, errors, checker summaries. */
export function describeRun(run: CliRun): string {
  const checkers = run.results ? Object.entries(run.results.checkers).map(([name, result]) => `${name}=${String(result.valid)}`).join(' ') : 'no results';
  return `exit ${run.exitCode}; ${checkers}; errors ${JSON.stringify(run.results?.errors ?? [])}; dir ${run.runDir ?? '?'}; stderr ${run.stderr.slice(-500)}`;
}

/** Everything of run `runId` still on this host; empty when the run (or cleanup) removed it all. */
export async function leftoversOf(runId: string): Promise<string[]> {
  const tag = runTag(runId);
  const marker = `fl-${tag}-`;
  const problems: string[] = [];
  const host = async (argv: string[]) => (await execa(argv[0], argv.slice(1), { reject: false, timeout: 20_000 })).stdout;
  for (const line of (await host(['ip', 'netns', 'list'])).split('\n')) if (line.includes(marker)) problems.push(`namespace ${line.trim()}`);
  for (const line of (await host(['ip', '-o', 'link', 'show'])).split('\n')) if (line.includes(marker)) problems.push(`link ${line.split(':')[1]?.trim()}`);
  for (const table of ['filter', 'nat', 'mangle']) {
    for (const line of (await host(['iptables', '-t', table, '-S'])).split('\n')) if (line.includes(`fl-${tag}`)) problems.push(`iptables ${table}: ${line}`);
  }
  for (const line of (await host(['ps', '-eo', 'pid=,stat=,args='])).split('\n')) {
    if (!line.includes(runId)) continue;
    const [pid, stat] = line.trim().split(/\s+/);
    problems.push(`${stat?.startsWith('T') ? 'stopped ' : ''}process ${pid}: ${line.trim().slice(0, 160)}`);
  }
  const nodeDirectory = join('/tmp/faultline', runId);
  if (existsSync(nodeDirectory)) problems.push(`node directory (data, clock files) ${nodeDirectory}`);
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) if (line.includes(marker) || line.includes(nodeDirectory)) problems.push(`mount ${line}`);
  if (existsSync(join('/run/faultline/local', `${runId}.json`))) problems.push(`run manifest ${runId}.json`);
  return problems;
}
