// The report's public entry points: build report.html for a run directory or for a bare history file.
import { existsSync, readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { UserError, inputError } from '../src/errors.js';
import type { History } from '../src/history/types.js';
import { readJsonlHistoryFile } from '../src/history/jsonl.js';
import { readHistoryFile } from '../src/history/read.js';
import { checkLinearizable, modelNames } from '../checkers/linearizable/index.js';
import { RunFiles } from '../src/results.js';
import { mergeValidity, type CheckResult, type Validity } from '../checkers/types.js';
import { statsChecker, statsRulesForModel } from '../checkers/stats/index.js';
import { relativeHref } from './escape.js';
import { buildReportHtml, neededFromHistory, type NodeLog, type ReportInput, type ReportResults } from './html.js';
import { summarizeHistory, type HistorySummary } from './summary.js';
import { summarizeJsonlFile } from './stream.js';

export { buildReportHtml, type ReportInput, type ReportResults, type NodeLog } from './html.js';
export { escapeHtml } from './escape.js';

/** How `faultline report` checks a bare history (the options of `faultline check`). */
export interface CheckOptions {
  model?: string;
  initial?: unknown;
  nilReadsAny?: boolean;
  timeoutMs?: number;
}

export interface WriteReportOptions extends CheckOptions {
  /** Where to write the report; default report.html in the run directory. */
  out?: string;
  /** jepsen.independent `[key value]` tuples in an EDN history: split (true), never (false), or detect (undefined). */
  independent?: boolean;
  /** Lines of each node log shown in the report. */
  logTailLines?: number;
}

const logTailBytes = 16 * 1024;
const logFilesPerNode = 20;
const nodesListed = 64;

function readJsonFile(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const line = position ? text.slice(0, Number(position[1])).split('\n').length : undefined;
    throw inputError(path, line, `expected a JSON document (${message})`);
  }
}

/** nemesis.jsonl: the nemesis's detailed completions; malformed lines are skipped (they are commentary, not evidence). */
function readNemesisRecords(path: string): { records: unknown[]; warnings: string[] } {
  if (!existsSync(path)) return { records: [], warnings: [] };
  const records: unknown[] = [];
  let skipped = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      skipped += 1;
    }
    if (records.length >= 100_000) break;
  }
  return { records, warnings: skipped ? [`${path}: skipped ${skipped} unreadable line(s)`] : [] };
}

/** The last bytes of a file, cut at a line start. */
function tailOf(path: string, bytes: number, lines: number): { text: string; truncated: boolean; size: number } {
  const size = statSync(path).size;
  const start = Math.max(0, size - bytes);
  const buffer = Buffer.alloc(size - start);
  const descriptor = openSync(path, 'r');
  try {
    readSync(descriptor, buffer, 0, buffer.length, start);
  } finally {
    closeSync(descriptor);
  }
  let text = buffer.toString('utf8');
  let truncated = start > 0;
  if (truncated) text = text.slice(text.indexOf('\n') + 1);
  const split = text.split('\n');
  if (split.length > lines + 1) {
    text = split.slice(-lines - 1).join('\n');
    truncated = true;
  }
  return { text, truncated, size };
}

/** run.log and nodes/<node>/** log files (one level of subfolders), with links relative to the report's folder. */
export function collectNodeLogs(runDir: string, reportDir: string, tailLines = 60): NodeLog[] {
  const logs: NodeLog[] = [];
  // The runner's own log first: what happened to the run as a whole (faults that would not heal, nodes that would not start).
  const runLog = join(runDir, RunFiles.runLog);
  if (existsSync(runLog)) {
    try {
      const tail = tailOf(runLog, logTailBytes, tailLines);
      logs.push({ node: 'run', file: RunFiles.runLog, href: relativeHref(relative(reportDir, runLog).split(sep)), bytes: tail.size, tail: tail.text, truncated: tail.truncated });
    } catch {
      // Unreadable: left out, like a node log.
    }
  }
  const nodesDir = join(runDir, RunFiles.nodes);
  if (!existsSync(nodesDir)) return logs;
  for (const node of readdirSync(nodesDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort().slice(0, nodesListed)) {
    const files: string[] = [];
    const walk = (folder: string, prefix: string, depth: number): void => {
      for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (files.length >= logFilesPerNode) return;
        if (entry.isFile()) files.push(prefix + entry.name);
        else if (entry.isDirectory() && depth < 1) walk(join(folder, entry.name), `${prefix}${entry.name}/`, depth + 1);
      }
    };
    walk(join(nodesDir, node), '', 0);
    for (const file of files) {
      const path = join(nodesDir, node, file);
      try {
        const tail = tailOf(path, logTailBytes, tailLines);
        logs.push({ node, file, href: relativeHref(relative(reportDir, path).split(sep)), bytes: tail.size, tail: tail.text, truncated: tail.truncated });
      } catch {
        // A log that vanished or cannot be read is left out; the rest of the report still stands.
      }
    }
  }
  return logs;
}

/** results.json's `warnings` (RunResults), kept only if they are strings: the file may come from anywhere. */
function runWarningsOf(results: ReportResults): string[] {
  const warnings: unknown = results.warnings;
  return Array.isArray(warnings) ? warnings.filter((warning): warning is string => typeof warning === 'string') : [];
}

/** Results when a run left none (killed mid-way): the verdict is unknown until someone checks it. */
function placeholderResults(name: string): ReportResults {
  return { name, valid: 'unknown', checkers: {}, errors: ['no results.json in this run directory (the run may have been killed before checking)'] };
}

