// What CI reads of a run: junit.xml (one testsuite per run, one testcase per checker) and summary.json (the
// verdict, exit code and the facts a pipeline shows), written next to results.json by every `faultline run`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Validity } from '../../checkers/types.js';
import { RunFiles, type RunResults } from '../results.js';

export const CiFiles = { junit: 'junit.xml', summary: 'summary.json' } as const;

export type VerdictWord = 'valid' | 'invalid' | 'unknown';

export interface CheckerSummary {
  verdict: VerdictWord;
  /** Why, when the checker said so (its reason or error), else absent. */
  reason?: string;
}

/** summary.json */
export interface RunSummary {
  name: string;
  runId: string;
  seed: number;
  verdict: VerdictWord;
  exitCode: number;
  target: string;
  backend: string;
  workload: string;
  checkers: Record<string, CheckerSummary>;
  /** Operation counts by completion type (results.json's stats). */
  ops: { total: number; ok: number; fail: number; info: number };
  /** Each fault op the nemesis completed, in order: what, when (seconds since the test began). */
  faults: Array<{ fault: string; action: 'start' | 'stop'; f: string; atSeconds: number }>;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  errors: string[];
  warnings: string[];
  /** The replay command. */
  command: string[];
  /** Absolute paths of the run's files. */
  paths: { runDir: string; results: string; history: string; nemesis: string; report: string; runLog: string; spec: string; junit: string; summary: string };
}

function verdictWord(valid: Validity | undefined): VerdictWord {
  return valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
}

/** A checker's own reason (or error) text, if it gave one. */
function checkerReason(result: { valid: Validity; [detail: string]: unknown }): string | undefined {
  for (const field of ['reason', 'error', 'message']) if (typeof result[field] === 'string' && result[field] !== '') return result[field] as string;
  // The transactional checker names the anomalies it found; the linearizability checker judges key by key.
  if (Array.isArray(result.prohibited) && result.prohibited.length > 0) return `${result.prohibited.map(String).join(', ')}: forbidden under ${String(result.consistency)}`;
  if (Array.isArray(result.keys) && result.valid !== true) {
    const keys = (result.keys as Array<Record<string, unknown> | null>).filter((key) => key !== null && typeof key === 'object' && key.valid === result.valid);
    const keyReason = keys.map((key) => key!.reason).find((reason) => typeof reason === 'string');
    return `${keys.length} key${keys.length === 1 ? '' : 's'} ${verdictWord(result.valid)}${keyReason ? ` (${String(keyReason)})` : ''}`;
  }
  // Otherwise the counts it reports that are not zero (the set checker: lostCount 10 says "lost 10").
  const counts = Object.entries(result).filter(([field, value]) => field.endsWith('Count') && typeof value === 'number' && value > 0 && field !== 'okCount');
  if (result.valid !== true && counts.length > 0) return counts.map(([field, value]) => `${field.slice(0, -'Count'.length)} ${String(value)}`).join(', ');
  return undefined;
}

/** The fault ops in nemesis.jsonl (a line that is not JSON, or a missing file, contributes nothing). */
function faultOps(path: string): RunSummary['faults'] {
  if (!existsSync(path)) return [];
  const faults: RunSummary['faults'] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (typeof record.fault !== 'string' || (record.action !== 'start' && record.action !== 'stop')) continue;
      faults.push({ fault: record.fault, action: record.action, f: String(record.f), atSeconds: typeof record.time === 'number' ? Math.round(record.time / 1e6) / 1e3 : 0 });
    } catch {
      // A torn last line of a killed controller: the rest still counts.
    }
  }
  return faults;
}

