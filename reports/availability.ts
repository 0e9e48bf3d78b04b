// The report's "Availability" section, drawn from the availability checker's result in results.json: a goodput and
// error timeline with fault periods shaded and unavailability windows marked, tables of windows, recoveries, phases
// and thresholds. Server-side SVG, no script; every text passes through escapeHtml.
import { scaleLinear } from 'd3-scale';
import { escapeHtml } from './escape.js';

interface Window { startS: number; endS: number; durationS: number; open: boolean }
interface Recovery { fault: string; healS: number; recoveryS: number | null; sustainedRecoveryS: number | null; observedS: number }
interface Fault { fault: string; startS: number; endS: number; healed: boolean }
interface Phase { startS: number; endS: number; ok: number; fail: number; info: number; goodput: number; errorRate: number | null }
interface Bucket { second: number; ok: number; failed: number; retries: number }
interface Result {
  valid: unknown;
  windows: Window[];
  recoveries: Recovery[];
  faults: Fault[];
  phases: Record<'before' | 'during' | 'after' | 'all', Phase | null>;
  goodputRatio: number | null;
  attempts: number;
  logicalRequests: number;
  retryAmplification: number | null;
  timeline: Bucket[];
  thresholds: Record<string, number | undefined>;
  breaches: string[];
}

/** Only a result of the availability checker's shape is drawn (results.json may come from an older Faultline). */
function isAvailabilityResult(value: unknown): value is Result {
  const result = value as Partial<Result> | null;
  return typeof result === 'object' && result !== null && Array.isArray(result.windows) && Array.isArray(result.recoveries) && Array.isArray(result.faults) &&
    Array.isArray(result.timeline) && typeof result.phases === 'object' && result.phases !== null && Array.isArray(result.breaches) && typeof result.thresholds === 'object';
}

const thresholdNames: Array<[string, string, string]> = [
  ['maxUnavailableS', 'max-unavailable-s', 's'],
  ['maxRecoveryS', 'max-recovery-s', 's'],
  ['minGoodputRatio', 'min-goodput-ratio', ''],
  ['maxErrorRate', 'max-error-rate', ''],
  ['maxRetryAmplification', 'max-retry-amplification', ''],
  ['outageThresholdS', 'outage-threshold-s', 's'],
];

function seconds(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(3);
}

function ratio(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(3);
}

const frame = { width: 900, height: 230, left: 50, right: 16, top: 24, bottom: 34 };

/** ok and failed completions per second (retries dashed), fault periods shaded, unavailability windows marked. */
export function availabilityChart(result: Result): string {
  const spanS = Math.max(1, result.timeline.length, ...result.windows.map((window) => window.endS));
  const x = scaleLinear().domain([0, spanS]).range([frame.left, frame.width - frame.right]);
  const peak = Math.max(1, ...result.timeline.map((bucket) => Math.max(bucket.ok, bucket.failed, bucket.retries)));
  const y = scaleLinear().domain([0, peak]).range([frame.height - frame.bottom, frame.top]).nice();
  const step = (pick: (bucket: Bucket) => number) => {
    const points = result.timeline.map((bucket) => `${x(bucket.second).toFixed(1)},${y(pick(bucket)).toFixed(1)} ${x(bucket.second + 1).toFixed(1)},${y(pick(bucket)).toFixed(1)}`);
    return points.join(' ');
  };
  const faults = result.faults
    .map((fault) => `<rect class="availability-fault" x="${x(fault.startS).toFixed(1)}" y="${frame.top}" width="${Math.max(1, x(fault.endS) - x(fault.startS)).toFixed(1)}" height="${frame.height - frame.top - frame.bottom}" fill="#9467bd" fill-opacity="0.15"><title>${escapeHtml(`${fault.fault} ${seconds(fault.startS)}–${seconds(fault.endS)} s${fault.healed ? '' : ' (not healed)'}`)}</title></rect>`)
    .join('');
  const windows = result.windows
    .map((window) => `<rect class="availability-window" x="${x(window.startS).toFixed(1)}" y="${frame.top - 10}" width="${Math.max(1, x(window.endS) - x(window.startS)).toFixed(1)}" height="7" fill="#d62728"><title>${escapeHtml(`unavailable ${seconds(window.startS)}–${seconds(window.endS)} s (${seconds(window.durationS)} s)`)}</title></rect>`)
    .join('');
  const ticks = x.ticks(12).map((tick) => `<g><line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${frame.height - frame.bottom}" y2="${frame.height - frame.bottom + 4}" stroke="#666"/><text x="${x(tick).toFixed(1)}" y="${frame.height - frame.bottom + 16}" text-anchor="middle" font-size="11">${tick}</text></g>`).join('');
  const yTicks = y.ticks(5).map((tick) => `<g><line x1="${frame.left - 4}" x2="${frame.left}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#666"/><text x="${frame.left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end" font-size="11">${tick}</text></g>`).join('');
  const hasRetries = result.timeline.some((bucket) => bucket.retries > 0);
  return [
    `<svg class="chart availability-chart" viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="goodput and errors per second">`,
    faults,
    windows,
    `<line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${frame.height - frame.bottom}" y2="${frame.height - frame.bottom}" stroke="#666"/>`,
    `<line x1="${frame.left}" x2="${frame.left}" y1="${frame.top}" y2="${frame.height - frame.bottom}" stroke="#666"/>`,
    ticks,
    yTicks,
    `<text x="${(frame.left + frame.width - frame.right) / 2}" y="${frame.height - 4}" text-anchor="middle" font-size="11">time since test start (s), one-second bins</text>`,
    `<polyline class="availability-ok" fill="none" stroke="#2e9e44" stroke-width="1.5" points="${step((bucket) => bucket.ok)}"/>`,
    `<polyline class="availability-failed" fill="none" stroke="#d62728" stroke-width="1.5" points="${step((bucket) => bucket.failed)}"/>`,
    hasRetries ? `<polyline class="availability-retries" fill="none" stroke="#ff9f1a" stroke-width="1.2" stroke-dasharray="4 3" points="${step((bucket) => bucket.retries)}"/>` : '',
    `<text x="${frame.width - frame.right}" y="${frame.top + 10}" text-anchor="end" font-size="11"><tspan fill="#2e9e44">— ok/s</tspan>  <tspan fill="#d62728">— fail+info/s</tspan>${hasRetries ? '  <tspan fill="#ff9f1a">- - retries/s</tspan>' : ''}  <tspan fill="#d62728">▬ unavailable</tspan>  <tspan fill="#9467bd">▮ fault</tspan></text>`,
    '</svg>',
  ].join('');
}

