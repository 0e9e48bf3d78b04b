// Proves the report says why a verdict is not valid: the banner lists each deciding checker's reason (stats,
// client workers, a set's failed-yet-read adds, an unfinished run), a bare all-fail history is reported unknown
// as `faultline check` judges it, and a valid run's banner has no reasons.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { History } from '../src/history/types.js';
import { setChecker } from '../checkers/set/index.js';
import { statsChecker } from '../checkers/stats/index.js';
import { buildReportHtml, writeHistoryReport, type ReportResults } from './index.js';
import { verdictReasons } from './html.js';
import { summarizeHistory } from './summary.js';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-verdict-reasons-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const allFailed: History = [
  { index: 0, process: 0, type: 'invoke', f: 'write', value: 1, time: 0 },
  { index: 1, process: 0, type: 'fail', f: 'write', value: 1, time: 1000 },
  { index: 2, process: 1, type: 'invoke', f: 'read', value: null, time: 2000 },
  { index: 3, process: 1, type: 'info', f: 'read', value: null, time: 3000 },
];

/** The banner's text: the verdict and its reasons, tags removed. */
function banner(html: string): string {
  const match = /<div class="banner[^"]*" id="verdict"[^>]*>([\s\S]*?)<\/div><\/header>/.exec(html);
  expect(match, 'the report has a verdict banner').not.toBeNull();
  return match![1].replace(/<[^>]+>/g, ' ').replace(/&#39;/g, "'").replace(/\s+/g, ' ');
}

function page(results: ReportResults, history: History): string {
  return buildReportHtml({ title: 'verdict', source: 'test', results, summary: summarizeHistory(history) });
}

describe('the verdict banner says why', () => {
  it('lists the stats rule\'s reason for an all-fail run', async () => {
    const stats = await statsChecker().check({}, allFailed);
    const html = page({ valid: 'unknown', checkers: { linearizable: { valid: true }, stats } }, allFailed);
    expect(banner(html)).toMatch(/unknown.*stats: none of its 2 client operations succeeded/);
    expect(banner(html)).not.toMatch(/linearizable/);
  });

  it('lists a dead client worker and a failed-yet-read set element, each under its checker', async () => {
    const setHistory: History = [
      { index: 0, process: 0, type: 'invoke', f: 'add', value: 4, time: 0 },
      { index: 1, process: 0, type: 'fail', f: 'add', value: 4, time: 1 },
      { index: 2, process: 1, type: 'invoke', f: 'read', value: null, time: 2, final: true },
      { index: 3, process: 1, type: 'ok', f: 'read', value: [4], time: 3, final: true },
    ];
    const set = await setChecker().check({}, setHistory);
    const html = page({ valid: false, checkers: { set } }, setHistory);
    expect(banner(html)).toMatch(/invalid.*set: 1 element whose add completed as fail/);
    expect(html).toMatch(/<h4>added as fail, yet read: 1<\/h4><p class="element-list"><code>4<\/code>/);
    const workers = page({ valid: 'unknown', checkers: { 'client-workers': { valid: 'unknown', reason: '1 client worker died before the run ended (thread 0 on n1: boom)' } } }, allFailed);
    expect(banner(workers)).toMatch(/client-workers: 1 client worker died/);
  });

  it('names the keys of an invalid linearizability result, and the errors of a run that was not checked', () => {
    expect(verdictReasons({ valid: false, checkers: { linearizable: { valid: false, keys: [{ key: 'a', valid: false }, { key: 'b', valid: true }] } } })).toEqual(['linearizable: 1 key invalid']);
    expect(verdictReasons({ valid: 'unknown', checkers: {}, errors: ['setup: raftkv did not start on n1'] })).toEqual(['not checked: setup: raftkv did not start on n1']);
  });

  it('shows no reasons for a valid run', () => {
    const html = page({ valid: true, checkers: { stats: { valid: true } } }, allFailed);
    expect(banner(html).trim()).toBe('Verdict: valid');
  });
});

describe('faultline report on a bare history', () => {
  it('reports an all-fail history unknown, as faultline check does', async () => {
    const path = join(scratch, 'all-failed.jsonl');
    writeFileSync(path, allFailed.map((op) => JSON.stringify(op)).join('\n') + '\n');
    const out = await writeHistoryReport(path, { model: 'cas-register' });
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('id="verdict" data-verdict="unknown"');
    expect(banner(html)).toMatch(/stats: none of its 2 client operations succeeded/);
  });
});
