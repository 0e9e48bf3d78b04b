// Assembles the self-contained report page (inline CSS and SVG, no script, no external request) from run data.
import type { History, Op } from '../src/history/types.js';
import type { RunResults } from '../src/results.js';
import type { Validity } from '../checkers/types.js';
import { counterexampleChart, faultTimelineChart, formatTime, timeUnits, latencyChart, throughputChart, faultColour, outcomeColours } from './charts.js';
import { renderTxnResultHtml } from '../checkers/txn/render.js';
import type { TxnCheckResult } from '../checkers/txn/index.js';
import { counterexampleView, findCounterexamples, referencedIndexes, type CounterexampleView } from './counterexample.js';
import { displayText, escapeHtml, truncateText } from './escape.js';
import { faultEvents, faultPeriods } from './faults.js';
import { availabilitySection } from './availability.js';
import { latencyPercentiles, quantiles } from './percentiles.js';
import { keyName, summarizeHistory, type HistorySummary } from './summary.js';

/** The tail of one node log, and a link (relative to the report) to the whole file. */
export interface NodeLog {
  node: string;
  file: string;
  href: string;
  bytes: number;
  tail: string;
  truncated: boolean;
}

/** Results as the report reads them: results.json fields are all optional except the verdicts. */
export type ReportResults = Partial<RunResults> & {
  valid: Validity;
  checkers: Record<string, { valid: Validity; [detail: string]: unknown }>;
};

export interface ReportInput {
  /** Page title, e.g. the test name or the history file's name. */
  title: string;
  /** Where the data came from (a run directory, a history file), shown under the title. */
  source: string;
  results: ReportResults;
  spec?: unknown;
  /** Either the history itself or its summary (a loader that streams builds the summary itself). */
  history?: History;
  summary?: HistorySummary;
  /** Records of nemesis.jsonl; used for the fault timeline when the history carries no nemesis ops. */
  nemesisRecords?: unknown[];
  logs?: NodeLog[];
  warnings?: string[];
  /** Model and options the report's own check used (bare histories). */
  checkedWith?: Record<string, unknown>;
  generatedAt?: string;
}

/** Counterexamples drawn in full; more are listed by key only. */
const counterexamplesDrawn = 5;

/** A transactional checker's result (checkers/txn), told by its shape: results.json may come from any run. */
function isTxnResult(result: Record<string, unknown> | undefined): result is Record<string, unknown> & TxnCheckResult {
  return (
    typeof result === 'object' && result !== null && Array.isArray(result.anomalyTypes) && typeof result.consistency === 'string' &&
    typeof result.anomalies === 'object' && result.anomalies !== null && typeof result.txnCount === 'object' && Array.isArray(result.notes) && Array.isArray(result.prohibited)
  );
}
const faultEventRows = 500;
const elementListLimit = 2000;
const rawJsonCharacters = 60_000;
/** Names shown for the set checker's element lists whose field name is not plain words. */
const elementListLabels: Record<string, string> = { failedButRead: 'added as fail, yet read' };

/** Keys and indexes the report needs whole from the history, so a loader can keep only those ops. */
export function neededFromHistory(results: ReportResults): { watchKeys: Set<string>; keepIndexes: Set<number> } {
  const watchKeys = new Set<string>();
  const keepIndexes = new Set<number>();
  for (const found of findCounterexamples(results.checkers).slice(0, counterexamplesDrawn)) {
    watchKeys.add(keyName(found.key));
    for (const index of referencedIndexes(found.counterexample)) keepIndexes.add(index);
  }
  return { watchKeys, keepIndexes };
}

function verdictWord(valid: Validity | undefined): string {
  return valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
}

function verdictBadge(valid: Validity | undefined): string {
  const word = verdictWord(valid);
  return `<span class="verdict verdict-${word}" data-verdict="${word}">${word}</span>`;
}

/**
 * Why the verdict is what it is: one line per checker whose verdict is the overall one (its reason, error, or
 * first such key's reason), or the run's errors when no checker ran. Empty for a valid run.
 */
