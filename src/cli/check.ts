// `faultline check`: judges a history file (JSONL or Jepsen EDN) or a run directory for linearizability.
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  checkLinearizable,
  modelNames,
  type Counterexample,
  type CounterexampleOp,
  type KeyResult,
  type LinearizableResult,
} from '../../checkers/linearizable/index.js';
import { checkJsonlFileInParallel } from '../../checkers/linearizable/file.js';
import { mergeValidity, type Validity } from '../../checkers/types.js';
// The transactional checker is loaded only for a transactional model (a linearizability check of a small
// file spends a tenth of its time loading modules); its names come from its light anomalies module.
import { consistencyModels, type ConsistencyModel } from '../../checkers/txn/anomalies.js';
import type { TxnWorkload } from '../../checkers/txn/index.js';
import { FunctionOutcomeCounter, judgeFunctionStats, statsRulesForModel, type StatsVerdict } from '../../checkers/stats/index.js';
import { ExitCode, UserError } from '../errors.js';
import { readHistoryFile, resolveHistoryFile } from '../history/read.js';
import { RunFiles } from '../results.js';

/** The transactional workloads `--model` accepts (checkers/txn's txnWorkloads; check.test.ts keeps the two equal). */
export const txnWorkloads: readonly TxnWorkload[] = ['list-append', 'rw-register'];

export interface CheckCommandOptions {
  model?: string;
  initial?: string;
  nilReads?: string;
  timeout: string;
  workers?: string;
  independent?: boolean;
  json?: boolean;
  consistency?: string;
  firstViolation?: boolean;
  /** --junit FILE, --summary-json FILE: the verdict as junit.xml / summary.json (src/store/ci-outputs.ts). */
  junit?: string;
  summaryJson?: string;
  /** Called with the judged result before the exit code is returned (the CI outputs are written from it). */
  onResult?(checkerName: string, result: { valid: Validity; [detail: string]: unknown }): void;
}

/** Above this many keys the text report lists counts and only the keys that are not valid. */
const keysListedInFull = 20;
const defaultTimeout = '60s';

export function register(program: Command): void {
  program
    .command('check')
    .description('check a history (history.jsonl, Jepsen history.edn, or a run directory) for linearizability')
    .argument('<history>', 'history.jsonl, history.edn, or a run directory containing history.jsonl')
    .option('--model <name>', `sequential model: ${modelNames.join(', ')}; or a transactional workload: ${txnWorkloads.join(', ')} (default for a run directory: from its spec.json)`)
    .option('--consistency <model>', `for list-append and rw-register: ${consistencyModels.join(', ')} (default strict-serializable)`)
    .option('--initial <json>', "the model's initial state as JSON, e.g. 0, null, '\"\"' or '{\"x\":0}'")
    .option('--nil-reads <rule>', "'any': a read completing with nil matches any value (Knossos' rule); 'strict'")
    .option('--timeout <duration>', 'search budget (e.g. 500ms, 60s, 5m); past it the verdict is unknown', defaultTimeout)
    .option('--workers <count>', 'worker threads for independent keys (0: check in this thread; on a JSONL file each thread also parses only its own keys)')
    .option('--independent', 'split jepsen.independent [key value] tuples (default: detect)')
    .option('--no-independent', 'never split [key value] tuples')
    .option('--json', 'print the result as JSON')
    .option('--first-violation', 'stop at the first invalid key, as Porcupine does (keys not yet searched are unknown; the verdict is invalid all the same)')
    .option('--junit <file>', 'also write the verdict as JUnit XML to FILE (one testcase: linearizable, or the transactional workload)')
    .option('--summary-json <file>', 'also write the verdict as a JSON summary to FILE (the fields of a run\'s summary.json)')
    .action(async (historyPath: string, options: CheckCommandOptions) => {
      const startedAt = new Date();
      let judged: { checkerName: string; result: { valid: Validity; [detail: string]: unknown } } | undefined;
      if (options.junit !== undefined || options.summaryJson !== undefined) options.onResult = (checkerName, result) => (judged = { checkerName, result });
      const exitCode = await runCheck(historyPath, options);
      if (judged) await writeCheckCiOutputs(historyPath, judged.checkerName, judged.result, exitCode, startedAt, options);
      process.exitCode = exitCode;
    });
}

