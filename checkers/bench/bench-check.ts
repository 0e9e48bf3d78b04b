// `npm run bench:check`: times the whole `faultline check` command (parse + check) on reference and generated
// histories and prints one JSON object per case: name, ops, keys, processes, ms, peakRssMB, verdict, and the
// CLI's own split of the time into readMs and checkMs. On every cas-register JSONL case it also times a small
// Porcupine checker (checkers/bench/porcupine, built with `go build` into .bench/) on the same file, adding
// porcupineMs, porcupinePeakRssMB, porcupineVerdict and ratio (Faultline's time / Porcupine's), and on an
// invalid case Faultline again with --first-violation (firstViolationMs, firstViolationRatio), since
// Porcupine stops at the first illegal key; two definite verdicts that differ fail the benchmark (exit 1).
// Without Go it says so and times Faultline alone.
//
// Usage: node dist/checkers/bench/bench-check.js [name-filter]   (FAULTLINE_BENCH_MAX_OPS=N skips larger cases;
// FAULTLINE_BENCH_PORCUPINE_MAX_MB=N, default 4096, kills a Porcupine run past N MB of RSS: on one key with
// many processes it grows past 12 GB, and the machine is shared)
// Generated histories are cached under .bench/ by their parameters. Peak RSS comes from /usr/bin/time when
// present (Debian package `time`), else from the CLI itself (FAULTLINE_BENCH=1 makes it report maxRSS).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHistoryFile } from '../../src/history/read.js';
import { cachedGeneratedHistory, type GeneratedHistoryOptions } from './generate-history.js';

/** dist/checkers/bench/ -> the repository root (also right when run from the sources). */
const repositoryRoot = findRepositoryRoot(dirname(fileURLToPath(import.meta.url)));
const cli = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const historiesDirectory = resolve(repositoryRoot, '..', 'shared', 'histories');
const cacheDirectory = join(repositoryRoot, '.bench');
const timeBinary = '/usr/bin/time';
/** The check's own search budget, and a hard bound on each child beyond it. */
const checkTimeout = '120s';
const childKillMs = 300_000;
const porcupineSource = join(repositoryRoot, 'checkers', 'bench', 'porcupine');
const porcupineMaxMB = Number(process.env.FAULTLINE_BENCH_PORCUPINE_MAX_MB ?? 4096);
/** How often a Porcupine child's RSS is sampled against the cap. */
const memoryPollMs = 50;

interface BenchCase {
  name: string;
  file: string;
  model: string;
  extraArgs: string[];
  keys: number;
  processes: number;
  expected?: 'valid' | 'invalid';
  /** The same file is in Porcupine's reach: cas-register JSONL, initial null, strict nil reads. */
  porcupine: boolean;
  /** Invocations (generated) or events/2 (reference) for the size filter. */
  sizeOps: number;
}

function findRepositoryRoot(start: string): string {
  let directory = start;
  for (let depth = 0; depth < 6; depth++) {
    if (existsSync(join(directory, 'package.json'))) return directory;
    directory = dirname(directory);
  }
  throw new Error(`no package.json above ${start}`);
}