/** Writes atomically (temp file, then rename), so a server never serves half a report. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/**
 * Builds report.html for a run directory (store/<name>/<timestamp>/) and returns the report's path.
 * With check options and no results.json, the history is checked for linearizability first.
 */
export async function writeReport(runDir: string, options: WriteReportOptions = {}): Promise<string> {
  const directory = resolve(runDir);
  const historyPath = join(directory, RunFiles.history);
  if (!existsSync(historyPath)) throw inputError(directory, undefined, `expected a run directory containing ${RunFiles.history}`);
  const out = resolve(options.out ?? join(directory, RunFiles.report));
  const resultsPath = join(directory, RunFiles.results);
  const specPath = join(directory, RunFiles.spec);
  const results = existsSync(resultsPath) ? (readJsonFile(resultsPath) as ReportResults) : undefined;
  if (results !== undefined && (typeof results !== 'object' || results === null || typeof results.checkers !== 'object' || results.checkers === null)) {
    throw inputError(resultsPath, undefined, 'expected results.json with "valid" and "checkers" (src/results.ts RunResults)');
  }
  const spec = existsSync(specPath) ? readJsonFile(specPath) : undefined;
  const nemesis = readNemesisRecords(join(directory, RunFiles.nemesis));
  let finalResults = results;
  let checkedWith: Record<string, unknown> | undefined;
  let summary: HistorySummary;
  let warnings: string[];
  if (!finalResults && options.model) {
    // A killed run has no verdict yet: check it now (this needs the whole history in memory, as checking does).
    const read = readJsonlHistoryFile(historyPath);
    const checked = await checkHistory(read.history, options);
    finalResults = { name: basename(dirname(directory)), ...checked.results };
    checkedWith = checked.checkedWith;
    summary = summarizeHistory(read.history, neededFromHistory(finalResults));
    warnings = read.warnings;
  } else {
    finalResults ??= placeholderResults(basename(dirname(directory)));
    ({ summary, warnings } = summarizeJsonlFile(historyPath, neededFromHistory(finalResults)));
  }
  const input: ReportInput = {
    title: finalResults.name ?? basename(directory),
    source: directory,
    results: finalResults,
    spec,
    summary,
    nemesisRecords: nemesis.records,
    logs: collectNodeLogs(directory, dirname(out), options.logTailLines),
    // The run's own warnings (e.g. ssh host keys accepted unverified) first, then what reading its files found.
    warnings: [...runWarningsOf(finalResults), ...warnings, ...nemesis.warnings],
    checkedWith,
    generatedAt: new Date().toISOString(),
  };
  await writeAtomically(out, buildReportHtml(input));
  return out;
}

/** Runs the linearizability checker over a history, as `faultline check --model M` would. */
export async function checkHistory(history: History, options: CheckOptions): Promise<{ results: ReportResults; checkedWith: Record<string, unknown> }> {
  const model = options.model ?? 'cas-register';
  const checkedWith: Record<string, unknown> = { model: options.model ? model : `${model} (default; pass --model to choose)` };
  if (options.initial !== undefined) checkedWith.initial = options.initial;
  if (options.nilReadsAny) checkedWith['nil reads'] = 'match any value';
  if (!modelNames.includes(model)) throw new UserError(`--model: unknown model "${model}"; expected one of ${modelNames.join(', ')}`);
  let result: CheckResult;
  try {
    result = await checkLinearizable(history, { model, initial: options.initial, nilReadsAny: options.nilReadsAny, timeoutMs: options.timeoutMs });
  } catch (error) {
    result = { valid: 'unknown', error: error instanceof Error ? error.message : String(error) };
  }
  // The stats rule, as `faultline check` applies it: an empty or all-fail history is not a pass.
  const stats = await statsChecker(statsRulesForModel(model)).check({}, history);
  const valid: Validity = mergeValidity(result.valid, stats.valid);
  return { results: { valid, checkers: { linearizable: result, stats } }, checkedWith };
}

/**
 * Builds a report for a bare history file (Faultline JSONL or Jepsen history.edn), or for a Jepsen store
 * folder holding history.edn: checks it with the given model and writes the page (default: beside the file).
 */
export async function writeHistoryReport(path: string, options: WriteReportOptions = {}): Promise<string> {
  let historyPath = resolve(path);
  if (!existsSync(historyPath)) throw inputError(path, undefined, 'no such file or directory');
  if (statSync(historyPath).isDirectory()) {
    if (existsSync(join(historyPath, RunFiles.history))) return writeReport(historyPath, options);
    const jepsen = join(historyPath, 'history.edn');
    if (!existsSync(jepsen)) throw inputError(path, undefined, `expected a run directory (with ${RunFiles.history}) or a folder with history.edn`);
    historyPath = jepsen;
  }
  const { history, warnings } = readHistoryFile(historyPath, { independent: options.independent });
  const checked = await checkHistory(history, options);
  const fileName = basename(historyPath);
  const stem = fileName.slice(0, fileName.length - extname(fileName).length);
  const out = resolve(options.out ?? join(dirname(historyPath), fileName === 'history.edn' ? RunFiles.report : `${stem}.report.html`));
  const needs = neededFromHistory(checked.results);
  const input: ReportInput = {
    title: fileName === 'history.edn' ? basename(dirname(historyPath)) : fileName,
    source: historyPath,
    results: { name: stem, ...checked.results },
    summary: summarizeHistory(history, needs),
    warnings,
    checkedWith: checked.checkedWith,
    generatedAt: new Date().toISOString(),
  };
  await writeAtomically(out, buildReportHtml(input));
  return out;
}