/** Parses "60s", "500ms", "2m", "1h" or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) throw new UserError(`${flag}: expected a duration such as 500ms, 60s or 5m, got '${text}'`);
  const amount = Number(match[1]);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] as number;
  const milliseconds = Math.round(amount * unitMs);
  if (!(milliseconds > 0)) throw new UserError(`${flag}: expected a positive duration, got '${text}'`);
  return milliseconds;
}

interface RunDirectoryDefaults {
  model?: string;
  consistency?: string;
  initial?: unknown;
  nilReadsAny?: boolean;
}

/** Model and options a run's spec.json implies: an explicit `model`, else the workload's own model. */
function defaultsFromSpec(runDirectory: string): RunDirectoryDefaults {
  const specPath = join(runDirectory, RunFiles.spec);
  let text: string;
  try {
    text = readFileSync(specPath, 'utf8');
  } catch {
    return {};
  }
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(`${specPath}: expected a JSON object (${(error as Error).message})`);
  }
  const defaults: RunDirectoryDefaults = {};
  if (typeof spec.model === 'string') defaults.model = spec.model;
  else if (spec.workload === 'register') defaults.model = 'cas-register';
  else if (spec.workload === 'set') defaults.model = 'set';
  else if (isTxnWorkload(spec.workload)) defaults.model = spec.workload;
  if (typeof spec.consistency === 'string') defaults.consistency = spec.consistency;
  if ('initial' in spec) defaults.initial = spec.initial;
  else if (spec.workload === 'register') defaults.initial = null;
  if (spec.nilReads === 'any') defaults.nilReadsAny = true;
  return defaults;
}

function parseInitial(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`--initial: expected a JSON value such as 0, null, '""' or '{"x":0}', got '${text}'`);
  }
}

function parseNilReads(text: string): boolean {
  if (text === 'any') return true;
  if (text === 'strict') return false;
  throw new UserError(`--nil-reads: expected 'any' or 'strict', got '${text}'`);
}

function parseWorkers(text: string): number {
  const workers = Number(text);
  if (!Number.isInteger(workers) || workers < 0 || workers > 256) {
    throw new UserError(`--workers: expected a whole number from 0 to 256, got '${text}'`);
  }
  return workers;
}

function checkModelName(name: string): string {
  if (!modelNames.includes(name) && !isTxnWorkload(name)) {
    throw new UserError(`--model: expected one of ${[...modelNames, ...txnWorkloads].join(', ')}, got '${name}'`);
  }
  return name;
}

function isTxnWorkload(name: unknown): name is TxnWorkload {
  return typeof name === 'string' && (txnWorkloads as readonly string[]).includes(name);
}

function checkConsistency(name: string): ConsistencyModel {
  if (!(consistencyModels as readonly string[]).includes(name)) throw new UserError(`--consistency: expected one of ${consistencyModels.join(', ')}, got '${name}'`);
  return name as ConsistencyModel;
}

/** list-append and rw-register: the Elle-style transactional checker over the whole history. */
async function runTxnCheck(historyPath: string, workload: TxnWorkload, consistencyName: string, options: CheckCommandOptions): Promise<number> {
  const consistency = checkConsistency(consistencyName);
  const { checkTransactions, renderTxnResultText, TransactionFormatError } = await import('../../checkers/txn/index.js');
  const read = readHistoryFile(historyPath, { independent: false });
  for (const warning of read.warnings) process.stderr.write(`faultline: warning: ${warning}\n`);
  let result;
  try {
    result = checkTransactions(read.history, { workload, consistency });
  } catch (error) {
    if (error instanceof TransactionFormatError) throw new UserError(`${read.file}: ${error.message}`);
    throw error;
  }
  // The stats rule, as for the other models: an empty or all-fail history is not a pass.
  const counter = new FunctionOutcomeCounter();
  for (const op of read.history) counter.add(op.process, op.type, op.f);
  const stats = judgeFunctionStats(counter.counts(), statsRulesForModel(workload));
  const judged = { ...result, valid: mergeValidity(result.valid, stats.valid), notes: stats.reason ? [...result.notes, `stats: ${stats.reason}`] : result.notes, stats };
  if (process.env.FAULTLINE_BENCH === '1') process.stderr.write(`faultline-bench: ${JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS })}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(judged)}\n`);
  else process.stdout.write(`history: ${read.file} (${read.history.length} events)\n${renderTxnResultText(judged)}`);
  options.onResult?.(workload, judged as unknown as { valid: Validity; [detail: string]: unknown });
  return exitCodeOf(judged.valid);
}

