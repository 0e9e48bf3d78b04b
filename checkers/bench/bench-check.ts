// `npm run bench:check`: times the whole `faultline check` command (parse + check) on reference and generated
// histories and prints one JSON object per case: name, ops, keys, processes, ms, peakRssMB, verdict, and the
// CLI's own split of the time into readMs and checkMs.
//
// Usage: node dist/checkers/bench/bench-check.js [name-filter]   (FAULTLINE_BENCH_MAX_OPS=N skips larger cases)
// Generated histories are cached under .bench/ by their parameters. Peak RSS comes from /usr/bin/time when
// present (Debian package `time`), else from the CLI itself (FAULTLINE_BENCH=1 makes it report maxRSS).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

interface BenchCase {
  name: string;
  file: string;
  model: string;
  extraArgs: string[];
  keys: number;
  processes: number;
  expected?: 'valid' | 'invalid';
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
}

function runChild(args: string[]): Promise<ChildOutcome> {
  const useTime = existsSync(timeBinary);
  const scratch = mkdtempSync(join(tmpdir(), 'faultline-bench-'));
  const rssFile = join(scratch, 'rss');
  const command = useTime ? timeBinary : process.execPath;
  const commandArgs = useTime ? ['-f', '%M', '-o', rssFile, process.execPath, ...args] : args;
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(command, commandArgs, { env: { ...process.env, FAULTLINE_BENCH: '1' } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (data: Buffer) => stdout.push(data));
    child.stderr.on('data', (data: Buffer) => stderr.push(data));
    const killer = setTimeout(() => child.kill('SIGKILL'), childKillMs);
    child.on('error', fail);
    child.on('close', (exitCode) => {
      clearTimeout(killer);
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

async function runCase(benchCase: BenchCase): Promise<Record<string, unknown>> {
  const outcome = await runChild([cli, 'check', benchCase.file, '--model', benchCase.model, '--timeout', checkTimeout, '--json', ...benchCase.extraArgs]);
  let ops: number | undefined;
  let unknownReason: string | undefined;
  let valid: unknown;
  try {
    const result = JSON.parse(outcome.stdout) as { valid?: unknown; opCount?: number; keys?: Array<{ valid: unknown; reason?: string }> };
    valid = result.valid;
    ops = result.opCount;
    unknownReason = result.keys?.find((key) => key.valid === 'unknown')?.reason;
  } catch {
    // Not JSON: the verdict below reports the exit code and the first line of stderr.
  }
  const verdict = verdictOf(outcome, valid);
  return {
    name: benchCase.name,
    ops: ops ?? benchCase.sizeOps,
    keys: benchCase.keys,
    processes: benchCase.processes,
    ms: Math.round(outcome.ms),
    peakRssMB: outcome.peakRssMB,
    verdict,
    ...(outcome.phases ?? {}),
    ...(benchCase.expected ? { expected: benchCase.expected, agrees: verdict === benchCase.expected } : {}),
    ...(unknownReason ? { reason: unknownReason } : {}),
  };
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} missing: run npm run build first`);
  const filter = process.argv[2];
  const maxOps = Number(process.env.FAULTLINE_BENCH_MAX_OPS ?? Infinity);
  const selected = (name: string, sizeOps: number): boolean => (!filter || name.includes(filter)) && sizeOps <= maxOps;
  for (const benchCase of referenceCases()) {
    if (!selected(benchCase.name, benchCase.sizeOps)) continue;
    process.stdout.write(`${JSON.stringify(await runCase(benchCase))}\n`);
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
      sizeOps: options.ops,
    };
    process.stdout.write(`${JSON.stringify(await runCase(benchCase))}\n`);
  }
}

await main();