export function verdictReasons(results: ReportResults): string[] {
  if (results.valid === true) return [];
  const lines: string[] = [];
  for (const [name, result] of Object.entries(results.checkers)) {
    if (!result || result.valid !== results.valid) continue;
    let why = typeof result.reason === 'string' ? result.reason : typeof result.error === 'string' ? result.error : undefined;
    if (why === undefined && isTxnResult(result) && result.prohibited.length > 0) {
      const counts = result.prohibited.map((type) => `${type} x${result.anomalyCounts[type] ?? 0}`).join(', ');
      why = `${counts}: forbidden under ${result.consistency}`;
    }
    if (why === undefined && Array.isArray(result.keys)) {
      const keys = (result.keys as Array<Record<string, unknown>>).filter((key) => key && key.valid === results.valid);
      const keyReason = keys.find((key) => typeof key.reason === 'string')?.reason as string | undefined;
      why = `${keys.length} key${keys.length === 1 ? '' : 's'} ${verdictWord(results.valid)}${keyReason ? ` (${keyReason})` : ''}`;
    }
    lines.push(`${name}: ${why ?? verdictWord(result.valid)}`);
  }
  if (lines.length === 0 && Array.isArray(results.errors)) {
    for (const error of results.errors.slice(0, 3)) lines.push(`not checked: ${displayText(error)}`);
  }
  return lines;
}

