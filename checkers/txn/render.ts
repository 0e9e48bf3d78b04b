// Renders a transactional check's result for people: plain text for the CLI, escaped HTML for reports.
import type { CycleAnomaly, PlainAnomaly, TxnAnomaly, TxnCheckResult, TxnSummary } from './index.js';

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function describeTxn(txn: TxnSummary): string {
  return `T${txn.index} (process ${txn.process}, ${txn.type}, ops ${txn.invokeIndex}..${txn.index}) ${show(txn.value)}`;
}

function isCycle(anomaly: TxnAnomaly): anomaly is CycleAnomaly {
  return 'cycle' in anomaly;
}

function verdictWord(valid: TxnCheckResult['valid']): string {
  return valid === true ? 'valid' : valid === false ? 'INVALID' : 'UNKNOWN';
}

/** Lines a person can follow: the verdict, each anomaly type with counts, and each example cycle step by step. */
export function renderTxnResultText(result: TxnCheckResult): string {
  const lines: string[] = [];
  const { ok, info, fail } = result.txnCount;
  lines.push(`workload: ${result.workload}, consistency model: ${result.consistency}`);
  lines.push(`transactions: ${ok} ok, ${info} info, ${fail} fail; ${result.edgeCount} dependency edges; ${result.cyclicComponents} cyclic components`);
  const prohibited = new Set<string>(result.prohibited);
  for (const type of result.anomalyTypes) {
    const allowed = prohibited.has(type) ? 'forbidden' : `allowed by ${result.consistency}`;
    lines.push(`${type}: ${result.anomalyCounts[type]} (${allowed})`);
    for (const anomaly of result.anomalies[type] ?? []) {
      if (isCycle(anomaly)) {
        lines.push('  cycle:');
        for (const step of anomaly.cycle) {
          lines.push(`    ${describeTxn(step.txn)}`);
          lines.push(`      -${step.edge}-> ${step.explanation}`);
        }
      } else {
        lines.push(`  ${describeTxn(anomaly.txn)}: ${anomaly.explanation}`);
      }
    }
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  lines.push(`overall: ${verdictWord(result.valid)}`);
  return `${lines.join('\n')}\n`;
}

function plainHtml(anomaly: PlainAnomaly): string {
  return `<li><code>${escapeHtml(describeTxn(anomaly.txn))}</code>: ${escapeHtml(anomaly.explanation)}</li>`;
}

function cycleHtml(anomaly: CycleAnomaly): string {
  const steps = anomaly.cycle
    .map((step) => `<li><code>${escapeHtml(describeTxn(step.txn))}</code><br><span class="edge edge-${escapeHtml(step.edge)}">${escapeHtml(step.edge)}</span> ${escapeHtml(step.explanation)}</li>`)
    .join('');
  return `<li><ol class="txn-cycle">${steps}</ol></li>`;
}

/** An HTML fragment (no page around it, every value escaped) a report can embed. */
export function renderTxnResultHtml(result: TxnCheckResult): string {
  const parts: string[] = [];
  parts.push(`<section class="txn-check"><h3>${escapeHtml(result.workload)} under ${escapeHtml(result.consistency)}: ${verdictWord(result.valid)}</h3>`);
  const prohibited = new Set<string>(result.prohibited);
  for (const type of result.anomalyTypes) {
    const status = prohibited.has(type) ? 'forbidden' : 'allowed';
    parts.push(`<h4 class="${status}">${escapeHtml(type)} &times; ${result.anomalyCounts[type]} (${status})</h4><ul>`);
    for (const anomaly of result.anomalies[type] ?? []) parts.push(isCycle(anomaly) ? cycleHtml(anomaly) : plainHtml(anomaly));
    parts.push('</ul>');
  }
  for (const note of result.notes) parts.push(`<p class="note">${escapeHtml(note)}</p>`);
  parts.push('</section>');
  return parts.join('');
}
