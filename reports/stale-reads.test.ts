// Proves the report shows the stale-read labels of a k8s cache-reads run: the checker row names the counts and a
// "Stale cache reads" section lists the example reads; a run without the entry has no such section.
import { describe, expect, it } from 'vitest';
import type { History } from '../src/history/types.js';
import { staleReadsChecker } from '../checkers/stale-reads/index.js';
import { buildReportHtml } from './index.js';
import { summarizeHistory } from './summary.js';

const history: History = [
  { index: 0, process: 0, type: 'invoke', f: 'write', key: 1, value: 1, time: 0 },
  { index: 1, process: 0, type: 'ok', f: 'write', key: 1, value: 1, time: 1e6, resourceVersion: '100' },
  { index: 2, process: 0, type: 'invoke', f: 'write', key: 1, value: 2, time: 2e6 },
  { index: 3, process: 0, type: 'ok', f: 'write', key: 1, value: 2, time: 3e6, resourceVersion: '105' },
  { index: 4, process: 1, type: 'invoke', f: 'read', key: 1, value: null, time: 4e6, node: 'n3' },
  { index: 5, process: 1, type: 'ok', f: 'read', key: 1, value: 1, time: 5e6, node: 'n3', readFrom: 'watch-cache', resourceVersion: '100' },
];

describe('stale-read labels in the report', () => {
  it('names the counts in the checker row and lists the stale reads', async () => {
    const labels = await staleReadsChecker().check({}, history);
    const html = buildReportHtml({ title: 'stale', source: 'test', results: { valid: false, checkers: { linearizable: { valid: false }, 'stale-reads': labels } }, summary: summarizeHistory(history) });
    expect(html).toContain('1 cache reads, 1 stale');
    const section = /<section id="stale-reads">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? '';
    expect(section).toContain('Stale cache reads');
    expect(section).toMatch(/<td class="number">5<\/td><td>n3<\/td><td>1<\/td><td>100<\/td><td>105<\/td><td class="number">1<\/td>/);
    const without = buildReportHtml({ title: 'plain', source: 'test', results: { valid: true, checkers: { linearizable: { valid: true } } }, summary: summarizeHistory(history) });
    expect(without).not.toContain('id="stale-reads"');
  });
});
