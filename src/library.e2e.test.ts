// Proves Faultline is usable as a library without forking (issue 13): the example project examples/my-store, a
// real replicated key-value server and its target written against the public API only, is installed from
// `npm pack`'s tarball into a copy outside the repository, built there, and run through `--target ./dist/target.js`.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, describeRun, leftoversOf, repositoryRoot } from './runner/e2e-support.js';
import type { RunResults } from './results.js';

const workspace = mkdtempSync(join(tmpdir(), 'faultline-library-'));
const project = join(workspace, 'my-store');
const installedCli = join(project, 'node_modules', 'faultline', 'dist', 'src', 'cli', 'main.js');

interface ProjectRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  runDir?: string;
  runId?: string;
  results?: RunResults;
}

/** `faultline ARGS` as the example project's user runs it: the installed package's CLI, from the project folder. */
async function faultlineInProject(args: string[], timeoutMs: number): Promise<ProjectRun> {
  const child = await execa('node', [installedCli, ...args], { cwd: project, reject: false, timeout: timeoutMs, env: { FORCE_COLOR: '0' } });
  const runDir = /faultline: results in (.+)$/m.exec(child.stdout)?.[1]?.trim();
  const runId = /run id (\S+);/.exec(child.stdout)?.[1];
  const resultsFile = runDir ? join(runDir, 'results.json') : undefined;
  const results = resultsFile && existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as RunResults) : undefined;
  return { exitCode: child.exitCode ?? -1, stdout: child.stdout, stderr: child.stderr, runDir, runId, results };
}

/** A short run of the example on 3 local nodes under kills (the primary among them), seeded. */
function runArguments(extra: string[]): string[] {
  return [
    'run', '--target', './dist/target.js', '--nodes', '3', '--workload', 'register', '--nemesis', 'kill',
    '--nemesis-interval', '1.5', '--time-limit', '6', '--recovery', '2', '--concurrency', '4', '--rate', '50',
    '--store', './store', '--seed', '13', ...extra,
  ];
}

beforeAll(async () => {
  await buildOnce();
  // The package as npm would publish it: `files` and `exports` decide what the example can reach.
  const pack = await execa('npm', ['pack', '--silent', '--pack-destination', workspace], { cwd: repositoryRoot, timeout: 120_000 });
  const tarball = join(workspace, pack.stdout.trim().split('\n').pop()!);
  cpSync(join(repositoryRoot, 'examples', 'my-store'), project, { recursive: true, filter: (source) => !/\/(node_modules|dist|store)$/.test(source) });
  const installed = join(project, 'node_modules', 'faultline');
  mkdirSync(installed, { recursive: true });
  await execa('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], { timeout: 60_000 });
  // No network: the package's own dependencies, TypeScript and Node's types come from this repository's install.
  symlinkSync(join(repositoryRoot, 'node_modules'), join(installed, 'node_modules'));
  symlinkSync(join(repositoryRoot, 'node_modules', 'typescript'), join(project, 'node_modules', 'typescript'));
  mkdirSync(join(project, 'node_modules', '@types'));
  symlinkSync(join(repositoryRoot, 'node_modules', '@types', 'node'), join(project, 'node_modules', '@types', 'node'));
  await execa('node', [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 240_000 });
}, 420_000);

afterAll(() => {
  rmSync(workspace, { recursive: true, force: true });
});

describe('the example project, installed from the package tarball', () => {
  it('builds against the installed type declarations, outside the repository', () => {
    expect(existsSync(join(project, 'dist', 'target.js'))).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'faultline', 'dist', 'src', 'index.d.ts'))).toBe(true);
    expect(existsSync(join(project, 'node_modules', 'faultline', 'src'))).toBe(false);
  });

  it('runs through --target ./dist/target.js under kills and is valid, leaving nothing behind', async () => {
    const run = await faultlineInProject(runArguments([]), 120_000);
    expect(run.exitCode, describeRun(run)).toBe(0);
    expect(run.results?.valid).toBe(true);
    expect(run.results?.target).toBe('my-store');
    const history = readFileSync(join(run.runDir!, 'history.jsonl'), 'utf8');
    // The kills happened, and clients got answers from the store both ways.
    expect(history).toMatch(/"f":"kill"/);
    expect(history).toMatch(/"type":"ok","f":"write"|"f":"write".*"type":"ok"/);
    expect(await leftoversOf(run.runId!)).toEqual([]);
  }, 180_000);

  it('runs its spec file: the target, a workload and a nemesis of its own by paths relative to the spec', async () => {
    const run = await faultlineInProject(['run', 'faultline.yaml', '--time-limit', '8', '--store', './store', '--seed', '21'], 120_000);
    expect(run.exitCode, describeRun(run)).toBe(0);
    expect(run.results?.target).toBe('my-store');
    // The example's workload brought Faultline's linearizability checker and a checker of its own.
    expect(run.results?.checkers.linearizable?.valid).toBe(true);
    expect(run.results?.checkers['saw-reads-and-writes']?.valid).toBe(true);
    const history = readFileSync(join(run.runDir!, 'history.jsonl'), 'utf8');
    // The example's freeze fault ran and healed, as ops of the nemesis in the history.
    expect(history).toMatch(/"type":"info","f":"freeze-all","value":\{"frozen":\["n1","n2","n3"\]\}/);
    expect(history).toMatch(/"type":"info","f":"thaw-all","value":\{"thawed":\["n1","n2","n3"\]\}/);
    expect(await leftoversOf(run.runId!)).toEqual([]);
  }, 180_000);

  it("catches the store's stale-reads bug: invalid", async () => {
    const run = await faultlineInProject(runArguments(['--target-options', 'staleReads=true']), 120_000);
    expect(run.exitCode, describeRun(run)).toBe(1);
    expect(run.results?.valid).toBe(false);
    expect(await leftoversOf(run.runId!)).toEqual([]);
  }, 180_000);

  it('refuses a module that is missing or exports no Target with one line and exit 2', async () => {
    const missing = await faultlineInProject(['run', '--target', './dist/nowhere.js', '--nodes', '3'], 60_000);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.trim()).toBe(`faultline: --target: no such target module: ${join(project, 'dist', 'nowhere.js')}`);

    writeFileSync(join(project, 'dist', 'not-a-target.js'), 'export const answer = 42;\n');
    const wrong = await faultlineInProject(['run', '--target', './dist/not-a-target.js', '--nodes', '3', '--time-limit', '1', '--store', './store'], 60_000);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr + wrong.stdout).toContain(
      `target ${join(project, 'dist', 'not-a-target.js')}: expected a default export or an export named 'target' that is a Target {name, workloads, db(), client()}, got exports: answer`,
    );
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