function referenceCases(): BenchCase[] {
  const manifest = join(historiesDirectory, 'MANIFEST.tsv');
  if (!existsSync(manifest)) return [];
  const lines = readFileSync(manifest, 'utf8').split('\n');
  const header = lines[0].split('\t');
  const cell = (cells: string[], name: string): string => cells[header.indexOf(name)];
  const cases: BenchCase[] = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const cells = line.split('\t');
    const path = cell(cells, 'path');
    if (!['.edn', '.jsonl'].includes(extname(path))) continue; // e.g. an HTML rendering listed in the manifest
    const file = join(historiesDirectory, path);
    if (!existsSync(file)) continue;
    const initial = cell(cells, 'initial').replace(/\s+per key$/, '');
    const extraArgs = ['--initial', isJson(initial) ? initial : JSON.stringify(initial)];
    if (path.startsWith('knossos/')) extraArgs.push('--nil-reads', 'any');
    const history = readHistoryFile(file).history;
    const clientProcesses = new Set(history.filter((op) => typeof op.process === 'number').map((op) => op.process));
    const keys = new Set(history.map((op) => op.key ?? null));
    cases.push({
      name: `reference/${path}`,
      file,
      model: cell(cells, 'model'),
      extraArgs,
      keys: keys.size,
      processes: clientProcesses.size,
      expected: cell(cells, 'expected') as 'valid' | 'invalid',
      porcupine: extname(path) === '.jsonl' && cell(cells, 'model') === 'cas-register' && initial === 'null' && !path.startsWith('knossos/'),
      sizeOps: Math.round(Number(cell(cells, 'events')) / 2),
    });
  }
  return cases;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function generatedParameters(): Array<{ name: string; options: GeneratedHistoryOptions; expected: 'valid' | 'invalid' }> {
  const grid: Array<{ name: string; options: GeneratedHistoryOptions; expected: 'valid' | 'invalid' }> = [];
  const sizes: Array<[string, number]> = [['1k', 1_000], ['10k', 10_000], ['100k', 100_000], ['1M', 1_000_000]];
  for (const [label, ops] of sizes) {
    for (const keys of [1, 100]) {
      for (const expected of ['valid', 'invalid'] as const) {
        const staleReads = expected === 'invalid' ? Math.max(1, Math.round(ops / 2000)) : 0;
        grid.push({
          name: `generated/${label}-k${keys}-p10-${expected}`,
          options: { ops, keys, processes: 10, seed: 42, infoRate: 0.03, failRate: 0.01, staleReads },
          expected,
        });
      }
    }
  }
  // Like the reference generated/ histories (about 0.1% info): the 100k-on-one-key target, without
  // the thousands of forever-open info ops that 3% brings to a single key.
  grid.push({
    name: 'generated/100k-k1-p10-info0.1pct-valid',
    options: { ops: 100_000, keys: 1, processes: 10, seed: 42, infoRate: 0.001, failRate: 0.01, staleReads: 0 },
    expected: 'valid',
  });
  grid.push({
    name: 'generated/10k-k1-p50-valid',
    options: { ops: 10_000, keys: 1, processes: 50, seed: 42, infoRate: 0.03, failRate: 0.01, staleReads: 0 },
    expected: 'valid',
  });
  return grid;
}

interface ChildOutcome {
  ms: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  peakRssMB: number | null;
  /** Reading (parse) and checking times as the CLI measured them, when it reported them; `parallel`: read and checked at once on worker threads (all of it in checkMs). */
  phases?: { readMs: number; checkMs: number; parallel?: boolean };
  /** Killed for going past the memory cap. */
  overMemoryCap?: boolean;
}

/** Resident set of a process in kilobytes (0 once it is gone). */
function residentKB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The children of `pid` (the program /usr/bin/time runs). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function runChild(args: string[], program: string = process.execPath, maxMB?: number): Promise<ChildOutcome> {
  const useTime = existsSync(timeBinary);
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-bench-'));
  const rssFile = join(scratch, 'rss');
  const command = useTime ? timeBinary : program;
  const commandArgs = useTime ? ['-f', '%M', '-o', rssFile, program, ...args] : args;
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(command, commandArgs, { env: { ...process.env, FAULTLINE_BENCH: '1' } });
    let overMemoryCap = false;
    const guard =
      maxMB === undefined
        ? undefined
        : setInterval(() => {
            const pids = [child.pid ?? 0, ...childPids(child.pid ?? 0)].filter((pid) => pid > 0);
            const totalKB = pids.reduce((sum, pid) => sum + residentKB(pid), 0);
            if (totalKB > maxMB * 1024) {
              overMemoryCap = true;
              // The program only, when /usr/bin/time runs it: time then still reports its peak RSS.
              const victims = pids.length > 1 ? pids.slice(1) : pids;
              for (const pid of victims) {
                try {
                  process.kill(pid, 'SIGKILL');
                } catch {
                  // already gone
                }
              }
            }
          }, memoryPollMs);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (data: Buffer) => stdout.push(data));
    child.stderr.on('data', (data: Buffer) => stderr.push(data));
    const killer = setTimeout(() => child.kill('SIGKILL'), childKillMs);
    child.on('error', fail);
    child.on('close', (exitCode) => {
      clearTimeout(killer);
      if (guard) clearInterval(guard);
      const ms = performance.now() - started;
      const errorText = Buffer.concat(stderr).toString('utf8');
      let peakRssKB: number | undefined;
      const reported = /faultline-bench: (\{.*\})/.exec(errorText);
      const phases = reported ? (JSON.parse(reported[1]) as { readMs: number; checkMs: number; parallel?: boolean; maxRssKB: number }) : undefined;
      if (useTime && existsSync(rssFile)) {
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        peakRssKB = Number(lines[lines.length - 1]);
      }
      if (!(peakRssKB! > 0) && phases) peakRssKB = phases.maxRssKB;
      rmSync(scratch, { recursive: true, force: true });
      done({
        ms,
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: errorText,
        peakRssMB: peakRssKB ? Math.round(peakRssKB / 1024) : null,
        ...(phases ? { phases: { readMs: phases.readMs, checkMs: phases.checkMs, ...(phases.parallel ? { parallel: true } : {}) } } : {}),
        ...(overMemoryCap ? { overMemoryCap } : {}),
      });
    });
  });
}

