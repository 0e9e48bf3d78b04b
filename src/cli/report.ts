// `faultline report`: rebuilds report.html for a run directory, or builds one for a bare history (JSONL or Jepsen EDN).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { modelNames } from '../../checkers/linearizable/index.js';
import { writeHistoryReport, writeReport, type WriteReportOptions } from '../../reports/index.js';
import { UserError } from '../errors.js';
import { RunFiles } from '../results.js';
import { parseDuration } from './check.js';

interface ReportCommandOptions {
  out?: string;
  model?: string;
  initial?: string;
  nilReads?: string;
  timeout: string;
  independent?: boolean;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('build the HTML report of a run directory, or of a history file (checked for linearizability first)')
    .argument('<path>', 'a run directory (store/<name>/<timestamp>/), a history.jsonl, or a Jepsen history.edn (or a folder holding one)')
    .option('--out <file>', 'where to write the report (default: report.html in the run directory, or <history>.report.html beside the file)')
    .option('--model <name>', `model for checking a bare history: ${modelNames.join(', ')} (default: cas-register, or the run's spec)`)
    .option('--initial <json>', "the model's initial state as JSON, e.g. 0, null, '\"\"'")
    .option('--nil-reads <rule>', "'any': a read completing with nil matches any value (Knossos' rule); 'strict'")
    .option('--timeout <duration>', 'search budget of that check (e.g. 500ms, 60s, 5m); past it the verdict is unknown', '60s')
    .option('--independent', 'split jepsen.independent [key value] tuples in EDN (default: detect)')
    .option('--no-independent', 'never split [key value] tuples')
    .action(async (path: string, options: ReportCommandOptions) => {
      const reportPath = await buildReport(path, options);
      process.stdout.write(`${reportPath}\n`);
    });
}

function parseInitial(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError(`--initial: expected a JSON value such as 0, null or '""', got '${text}'`);
  }
}

/** The model a run's spec implies when results.json is missing (a run killed before checking). */
function modelFromSpec(runDirectory: string): string | undefined {
  try {
    const spec = JSON.parse(readFileSync(join(runDirectory, RunFiles.spec), 'utf8')) as Record<string, unknown>;
    if (typeof spec.model === 'string') return spec.model;
    if (spec.workload === 'register') return 'cas-register';
    if (spec.workload === 'set') return 'set';
  } catch {
    // No readable spec: the caller's model (or none) stands.
  }
  return undefined;
}

export async function buildReport(path: string, options: ReportCommandOptions): Promise<string> {
  if (options.model !== undefined && !modelNames.includes(options.model)) {
    throw new UserError(`--model: expected one of ${modelNames.join(', ')}, got '${options.model}'`);
  }
  if (options.nilReads !== undefined && options.nilReads !== 'any' && options.nilReads !== 'strict') {
    throw new UserError(`--nil-reads: expected 'any' or 'strict', got '${options.nilReads}'`);
  }
  const reportOptions: WriteReportOptions = {
    out: options.out,
    model: options.model,
    initial: options.initial === undefined ? undefined : parseInitial(options.initial),
    nilReadsAny: options.nilReads === 'any',
    timeoutMs: parseDuration(options.timeout, '--timeout'),
    independent: options.independent,
  };
  if (!existsSync(path)) throw new UserError(`${path}: no such file or directory`);
  const isRunDirectory = statSync(path).isDirectory() && existsSync(join(path, RunFiles.history));
  if (isRunDirectory) {
    // A run with results keeps its verdict; a run without is checked with the given (or the spec's) model.
    if (!existsSync(join(path, RunFiles.results))) reportOptions.model ??= modelFromSpec(path) ?? 'cas-register';
    return writeReport(path, reportOptions);
  }
  return writeHistoryReport(path, reportOptions);
}
