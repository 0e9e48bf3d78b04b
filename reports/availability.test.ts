// Proves the report's Availability section: drawn from the availability checker's result with its chart, windows,
// recoveries and thresholds, a breached threshold in the verdict banner, fault names escaped, and absent without it.
import { describe, expect, it } from 'vitest';
import type { History, Op } from '../src/history/types.js';
import { checkAvailability } from '../checkers/availability/index.js';
import { buildReportHtml } from './index.js';
import { availabilitySection } from './availability.js';

function op(index: number, process: Op['process'], type: Op['type'], f: string, timeMs: number, extra: Record<string, unknown> = {}): Op {
  return { index, process, type, f, value: null, time: timeMs * 1e6, ...extra };
}

/** ok every 100 ms, a fault named with markup from 1 s to 3 s during which every op fails, ok again from 3.5 s. */
function outageHistory(): History {
  const ops: Op[] = [];
  const push = (process: Op['process'], type: Op['type'], f: string, timeMs: number, extra: Record<string, unknown> = {}) => ops.push(op(ops.length, process, type, f, timeMs, extra));
  const fault = '<b>cut</b>';
  for (let t = 0; t < 1000; t += 100) { push(0, 'invoke', 'write', t); push(0, 'ok', 'write', t + 50); }
  push('nemesis', 'invoke', 'start-cut', 1000, { fault, action: 'start' });
  push('nemesis', 'info', 'start-cut', 1001, { fault, action: 'start' });
  for (let t = 1000; t < 3000; t += 100) { push(0, 'invoke', 'write', t); push(0, 'fail', 'write', t + 50); }
  push('nemesis', 'invoke', 'stop-cut', 3000, { fault, action: 'stop' });
  push('nemesis', 'info', 'stop-cut', 3002, { fault, action: 'stop' });
  for (let t = 3000; t < 5000; t += 100) { push(0, 'invoke', 'write', t); push(0, t < 3500 ? 'fail' : 'ok', 'write', t + 50); }
  return ops;
}

describe('the report\'s availability section', () => {
  it('draws the timeline and lists windows, recoveries and the breached threshold, escaped', () => {
    const result = checkAvailability(outageHistory(), { maxRecoveryS: 0.2 });
    const section = availabilitySection(result);
    expect(section).toContain('<section id="availability"><h2>Availability</h2>');
    expect(section).toMatch(/<svg class="chart availability-chart"/);
    expect(section.match(/class="availability-window"/g)).toHaveLength(1);
    expect(section.match(/class="availability-fault"/g)).toHaveLength(1);
    // The last ok lands at 0.95 s; the first op left waiting is invoked at 1.0 s; the first ok after is at 3.55 s.
    expect(section).toContain('<td class="number">1.000</td><td class="number">3.550</td><td class="number">2.550</td>');
    expect(section).toContain('&lt;b&gt;cut&lt;/b&gt;');
    expect(section).not.toContain('<b>cut</b>');
    expect(section).toContain('<td>max-recovery-s</td><td class="number">0.2 s</td><td><span class="error">breached</span></td>');
    expect(section).toContain('recovery after heal at 3.002 s took 0.548 s &gt; max-recovery-s 0.2');
    expect(section).not.toContain('<script');
  });

  it('puts the breach in the verdict banner, and is absent when the run has no availability result', () => {
    const result = checkAvailability(outageHistory(), { maxRecoveryS: 0.2 });
    const html = buildReportHtml({ title: 't', source: 's', results: { valid: false, checkers: { availability: result } }, history: outageHistory() });
    const banner = /<div class="banner[^"]*" id="verdict"[^>]*>([\s\S]*?)<\/div><\/header>/.exec(html)![1];
    expect(banner).toContain('availability: recovery after heal at 3.002 s took 0.548 s &gt; max-recovery-s 0.2');
    expect(html).toContain('id="availability"');
    const without = buildReportHtml({ title: 't', source: 's', results: { valid: true, checkers: {} }, history: outageHistory() });
    expect(without).not.toContain('id="availability"');
    expect(availabilitySection({ valid: true })).toBe('');
  });
});