/** Runs the check and prints the report; returns the exit code (0 valid, 1 invalid, 3 unknown). */
export async function runCheck(historyPath: string, options: CheckCommandOptions): Promise<number> {
  // Flags first: a typo should not cost a long parse.
  const timeoutMs = parseDuration(options.timeout ?? defaultTimeout, '--timeout');
  if (options.model !== undefined) checkModelName(options.model);
  if (options.consistency !== undefined) checkConsistency(options.consistency);
  const initialFlag = options.initial !== undefined ? { value: parseInitial(options.initial) } : undefined;
  const nilReadsFlag = options.nilReads !== undefined ? parseNilReads(options.nilReads) : undefined;
  const workers = options.workers !== undefined ? parseWorkers(options.workers) : undefined;

  const resolved = resolveHistoryFile(historyPath, { independent: options.independent });
  const defaults = resolved.runDirectory ? defaultsFromSpec(resolved.runDirectory) : {};
  const model = options.model ?? defaults.model;
  if (isTxnWorkload(model)) return runTxnCheck(historyPath, model, options.consistency ?? defaults.consistency ?? 'strict-serializable', options);
  const initial = initialFlag ? initialFlag.value : defaults.initial;
  const nilReadsAny = nilReadsFlag ?? defaults.nilReadsAny;
  const checkOptions = {
    ...(initialFlag || 'initial' in defaults ? { initial } : {}),
    ...(nilReadsAny !== undefined ? { nilReadsAny } : {}),
    ...(options.firstViolation ? { firstViolation: true } : {}),
    timeoutMs,
  };

  // A big JSONL file: read and check it on every core at once (each thread parses only its keys).
  const parallelWorkers = workers ?? availableParallelism();
  if (model !== undefined) checkModelName(model);
  // (Asked for explicitly with --workers N: at any size.)
  const bigEnough = workers !== undefined || fileBytes(resolved.file) >= parallelMinBytes;
  if (model !== undefined && resolved.format === 'jsonl' && options.independent !== true && parallelWorkers >= 2 && bigEnough) {
    const started = performance.now();
    const parallel = await checkJsonlFileInParallel(resolved.file, resolved.file, {
      model,
      ...checkOptions,
      workers: parallelWorkers,
      onFallback: (reason) => process.stderr.write(`faultline: warning: ${reason}\n`),
    });
    if (parallel) {
      const warnings = [...parallel.warnings];
      if (parallel.events === 0) warnings.push(`${resolved.file}: the history holds no operations`);
      for (const warning of warnings) process.stderr.write(`faultline: warning: ${warning}\n`);
      // The workers counted the outcomes as they read: the stats rule applies as on the one-thread path.
      const judged = withStatsRule(parallel.result, parallel.functionCounts, model);
      return report(judged, resolved.file, parallel.events, { initial, nilReadsAny }, options, { readMs: 0, checkMs: performance.now() - started, parallel: true });
    }
  }

  const readStarted = performance.now();
  const read = readHistoryFile(historyPath, { independent: options.independent });
  const readMs = performance.now() - readStarted;
  for (const warning of read.warnings) process.stderr.write(`faultline: warning: ${warning}\n`);
  if (model === undefined) {
    throw new UserError(`--model: expected a model name (${modelNames.join(', ')}) for ${historyPath}`);
  }
  checkModelName(model);

  const checkStarted = performance.now();
  // Below parallelMinBytes, one thread unless asked: handing the keys to worker threads (each starting
  // Node and warming up its own JIT, the keys copied across) cost more than it saved, measured on 100k
  // ops over 100 keys on this loaded 2-core machine (see README, Performance).
  const linearizable = await checkLinearizable(read.history, {
    model,
    ...checkOptions,
    workers: workers ?? (bigEnough ? availableParallelism() : 0),
  });
  const counter = new FunctionOutcomeCounter();
  for (const op of read.history) counter.add(op.process, op.type, op.f);
  const result = withStatsRule(linearizable, counter.counts(), model);
  return report(result, read.file, read.history.length, { initial, nilReadsAny }, options, { readMs, checkMs: performance.now() - checkStarted, parallel: false });
}