export function runSummary(runDir: string, results: RunResults, exitCode: number): RunSummary {
  const checkers: Record<string, CheckerSummary> = {};
  for (const [name, result] of Object.entries(results.checkers)) {
    const reason = checkerReason(result);
    checkers[name] = { verdict: verdictWord(result.valid), ...(reason !== undefined ? { reason } : {}) };
  }
  const durationMs = Date.parse(results.finishedAt) - Date.parse(results.startedAt);
  return {
    name: results.name,
    runId: results.runId,
    seed: results.seed,
    verdict: verdictWord(results.valid),
    exitCode,
    target: results.target,
    backend: results.backend,
    workload: results.workload,
    checkers,
    ops: { total: results.stats.ops, ok: results.stats.ok, fail: results.stats.fail, info: results.stats.info },
    faults: faultOps(join(runDir, RunFiles.nemesis)),
    startedAt: results.startedAt,
    finishedAt: results.finishedAt,
    durationSeconds: Number.isFinite(durationMs) ? durationMs / 1000 : 0,
    errors: [...results.errors],
    warnings: [...(results.warnings ?? [])],
    command: [...results.command],
    paths: {
      runDir,
      results: join(runDir, RunFiles.results),
      history: join(runDir, RunFiles.history),
      nemesis: join(runDir, RunFiles.nemesis),
      report: join(runDir, RunFiles.report),
      runLog: join(runDir, RunFiles.runLog),
      spec: join(runDir, RunFiles.spec),
      junit: join(runDir, CiFiles.junit),
      summary: join(runDir, CiFiles.summary),
    },
  };
}

/**
 * Text safe in XML 1.0 content and quoted attributes: the five special characters as entities, and every
 * character XML 1.0 forbids (controls other than tab, newline and return; lone surrogates; U+FFFE, U+FFFF) as a
 * visible `\uXXXX`, since a history value may hold anything and one such character makes the whole file unreadable.
 */
export function xmlEscape(value: unknown, inAttribute = true): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  let escaped = '';
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        escaped += text[index] + text[index + 1];
        index++;
        continue;
      }
    }
    const character = text[index];
    if (character === '&') escaped += '&amp;';
    else if (character === '<') escaped += '&lt;';
    else if (character === '>') escaped += '&gt;';
    else if (character === '"') escaped += '&quot;';
    else if (character === "'") escaped += '&apos;';
    // Tab, newline and return are allowed, but in an attribute a parser folds them to spaces, and anywhere it
    // turns a return into a newline: kept as references there, as they are elsewhere.
    else if (code === 0x0d || ((code === 0x09 || code === 0x0a) && inAttribute)) escaped += `&#${code};`;
    else if (code === 0x09 || code === 0x0a) escaped += character;
    else if (code < 0x20 || (code >= 0xd800 && code <= 0xdfff) || code === 0xfffe || code === 0xffff) escaped += `\\u${code.toString(16).padStart(4, '0')}`;
    else escaped += character;
  }
  return escaped;
}