/**
 * The verdict as the JSON result states it, cross-checked with the exit code: a crashed Node process also
 * exits 1, which must not pass for 'invalid'.
 */
function verdictOf(outcome: ChildOutcome, valid: unknown): string {
  const expectedExit = valid === true ? 0 : valid === false ? 1 : valid === 'unknown' ? 3 : undefined;
  if (expectedExit !== undefined && outcome.exitCode === expectedExit) {
    return valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
  }
  return `error (exit ${outcome.exitCode}): ${outcome.stderr.trim().split('\n')[0] ?? ''}`;
}

/**
 * Builds the Porcupine checker into .bench/ (named by a hash of its sources, so an edit rebuilds it);
 * a string says why it could not be built (no Go, no module proxy).
 */
function buildPorcupine(): { binary: string } | { skipped: string } {
  const goCandidates = [...(process.env.PATH ?? '').split(':').map((directory) => join(directory, 'go')), '/usr/local/go/bin/go'];
  const go = goCandidates.find((candidate) => candidate !== 'go' && existsSync(candidate));
  if (!go) return { skipped: 'Go is not installed (looked on PATH and in /usr/local/go/bin): Porcupine is not timed' };
  const hash = createHash('sha256');
  for (const name of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(porcupineSource, name)));
  const directory = join(cacheDirectory, `porcupine-${hash.digest('hex').slice(0, 16)}`);
  const binary = join(directory, 'porcupine-check');
  if (existsSync(binary)) return { binary };
  mkdirSync(directory, { recursive: true });
  const build = spawnSync(go, ['build', '-o', binary, '.'], { cwd: porcupineSource, encoding: 'utf8', timeout: 300_000 });
  if (build.status !== 0 || !existsSync(binary)) {
    // The last line: go prints progress (downloading ...) before the error.
    const why = `${build.stderr ?? ''}${build.error ? String(build.error) : ''}`.trim().split('\n').pop();
    return { skipped: `go build of ${porcupineSource} failed: Porcupine is not timed (${why})` };
  }
  return { binary };
}

/** The keys' verdicts merged as checkers merge them: false beats unknown beats true. */
function mergedVerdict(validities: unknown[]): string {
  if (validities.includes(false)) return 'invalid';
  if (validities.some((valid) => valid !== true)) return 'unknown';
  return 'valid';
}

/** Porcupine on the same file; its verdict, as for Faultline, is the JSON line cross-checked with the exit code. */
async function runPorcupine(binary: string, file: string): Promise<Record<string, unknown>> {
  const outcome = await runChild(['-timeout', checkTimeout, file], binary, porcupineMaxMB);
  let reported: { valid?: unknown; readMs?: number; checkMs?: number } = {};
  try {
    reported = JSON.parse(outcome.stdout) as typeof reported;
  } catch {
    // Not JSON: reported as an error below.
  }
  const verdict = outcome.overMemoryCap ? `out of memory (killed past ${porcupineMaxMB} MB)` : verdictOf(outcome, reported.valid);
  return {
    porcupineMs: Math.round(outcome.ms),
    porcupinePeakRssMB: outcome.peakRssMB,
    porcupineVerdict: verdict,
    ...(reported.readMs !== undefined ? { porcupineReadMs: reported.readMs, porcupineCheckMs: reported.checkMs } : {}),
  };
}