/** A linearizability result with Jepsen's stats rule applied: no ok op, or a function never ok, is not a pass. */
export type JudgedResult = LinearizableResult & { stats?: StatsVerdict };

/** Merges the stats rule into the verdict (false beats unknown beats true); the rule's reason goes with it. */
export function withStatsRule(result: LinearizableResult, counts: Parameters<typeof judgeFunctionStats>[0], model: string): JudgedResult {
  const stats = judgeFunctionStats(counts, statsRulesForModel(model));
  return { ...result, valid: mergeValidity(result.valid, stats.valid), stats };
}

/** At least this many bytes of JSONL (about 240k ops): below, two threads each scanning the whole file and warming up their own JIT cost more than they save on a loaded 2-core machine. */
const parallelMinBytes = 48 << 20;

function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Prints the result (text or JSON) and, for the benchmark, where the time went; returns the exit code. */
function report(
  result: JudgedResult,
  file: string,
  events: number,
  settings: { initial: unknown; nilReadsAny: boolean | undefined },
  options: CheckCommandOptions,
  timing: { readMs: number; checkMs: number; parallel: boolean },
): number {
  // Never silent: a failed worker thread, or an internal error that made the verdict unknown.
  for (const warning of result.warnings ?? []) process.stderr.write(`faultline: warning: ${warning}\n`);
  if (result.error !== undefined) process.stderr.write(`faultline: ${result.error}\n`);
  if (process.env.FAULTLINE_BENCH === '1') {
    // Peak RSS (kilobytes) for machines without /usr/bin/time. In parallel mode reading and checking overlap: all in checkMs.
    const phases = { readMs: Math.round(timing.readMs), checkMs: Math.round(timing.checkMs), parallel: timing.parallel, maxRssKB: process.resourceUsage().maxRSS };
    process.stderr.write(`faultline-bench: ${JSON.stringify(phases)}\n`);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(formatReport(result, file, events, settings));
  }
  options.onResult?.('linearizable', result as unknown as { valid: Validity; [detail: string]: unknown });
  return exitCodeOf(result.valid);
}

export function exitCodeOf(valid: Validity): number {
  if (valid === true) return ExitCode.valid;
  if (valid === false) return ExitCode.invalid;
  return ExitCode.unknown;
}

function verdictWord(valid: Validity): string {
  return valid === true ? 'valid' : valid === false ? 'INVALID' : 'UNKNOWN';
}

function keyName(key: unknown): string {
  return key === null || key === undefined ? '(no key)' : JSON.stringify(key);
}

function formatOp(op: CounterexampleOp): string {
  const where = op.completionIndex !== undefined ? `#${op.index}..#${op.completionIndex}` : `#${op.index}..(open)`;
  const description = op.description || `${op.f} ${JSON.stringify(op.value)}`;
  return `${where}  process ${op.process}  ${op.type}  ${description}`;
}