/** At most `limit` characters, never cutting a surrogate pair in half. */
function truncated(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let end = limit;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}... (${text.length - end} more characters in results.json)`;
}

/**
 * junit.xml: one testsuite for the run, one testcase per checker. invalid is a <failure> with the checker's
 * reason; unknown is an <error> (the run cannot vouch either way); a run that did not finish (exit 2) gets a
 * testcase `run` with an <error> listing why. The seed and replay command are properties, so a red build says
 * how to reproduce it.
 */
export function junitXml(summary: RunSummary, results: RunResults): string {
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  const className = `faultline.${summary.name}`;
  for (const [name, checker] of Object.entries(summary.checkers)) {
    const detail = truncated(JSON.stringify(results.checkers[name], null, 2) ?? '', 8000);
    const open = `    <testcase classname="${xmlEscape(className)}" name="${xmlEscape(name)}" time="0">`;
    if (checker.verdict === 'valid') {
      cases.push(`    <testcase classname="${xmlEscape(className)}" name="${xmlEscape(name)}" time="0"/>`);
    } else if (checker.verdict === 'invalid') {
      failures++;
      cases.push(`${open}\n      <failure type="invalid" message="${xmlEscape(truncated(checker.reason ?? `${name}: invalid`, 1000))}">${xmlEscape(detail, false)}</failure>\n    </testcase>`);
    } else {
      errors++;
      cases.push(`${open}\n      <error type="unknown" message="${xmlEscape(truncated(checker.reason ?? `${name}: unknown (the run cannot vouch either way)`, 1000))}">${xmlEscape(detail, false)}</error>\n    </testcase>`);
    }
  }
  if (summary.exitCode === 2 || (cases.length === 0 && summary.verdict !== 'valid')) {
    errors++;
    const why = summary.errors.length > 0 ? summary.errors.join('; ') : 'the run did not finish';
    cases.push(`    <testcase classname="${xmlEscape(className)}" name="run" time="${summary.durationSeconds}">\n      <error type="error" message="${xmlEscape(truncated(why, 1000))}">${xmlEscape(truncated(summary.errors.join('\n'), 8000), false)}</error>\n    </testcase>`);
  }
  const properties = [
    ['seed', String(summary.seed)], ['verdict', summary.verdict], ['exit-code', String(summary.exitCode)], ['run-id', summary.runId],
    ['target', summary.target], ['backend', summary.backend], ['workload', summary.workload], ['run-dir', summary.paths.runDir],
    ['replay', summary.command.join(' ')],
  ].map(([name, value]) => `      <property name="${xmlEscape(name)}" value="${xmlEscape(value)}"/>`);
  const suite = `name="${xmlEscape(summary.name)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${summary.durationSeconds}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="faultline" tests="${cases.length}" failures="${failures}" errors="${errors}" time="${summary.durationSeconds}">`,
    `  <testsuite ${suite} timestamp="${xmlEscape(summary.startedAt)}">`,
    '    <properties>',
    ...properties,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Writes junit.xml and summary.json into the run directory; returns the summary. */
export function writeCiOutputs(runDir: string, results: RunResults, exitCode: number): RunSummary {
  const summary = runSummary(runDir, results, exitCode);
  writeFileSync(join(runDir, CiFiles.summary), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(runDir, CiFiles.junit), junitXml(summary, results));
  return summary;
}

/**
 * `faultline check`'s verdict as a run's results, so --junit and --summary-json write the same files: one
 * checker named after the model, the run's name and seed from the run directory's results.json when there is one.
 */
export function checkAsResults(historyPath: string, checkerName: string, result: { valid: Validity; [detail: string]: unknown }, startedAt: Date): RunResults {
  let fromRun: Partial<RunResults> = {};
  const resultsPath = existsSync(join(historyPath, RunFiles.results)) ? join(historyPath, RunFiles.results) : join(historyPath, '..', RunFiles.results);
  try {
    fromRun = JSON.parse(readFileSync(resultsPath, 'utf8')) as Partial<RunResults>;
  } catch {
    // A bare history has no run around it.
  }
  const counts = (result.stats as { counts?: Record<string, { ok?: number; fail?: number; info?: number }> } | undefined)?.counts;
  const stats = { ops: 0, ok: 0, fail: 0, info: 0 };
  for (const count of Object.values(counts ?? {})) {
    stats.ok += count.ok ?? 0;
    stats.fail += count.fail ?? 0;
    stats.info += count.info ?? 0;
  }
  stats.ops = stats.ok + stats.fail + stats.info;
  return {
    name: `check-${fromRun.name ?? historyPath.split('/').filter((part) => part !== '').pop() ?? 'history'}`,
    runId: fromRun.runId ?? '',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: fromRun.seed ?? 0,
    command: process.argv.slice(1).map((word, index) => (index === 0 ? 'faultline' : word)),
    versions: {},
    target: fromRun.target ?? '',
    backend: fromRun.backend ?? '',
    workload: fromRun.workload ?? '',
    nemesis: fromRun.nemesis ?? [],
    nodes: fromRun.nodes ?? [],
    valid: result.valid,
    checkers: { [checkerName]: result },
    stats,
    errors: typeof result.error === 'string' ? [result.error] : [],
  };
}