/** argv as a shell command a person can paste: words quoted only when they need it. */
export function shellCommand(argv: readonly unknown[]): string {
  return argv
    .map((word) => {
      const text = displayText(word);
      return /^[A-Za-z0-9_\/.,:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

function definitionList(rows: Array<[string, unknown]>): string {
  return `<dl class="facts">${rows
    .filter(([, value]) => value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0))
    .map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(Array.isArray(value) ? value.map((item) => displayText(item)).join(', ') : displayText(value))}</dd>`)
    .join('')}</dl>`;
}

function rawJson(value: unknown, label: string): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    text = String(value);
  }
  const cut = text.length > rawJsonCharacters;
  return `<details class="raw"><summary>${escapeHtml(label)}${cut ? ` (first ${rawJsonCharacters} of ${text.length} characters)` : ''}</summary><pre>${escapeHtml(cut ? text.slice(0, rawJsonCharacters) : text)}</pre></details>`;
}

/** One line per checker: its verdict and the numbers that explain it. */
function checkerSummary(name: string, result: Record<string, unknown>): string {
  const notes: string[] = [];
  if (Array.isArray(result.keys)) {
    const keys = result.keys as Array<Record<string, unknown>>;
    const invalid = keys.filter((key) => key && key.valid === false).length;
    const unknown = keys.filter((key) => key && key.valid === 'unknown').length;
    notes.push(`${keys.length} key${keys.length === 1 ? '' : 's'}${invalid ? `, ${invalid} invalid` : ''}${unknown ? `, ${unknown} unknown` : ''}`);
  }
  if (typeof result.model === 'string') notes.push(`model ${result.model}`);
  for (const field of ['lost', 'unexpected', 'recovered', 'duplicated', 'failedButRead']) {
    const value = result[field];
    const count = typeof result[`${field}Count`] === 'number' ? (result[`${field}Count`] as number) : Array.isArray(value) ? value.length : undefined;
    if (count !== undefined) notes.push(`${count} ${elementListLabels[field] ?? field}`);
  }
  // Stale-read labels (k8s cache-reads): informational counts beside a verdict that stays the consistency checker's.
  if (typeof result.cacheReads === 'number' && typeof result.staleReads === 'number') notes.push(`${result.cacheReads} cache reads, ${result.staleReads} stale`);
  for (const field of ['error', 'reason']) if (typeof result[field] === 'string') notes.push(result[field] as string);
  return `<tr class="checker-row" data-checker="${escapeHtml(name)}"><td>${escapeHtml(name)}</td><td>${verdictBadge(result.valid as Validity)}</td><td>${escapeHtml(truncateText(notes.join('; '), 400))}</td></tr>`;
}

/** The stale-read labels: counts and example reads (history index, node, what was read and what was newer). */
function staleReadSection(result: Record<string, unknown>): string {
  const examples = (result.examples as Array<Record<string, unknown>>).slice(0, 20);
  const rows = examples
    .map((example) => `<tr><td class="number">${escapeHtml(String(example.index))}</td><td>${escapeHtml(String(example.node ?? '—'))}</td><td>${escapeHtml(displayText(example.key))}</td><td>${escapeHtml(String(example.readResourceVersion))}</td><td>${escapeHtml(String(example.newerResourceVersion))}</td><td class="number">${escapeHtml(String(example.missedWrites))}</td></tr>`)
    .join('');
  return `<section id="stale-reads"><h2>Stale cache reads</h2><p>${escapeHtml(String(result.cacheReads))} reads served from the cache, ${escapeHtml(String(result.staleReads))} stale (older than a write acknowledged before the read began). ${escapeHtml(String(result.note ?? ''))}</p>${rows ? `<table><thead><tr><th class="number">op</th><th>node</th><th>key</th><th>read resourceVersion</th><th>newer acknowledged</th><th class="number">writes missed</th></tr></thead><tbody>${rows}</tbody></table>` : ''}</section>`;
}

function verdictReasonList(results: ReportResults): string {
  const reasons = verdictReasons(results);
  if (reasons.length === 0) return '';
  return `<ul class="verdict-reasons">${reasons.slice(0, 20).map((reason) => `<li>${escapeHtml(truncateText(reason, 600))}</li>`).join('')}</ul>`;
}

function elementLists(name: string, result: Record<string, unknown>): string {
  const sections: string[] = [];
  for (const field of ['lost', 'unexpected', 'recovered', 'duplicated', 'failedButRead']) {
    const value = result[field];
    if (!Array.isArray(value)) continue;
    // The checker may list only the first elements; its count is the whole truth.
    const total = typeof result[`${field}Count`] === 'number' ? (result[`${field}Count`] as number) : value.length;
    const shown = value.slice(0, elementListLimit);
    sections.push(
      `<div class="elements elements-${field}" data-count="${total}"><h4>${escapeHtml(elementListLabels[field] ?? field)}: ${total}</h4>${total === 0 ? '<p class="muted">none</p>' : `<p class="element-list">${shown.map((element) => `<code>${escapeHtml(displayText(element))}</code>`).join(' ')}${total > shown.length ? ` <span class="muted">… and ${total - shown.length} more</span>` : ''}</p>`}</div>`,
    );
  }
  const byNode = result.lostByNode;
  if (byNode && typeof byNode === 'object' && Object.keys(byNode).length) {
    sections.push(`<div class="elements lost-by-node"><h4>lost, by the node that read</h4>${definitionList(Object.entries(byNode as Record<string, unknown>))}</div>`);
  }
  return sections.length ? `<section class="set-elements"><h3>${escapeHtml(name)}: elements</h3>${sections.join('')}</section>` : '';
}

function counterexampleSection(view: CounterexampleView, position: number, timeless: boolean): string {
  const legend = '<p class="legend-line"><span class="swatch op-failing-swatch"></span> could not be linearized <span class="swatch op-concurrent-swatch"></span> concurrent with it <span class="swatch op-prefix-swatch"></span> in the longest linearizable prefix; dashed: never completed</p>';
  return [
    `<section class="counterexample" id="counterexample-${position}" data-key="${escapeHtml(view.key)}">`,
    `<h3>${escapeHtml(view.checker)}: key <code>${escapeHtml(view.key === '' ? '(single register)' : view.key)}</code></h3>`,
    view.explanation ? `<p class="explanation">${escapeHtml(view.explanation)}</p>` : '',
    view.bars.length ? `${legend}${counterexampleChart(view.bars, timeless)}` : '<p class="muted">The ops of this counterexample were not found in the history, so they cannot be drawn; see the details below.</p>',
    '<div class="counterexample-facts">',
    `<div><h4>Could not be linearized</h4><ul class="failing-ops">${view.failing.map((line) => `<li>${escapeHtml(line)}</li>`).join('') || '<li class="muted">(not given)</li>'}</ul></div>`,
    `<div><h4>Model state${view.states.length === 1 ? '' : 's'} after the longest linearizable prefix</h4><ul class="model-states">${view.states.map((state) => `<li><code>${escapeHtml(truncateText(state, 400))}</code></li>`).join('') || '<li class="muted">(not given)</li>'}</ul></div>`,
    `<div><h4>Longest linearizable prefix: ${view.prefixLength ?? view.prefix.length} ops${view.prefix.length < (view.prefixLength ?? 0) ? ` (last ${view.prefix.length} shown)` : ''}</h4><ol class="prefix-ops" start="${Math.max(1, (view.prefixLength ?? view.prefix.length) - view.prefix.length + 1)}">${view.prefix.map((line) => `<li>${escapeHtml(line)}</li>`).join('') || '<li class="muted">(empty)</li>'}</ol></div>`,
    '</div>',
    rawJson(view.raw, 'the counterexample as the checker returned it'),
    '</section>',
  ].join('');
}

const styles = `
:root{--ok:${outcomeColours[0]};--fail:${outcomeColours[1]};--info:${outcomeColours[2]};font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2125;background:#fafbfc}
body{margin:0 auto;max-width:1000px;padding:16px 20px 60px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.2rem;border-bottom:1px solid #d8dde3;padding-bottom:4px;margin-top:2em}h3{font-size:1.05rem}h4{margin:.6em 0 .3em;font-size:.95rem}
.source{color:#5a6570;font-size:.9rem;word-break:break-all}
.verdict{display:inline-block;padding:1px 10px;border-radius:10px;font-weight:600;color:#fff}
.verdict-valid{background:var(--ok)}.verdict-invalid{background:var(--fail)}.verdict-unknown{background:#8a6d00}
.banner{padding:14px 18px;border-radius:8px;margin:12px 0;font-size:1.2rem;font-weight:600;border:2px solid}
.verdict-reasons{margin:6px 0 0;padding-left:22px;font-size:.95rem;font-weight:400}
.banner-valid{background:#e9f7ec;border-color:var(--ok)}.banner-invalid{background:#fdecec;border-color:var(--fail)}.banner-unknown{background:#fff6dd;border-color:#c59d00}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e7eb;vertical-align:top}th{background:#eef1f4}
td.number,th.number{text-align:right;font-variant-numeric:tabular-nums}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:.9rem}dl.facts dt{font-weight:600;color:#3b4650}dl.facts dd{margin:0;word-break:break-word}
pre{background:#f0f2f5;padding:8px 10px;border-radius:6px;overflow:auto;font-size:.8rem;max-height:420px;white-space:pre-wrap;word-break:break-all}
code{font-size:.85em;background:#eef1f4;padding:0 3px;border-radius:3px;word-break:break-all}
.chart{width:100%;height:auto;display:block;background:#fff;border:1px solid #e3e7eb;border-radius:6px;margin:6px 0}
.chart text{font-size:11px;fill:#333}.chart .axis line{stroke:#888}.chart .axis .grid{stroke:#eceff2}.chart .axis-label{font-size:12px;fill:#555}
.chart .points{fill:none;stroke-width:3;stroke-linecap:round}
.chart .legend{font-size:12px}
.op-bar rect{stroke:#333;stroke-width:.6}.op-failing rect{fill:#ff6b6b;stroke:#b00000;stroke-width:2}.op-concurrent rect{fill:#9cc3ff}.op-prefix rect{fill:#c9ecd0}
.op-bar text{font-size:11px;fill:#111;pointer-events:none}
.op-bar text.failing-label{fill:#b00000;font-weight:700}
.fault-bar text{font-size:11px;fill:#111}
.swatch{display:inline-block;width:14px;height:10px;border:1px solid #333;margin:0 4px 0 12px;vertical-align:middle}
.op-failing-swatch{background:#ff6b6b}.op-concurrent-swatch{background:#9cc3ff}.op-prefix-swatch{background:#c9ecd0}
.counterexample{border:1px solid #f0b8b8;background:#fff;padding:4px 14px 10px;border-radius:8px;margin:12px 0}
.txn-check{border:1px solid #f0b8b8;background:#fff;padding:4px 14px 10px;border-radius:8px;margin:12px 0}.txn-check h4.forbidden{color:#b00020}.txn-check h4.allowed{color:#555}.txn-cycle{font-size:.85rem}
.counterexample-facts{display:grid;grid-template-columns:1fr 1fr 1fr;gap:12px;font-size:.85rem}
.counterexample-facts ul,.counterexample-facts ol{padding-left:2.6em;margin:0;max-height:300px;overflow:auto}
.muted{color:#7a8590}.warning{color:#8a5a00}.error{color:var(--fail)}
/* column-reverse keeps a log's box scrolled to its end, where the newest lines are, without any script. */
.log{margin:8px 0}.log .tail{display:flex;flex-direction:column-reverse;max-height:260px;overflow:auto;border-radius:6px}.log .tail pre{max-height:none;overflow:visible;margin:0}
.element-list code{display:inline-block;margin:1px}
details.raw summary{cursor:pointer;color:#36566f;font-size:.85rem}
`;

/** The whole report page. Every value that came from a history, a result, a spec or a log goes through `escapeHtml`. */
export function buildReportHtml(input: ReportInput): string {
  const results = input.results;
  const needs = neededFromHistory(results);
  const summary = input.summary ?? summarizeHistory(input.history ?? [], { watchKeys: needs.watchKeys, keepIndexes: needs.keepIndexes });
  const knownNodes = Array.isArray(results.nodes) ? results.nodes.map(String) : [];
  let nemesisOps: Op[] = summary.nemesisOps;
  if (nemesisOps.length === 0 && input.nemesisRecords) {
    nemesisOps = input.nemesisRecords.filter((record): record is Op => typeof record === 'object' && record !== null && typeof (record as Op).f === 'string' && typeof (record as Op).type === 'string');
  }
  const events = faultEvents(nemesisOps, knownNodes);
  const periods = faultPeriods(events, summary.lastNs);
  const families = [...new Set(events.map((event) => event.family))];
  const verdict = verdictWord(results.valid);
  const units = timeUnits(summary.timeless);

  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    // No script may run and nothing may be fetched: the page is a document, not an app.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`${input.title}: ${verdict}`)}</title><style>${styles}</style></head><body>`,
    `<header><h1>${escapeHtml(input.title)}</h1><div class="source">${escapeHtml(input.source)}</div>`,
    `<div class="banner banner-${verdict}" id="verdict" data-verdict="${verdict}">Verdict: ${verdictBadge(results.valid)}${verdictReasonList(results)}</div></header>`,
  );

  // Verdict per checker.
  const checkerNames = Object.keys(results.checkers);
  parts.push('<section id="checkers"><h2>Checkers</h2>');
  parts.push(
    checkerNames.length
      ? `<table><thead><tr><th>checker</th><th>verdict</th><th>details</th></tr></thead><tbody>${checkerNames.map((name) => checkerSummary(name, results.checkers[name] as Record<string, unknown>)).join('')}</tbody></table>`
      : '<p class="muted">No checker results.</p>',
  );
  parts.push('</section>');

  // The run: what, where, with which seed, and how to reproduce it.
  parts.push('<section id="run"><h2>Run</h2>');
  const durationSeconds = results.startedAt && results.finishedAt ? (Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 1000 : undefined;
  parts.push(
    definitionList([
      ['test', results.name],
      ['run', results.runId],
      ['started', results.startedAt],
      ['finished', results.finishedAt],
      ['duration', durationSeconds !== undefined && Number.isFinite(durationSeconds) ? `${durationSeconds.toFixed(1)} s` : undefined],
      ['seed', results.seed],
      ['target', results.target],
      ['backend', results.backend],
      ['workload', results.workload],
      ['faults', results.nemesis],
      ['nodes', results.nodes],
      ['operations', `${summary.opCount} (${summary.counts.ok} ok, ${summary.counts.fail} fail, ${summary.counts.info} info${summary.counts.neverCompleted ? `, ${summary.counts.neverCompleted} never completed` : ''})`],
      ['keys', summary.keys.size ? `${summary.keys.size}${summary.keyLimitReached ? '+' : ''}` : undefined],
      ...(input.checkedWith ? Object.entries(input.checkedWith).map(([name, value]): [string, unknown] => [`checked with ${name}`, value]) : []),
    ]),
  );
  if (results.versions && Object.keys(results.versions).length) {
    parts.push(`<h3>Versions</h3>${definitionList(Object.entries(results.versions))}`);
  }
  if (Array.isArray(results.command) && results.command.length) {
    parts.push(`<h3>Reproduce</h3><pre class="command" id="command">${escapeHtml(shellCommand(results.command))}</pre>`);
  }
  if (Array.isArray(results.errors) && results.errors.length) {
    parts.push(`<h3>Errors during the run</h3><ul class="error">${results.errors.map((error) => `<li>${escapeHtml(error)}</li>`).join('')}</ul>`);
  }
  if (input.warnings?.length) {
    parts.push(`<h3>Warnings</h3><ul class="warning">${input.warnings.slice(0, 100).map((warning) => `<li>${escapeHtml(warning)}</li>`).join('')}</ul>`);
  }
  parts.push('</section>');

  // Counterexamples and element lists come right after the verdict's facts: they are why it is what it is.
  const found = findCounterexamples(results.checkers);
  if (found.length) {
    parts.push(`<section id="counterexamples"><h2>Counterexample${found.length === 1 ? '' : 's'}</h2>`);
    found.slice(0, counterexamplesDrawn).forEach((entry, position) => {
      const view = counterexampleView(entry.checker, entry.key, entry.counterexample, summary.keyOps.get(keyName(entry.key)) ?? [], summary.keptOps);
      parts.push(counterexampleSection(view, position, summary.timeless));
    });
    if (found.length > counterexamplesDrawn) {
      parts.push(`<p>${found.length - counterexamplesDrawn} more invalid keys: ${found.slice(counterexamplesDrawn, 200).map((entry) => `<code>${escapeHtml(keyName(entry.key))}</code>`).join(' ')}</p>`);
    }
    parts.push('</section>');
  }
  // Transactional checks (list-append, rw-register): each anomaly with the cycle that proves it, step by step.
  const txnSections = checkerNames
    .map((name) => results.checkers[name] as Record<string, unknown>)
    .filter(isTxnResult)
    .map((result) => renderTxnResultHtml(result));
  if (txnSections.length) parts.push(`<section id="transactions"><h2>Transactional anomalies</h2>${txnSections.join('')}</section>`);
  const elementSections = checkerNames.map((name) => elementLists(name, results.checkers[name] as Record<string, unknown>)).join('');
  if (elementSections) parts.push(`<section id="elements"><h2>Set elements</h2>${elementSections}</section>`);
  const staleReads = results.checkers['stale-reads'] as Record<string, unknown> | undefined;
  if (staleReads && Array.isArray(staleReads.examples)) parts.push(staleReadSection(staleReads));

  // Faults.
  parts.push('<section id="faults"><h2>Faults</h2>');
  if (events.length === 0) {
    parts.push('<p class="muted">No nemesis operations in this history.</p>');
  } else {
    parts.push(faultTimelineChart(summary, periods, events, families));
    const rows = events.slice(0, faultEventRows).map(
      (event) =>
        `<tr><td class="number">${formatTime(event.invokeNs, units)}</td><td class="number">${event.completeNs === undefined ? '—' : formatTime(event.completeNs, units)}</td><td><span class="swatch" style="background:${faultColour(event.family, families)}"></span>${escapeHtml(event.f)}</td><td>${escapeHtml(event.type)}</td><td>${escapeHtml(event.nodes.join(', ') || '—')}</td><td><code>${escapeHtml(truncateText(displayText(event.value), 300))}</code>${event.error ? ` <span class="error">${escapeHtml(event.error)}</span>` : ''}</td></tr>`,
    );
    parts.push(
      `<table class="fault-events"><thead><tr><th class="number">invoked</th><th class="number">done</th><th>fault op</th><th>outcome</th><th>nodes</th><th>value</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
      events.length > faultEventRows ? `<p class="muted">${events.length - faultEventRows} more nemesis ops not listed.</p>` : '',
    );
  }
  parts.push('</section>');

  // Availability (checkers/availability): goodput, outages and recovery, when the run measured them.
  parts.push(availabilitySection(results.checkers.availability));

  // Performance, like Jepsen's perf graphs.
  parts.push('<section id="performance"><h2>Latency and throughput</h2>');
  if (summary.opCount === 0) {
    parts.push('<p class="muted">No client operations in this history.</p>');
  } else {
    const latency = latencyChart(summary, periods, families);
    parts.push(`<h3>Latency over time</h3>${latency.svg}`);
    parts.push(`<p class="muted">${summary.opCount} ops; ${latency.pointsDrawn} points drawn (ops of one outcome falling in the same 2-pixel cell are drawn once)${periods.length ? `; shaded: fault periods ${families.map((family) => `<span class="swatch" style="background:${faultColour(family, families)};opacity:.5"></span>${escapeHtml(family)}`).join(' ')}` : ''}.</p>`);
    parts.push(`<h3>Throughput over time</h3>${throughputChart(summary, periods, families)}`);
    const rows = latencyPercentiles(summary);
    const format = (ms: number | undefined): string => (ms === undefined ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
    parts.push(
      `<h3>Latency percentiles per operation (${summary.timeless ? 'history positions' : 'ms'}, ok ops)</h3><table class="percentiles"><thead><tr><th>f</th><th class="number">ops</th><th class="number">ok</th><th class="number">fail</th><th class="number">info</th>${quantiles.map((quantile) => `<th class="number">p${quantile * 100}</th>`).join('')}<th class="number">max</th></tr></thead><tbody>${rows
        .map((row) => `<tr><td>${escapeHtml(row.f)}</td><td class="number">${row.count}</td><td class="number">${row.ok}</td><td class="number">${row.fail}</td><td class="number">${row.info}</td>${quantiles.map((_, position) => `<td class="number">${format(row.quantilesMs[position])}</td>`).join('')}<td class="number">${format(row.maximumMs)}</td></tr>`)
        .join('')}</tbody></table>`,
    );
  }
  parts.push('</section>');

  // Every checker's full result, the spec and the node logs.
  parts.push('<section id="details"><h2>Checker details</h2>');
  for (const name of checkerNames) parts.push(rawJson(results.checkers[name], `${name} (full result)`));
  parts.push('</section>');
  if (input.spec !== undefined) parts.push(`<section id="spec"><h2>Spec</h2><pre>${escapeHtml(truncateText(JSON.stringify(input.spec, null, 2) ?? '', rawJsonCharacters))}</pre></section>`);
  parts.push('<section id="logs"><h2>Logs</h2>');
  if (!input.logs?.length) parts.push('<p class="muted">No node logs.</p>');
  for (const log of input.logs ?? []) {
    parts.push(
      `<div class="log" data-node="${escapeHtml(log.node)}"><h4>${escapeHtml(log.node)}: <a href="${escapeHtml(log.href)}">${escapeHtml(log.file)}</a> <span class="muted">(${log.bytes} bytes${log.truncated ? ', last lines shown' : ''})</span></h4><div class="tail"><pre>${escapeHtml(log.tail)}</pre></div></div>`,
    );
  }
  parts.push('</section>');
  parts.push(`<footer class="muted"><p>Faultline report${input.generatedAt ? `, generated ${escapeHtml(input.generatedAt)}` : ''}.</p></footer></body></html>`);
  return parts.join('\n');
}