/** A counterexample as lines a person can follow from top to bottom. */
export function formatCounterexample(counterexample: Counterexample, indent = '    '): string[] {
  const lines: string[] = [];
  if (counterexample.explanation) lines.push(`${indent}${counterexample.explanation}`);
  if (counterexample.failedOps?.length) {
    lines.push(`${indent}could not be linearized:`);
    for (const op of counterexample.failedOps) lines.push(`${indent}  ${formatOp(op)}`);
  }
  if (counterexample.concurrentOps?.length) {
    lines.push(`${indent}concurrent with it (pending at that moment):`);
    for (const op of counterexample.concurrentOps) lines.push(`${indent}  ${formatOp(op)}`);
  }
  const prefix = counterexample.prefix ?? [];
  lines.push(
    `${indent}longest linearizable prefix: ${counterexample.prefixLength} ops` +
      (prefix.length > 0 ? `; its last ${prefix.length}, in linearization order:` : ''),
  );
  for (const op of prefix) lines.push(`${indent}  ${formatOp(op)}`);
  if (counterexample.states?.length) {
    lines.push(`${indent}model states reached there (${counterexample.configurations} configurations):`);
    for (const state of counterexample.states) lines.push(`${indent}  ${state}`);
  }
  return lines;
}

function formatKey(keyResult: KeyResult): string[] {
  const lines = [`key ${keyName(keyResult.key)}: ${verdictWord(keyResult.valid)} (${keyResult.ops} ops)`];
  if (keyResult.reason) lines.push(`    ${keyResult.reason}`);
  if (keyResult.counterexample) lines.push(...formatCounterexample(keyResult.counterexample));
  return lines;
}

/** The text report: the verdict per key (or counts plus the keys that are not valid) and overall. */
export function formatReport(
  result: JudgedResult,
  file: string,
  events: number,
  settings: { initial: unknown; nilReadsAny: boolean | undefined },
): string {
  const lines: string[] = [];
  const initialText = settings.initial === undefined ? "the model's default" : JSON.stringify(settings.initial);
  const nilText = settings.nilReadsAny === undefined ? 'default' : settings.nilReadsAny ? 'any' : 'strict';
  lines.push(`history: ${file} (${events} events, ${result.opCount} ops, ${result.keys.length} keys)`);
  lines.push(`model: ${result.model} (initial ${initialText}, nil reads ${nilText})`);
  const keys = result.keys;
  if (keys.length <= keysListedInFull) {
    for (const keyResult of keys) lines.push(...formatKey(keyResult));
  } else {
    const valid = keys.filter((key) => key.valid === true).length;
    const invalid = keys.filter((key) => key.valid === false).length;
    const unknown = keys.length - valid - invalid;
    lines.push(`keys: ${keys.length} (${valid} valid, ${invalid} invalid, ${unknown} unknown)`);
    for (const keyResult of keys) if (keyResult.valid !== true) lines.push(...formatKey(keyResult));
  }
  if (result.stats?.reason) lines.push(`stats: ${verdictWord(result.stats.valid)}: ${result.stats.reason}`);
  lines.push(`overall: ${verdictWord(result.valid)}`);
  return `${lines.join('\n')}\n`;
}

/** --junit and --summary-json of `faultline check`: the same files a run writes, from the check's verdict. */
async function writeCheckCiOutputs(
  historyPath: string,
  checkerName: string,
  result: { valid: Validity; [detail: string]: unknown },
  exitCode: number,
  startedAt: Date,
  options: CheckCommandOptions,
): Promise<void> {
  const { checkAsResults, junitXml, runSummary } = await import('../store/ci-outputs.js');
  const { writeFileSync } = await import('node:fs');
  const results = checkAsResults(historyPath, checkerName, result, startedAt);
  const { statSync: stat } = await import('node:fs');
  const { dirname, resolve } = await import('node:path');
  const isDirectory = stat(historyPath, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const summary = runSummary(resolve(isDirectory ? historyPath : dirname(historyPath)), results, exitCode);
  // A bare history is not a run directory: the paths say what was checked and where these files went.
  if (!isDirectory) summary.paths.history = resolve(historyPath);
  summary.paths.junit = options.junit !== undefined ? resolve(options.junit) : '';
  summary.paths.summary = options.summaryJson !== undefined ? resolve(options.summaryJson) : '';
  try {
    if (options.junit !== undefined) writeFileSync(options.junit, junitXml(summary, results));
    if (options.summaryJson !== undefined) writeFileSync(options.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
  } catch (error) {
    throw new UserError(`cannot write ${options.junit ?? options.summaryJson}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