/** The whole section; empty when results.json holds no availability result. */
export function availabilitySection(value: unknown): string {
  if (!isAvailabilityResult(value)) return '';
  const result = value;
  const parts: string[] = ['<section id="availability"><h2>Availability</h2>', availabilityChart(result)];
  if (result.breaches.length > 0) parts.push(`<ul class="availability-breaches">${result.breaches.map((breach) => `<li class="error">${escapeHtml(breach)}</li>`).join('')}</ul>`);
  parts.push('<h3>Unavailability windows</h3>');
  parts.push(result.windows.length === 0
    ? '<p class="muted">None: no stretch without an ok completion while clients waited reached the outage threshold.</p>'
    : `<table class="availability-windows"><thead><tr><th class="number">from (s)</th><th class="number">to (s)</th><th class="number">duration (s)</th><th>ended</th></tr></thead><tbody>${result.windows
      .map((window) => `<tr><td class="number">${seconds(window.startS)}</td><td class="number">${seconds(window.endS)}</td><td class="number">${seconds(window.durationS)}</td><td>${window.open ? 'still unavailable at the end' : 'first ok'}</td></tr>`)
      .join('')}</tbody></table>`);
  parts.push('<h3>Recovery after each heal</h3>');
  parts.push(result.recoveries.length === 0
    ? '<p class="muted">No heal during the main phase.</p>'
    : `<table class="availability-recoveries"><thead><tr><th>fault</th><th class="number">healed at (s)</th><th class="number">first ok after (s)</th><th class="number">sustained (s)</th><th class="number">observed after (s)</th></tr></thead><tbody>${result.recoveries
      .map((recovery) => `<tr><td>${escapeHtml(recovery.fault)}</td><td class="number">${seconds(recovery.healS)}</td><td class="number">${recovery.recoveryS === null ? 'none' : seconds(recovery.recoveryS)}</td><td class="number">${seconds(recovery.sustainedRecoveryS)}</td><td class="number">${seconds(recovery.observedS)}</td></tr>`)
      .join('')}</tbody></table><p class="muted">Sustained: until the ok completions in the trailing second reach half the pre-fault goodput.</p>`);
  const phaseRow = (name: string, phase: Phase | null) => phase
    ? `<tr><td>${escapeHtml(name)}</td><td class="number">${seconds(phase.startS)}–${seconds(phase.endS)}</td><td class="number">${phase.ok}</td><td class="number">${phase.fail}</td><td class="number">${phase.info}</td><td class="number">${phase.goodput.toFixed(1)}</td><td class="number">${ratio(phase.errorRate)}</td></tr>`
    : `<tr><td>${escapeHtml(name)}</td><td colspan="6" class="muted">—</td></tr>`;
  parts.push(`<h3>Goodput and errors</h3><table class="availability-phases"><thead><tr><th>phase</th><th class="number">span (s)</th><th class="number">ok</th><th class="number">fail</th><th class="number">info</th><th class="number">ok/s</th><th class="number">error rate</th></tr></thead><tbody>${[
    phaseRow('before faults', result.phases.before),
    phaseRow('during faults', result.phases.during),
    phaseRow('after the last heal', result.phases.after),
    phaseRow('whole main phase', result.phases.all),
  ].join('')}</tbody></table>`);
  parts.push(`<p>Goodput during / before faults: ${escapeHtml(ratio(result.goodputRatio))}. Retry amplification: ${escapeHtml(String(result.attempts))} attempts for ${escapeHtml(String(result.logicalRequests))} requests = ${escapeHtml(ratio(result.retryAmplification))}.</p>`);
  const thresholdRows = thresholdNames.map(([field, name, unit]) => {
    const limit = result.thresholds[field];
    const breached = result.breaches.some((breach) => breach.includes(` ${name} `));
    return `<tr><td>${escapeHtml(name)}</td><td class="number">${limit === undefined ? '—' : escapeHtml(`${limit}${unit ? ` ${unit}` : ''}`)}</td><td>${limit === undefined ? '<span class="muted">not set</span>' : breached ? '<span class="error">breached</span>' : 'met'}</td></tr>`;
  });
  parts.push(`<h3>Thresholds (spec <code>availability</code>)</h3><table class="availability-thresholds"><thead><tr><th>threshold</th><th class="number">limit</th><th>outcome</th></tr></thead><tbody>${thresholdRows.join('')}</tbody></table>`);
  parts.push('</section>');
  return parts.join('');
}