async function runCase(benchCase: BenchCase, extraArgs: string[] = []): Promise<Record<string, unknown>> {
  const outcome = await runChild([cli, 'check', benchCase.file, '--model', benchCase.model, '--timeout', checkTimeout, '--json', ...benchCase.extraArgs, ...extraArgs]);
  let ops: number | undefined;
  let unknownReason: string | undefined;
  let valid: unknown;
  let keyValidities: unknown[] | undefined;
  try {
    const result = JSON.parse(outcome.stdout) as { valid?: unknown; opCount?: number; keys?: Array<{ valid: unknown; reason?: string }> };
    valid = result.valid;
    keyValidities = result.keys?.map((key) => key.valid);
    ops = result.opCount;
    unknownReason = result.keys?.find((key) => key.valid === 'unknown')?.reason;
  } catch {
    // Not JSON: the verdict below reports the exit code and the first line of stderr.
  }
  const verdict = verdictOf(outcome, valid);
  const linearizable = keyValidities === undefined || !verdict.match(/^(valid|invalid|unknown)$/) ? verdict : mergedVerdict(keyValidities);
  return {
    name: benchCase.name,
    loadAverage: Number(loadavg()[0].toFixed(1)),
    ops: ops ?? benchCase.sizeOps,
    keys: benchCase.keys,
    processes: benchCase.processes,
    ms: Math.round(outcome.ms),
    peakRssMB: outcome.peakRssMB,
    verdict,
    ...(outcome.phases ?? {}),
    ...(linearizable !== verdict ? { linearizable } : {}),
    // MANIFEST's verdicts are linearizability verdicts: a history where nothing succeeded (Knossos' empty and
    // all-fail mongodb rows) is linearizable, yet `faultline check` says unknown by the stats rule.
    ...(benchCase.expected ? { expected: benchCase.expected, agrees: linearizable === benchCase.expected } : {}),
    ...(unknownReason ? { reason: unknownReason } : {}),
  };
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} missing: run npm run build first`);
  const filter = process.argv[2];
  const maxOps = Number(process.env.FAULTLINE_BENCH_MAX_OPS ?? Infinity);
  const selected = (name: string, sizeOps: number): boolean => (!filter || name.includes(filter)) && sizeOps <= maxOps;
  const porcupine = buildPorcupine();
  if ('skipped' in porcupine) process.stdout.write(`${JSON.stringify({ porcupine: porcupine.skipped })}\n`);
  const disagreements: string[] = [];
  const run = async (benchCase: BenchCase): Promise<void> => {
    const line = await runCase(benchCase);
    if (benchCase.porcupine && 'binary' in porcupine) {
      const other = await runPorcupine(porcupine.binary, benchCase.file);
      Object.assign(line, other);
      const definite = ['valid', 'invalid'];
      if (definite.includes(line.verdict as string) && definite.includes(other.porcupineVerdict as string)) {
        line.sameVerdict = (line.linearizable ?? line.verdict) === other.porcupineVerdict;
        if (!line.sameVerdict) disagreements.push(benchCase.name);
        // Below 1: Faultline is faster.
        line.ratio = Number(((line.ms as number) / (other.porcupineMs as number)).toFixed(2));
      }
      if (benchCase.expected === 'invalid') {
        // Porcupine stops at the first illegal key; so does Faultline when asked.
        const first = await runCase(benchCase, ['--first-violation']);
        line.firstViolationMs = first.ms;
        line.firstViolationPeakRssMB = first.peakRssMB;
        line.firstViolationVerdict = first.verdict;
        if (first.verdict !== line.verdict) disagreements.push(`${benchCase.name} --first-violation`);
        if (typeof other.porcupineMs === 'number' && line.ratio !== undefined) line.firstViolationRatio = Number(((first.ms as number) / other.porcupineMs).toFixed(2));
      }
    }
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  for (const benchCase of referenceCases()) {
    if (!selected(benchCase.name, benchCase.sizeOps)) continue;
    await run(benchCase);
  }
  for (const { name, options, expected } of generatedParameters()) {
    if (!selected(name, options.ops)) continue;
    const file = await cachedGeneratedHistory(cacheDirectory, options);
    const benchCase: BenchCase = {
      name,
      file,
      model: 'cas-register',
      extraArgs: ['--initial', 'null'],
      keys: options.keys,
      processes: options.processes,
      expected,
      porcupine: true,
      sizeOps: options.ops,
    };
    await run(benchCase);
  }
  if (disagreements.length > 0) {
    process.stdout.write(`${JSON.stringify({ error: 'Faultline and Porcupine gave different verdicts', cases: disagreements })}\n`);
    process.exitCode = 1;
  }
}

await main();
