// Server-side SVG charts (latency, throughput, fault timeline, counterexample lanes) from d3-scale and d3-shape.
import { scaleBand, scaleLinear, scaleLog, type ScaleLinear, type ScaleLogarithmic } from 'd3-scale';
import { area, curveStepAfter, line } from 'd3-shape';
import { escapeHtml, displayText, truncateText } from './escape.js';
import type { FaultEvent, FaultPeriod } from './faults.js';
import { Outcome, outcomeNames, type HistorySummary } from './summary.js';

export const outcomeColours = ['#2e9e44', '#d62728', '#ff9f1a'] as const;
const faultPalette = ['#9467bd', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22', '#1f77b4'];

/** Stable colour per fault family, so the same fault has the same shade in every chart. */
export function faultColour(family: string, families: readonly string[]): string {
  const position = families.indexOf(family);
  return faultPalette[(position < 0 ? 0 : position) % faultPalette.length];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Units of the time axes: seconds and milliseconds, or history positions when the history has no times. */
export interface TimeUnits {
  timeDivisor: number;
  timeLabel: string;
  timeSuffix: string;
  latencyDivisor: number;
  latencyLabel: string;
}

export function timeUnits(timeless: boolean): TimeUnits {
  return timeless
    ? { timeDivisor: 1, timeLabel: 'position in the history (it has no timestamps)', timeSuffix: '', latencyDivisor: 1, latencyLabel: 'latency (history positions)' }
    : { timeDivisor: 1e9, timeLabel: 'time since test start (s)', timeSuffix: 's', latencyDivisor: 1e6, latencyLabel: 'latency (ms)' };
}

const chartFrame: Frame = { width: 960, height: 300, left: 64, right: 16, top: 12, bottom: 40 };

/** A time for tooltips and tables: seconds with three decimals, or a bare position. */
export function formatTime(ns: number, units: TimeUnits): string {
  return units.timeSuffix ? `${(ns / units.timeDivisor).toFixed(3)}${units.timeSuffix}` : String(ns);
}

function number(value: number): string {
  return Number.isFinite(value) ? (Math.round(value * 10) / 10).toString() : '0';
}

function xAxis(x: ScaleLinear<number, number>, frame: Frame, label: string): string {
  const ticks = x.ticks(10);
  const format = x.tickFormat(10);
  const y = frame.height - frame.bottom;
  const parts = [`<g class="axis x-axis"><line x1="${frame.left}" x2="${frame.width - frame.right}" y1="${y}" y2="${y}"/>`];
  for (const tick of ticks) {
    const position = number(x(tick));
    parts.push(`<line x1="${position}" x2="${position}" y1="${y}" y2="${y + 5}"/><text x="${position}" y="${y + 17}" text-anchor="middle">${escapeHtml(format(tick))}</text>`);
  }
  parts.push(`<text class="axis-label" x="${number((frame.left + frame.width - frame.right) / 2)}" y="${frame.height - 4}" text-anchor="middle">${escapeHtml(label)}</text></g>`);
  return parts.join('');
}

function yAxis(y: ScaleLinear<number, number> | ScaleLogarithmic<number, number>, frame: Frame, label: string, count: number, specifier: string): string {
  const ticks = y.ticks(count);
  const format = y.tickFormat(count, specifier);
  const parts = [`<g class="axis y-axis"><line x1="${frame.left}" x2="${frame.left}" y1="${frame.top}" y2="${frame.height - frame.bottom}"/>`];
  for (const tick of ticks) {
    const label = format(tick);
    if (label === '') continue;
    const position = number(y(tick));
    parts.push(`<line class="grid" x1="${frame.left}" x2="${frame.width - frame.right}" y1="${position}" y2="${position}"/><text x="${frame.left - 6}" y="${position}" dy="0.32em" text-anchor="end">${escapeHtml(label)}</text>`);
  }
  parts.push(`<text class="axis-label" transform="translate(14 ${number((frame.top + frame.height - frame.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(label)}</text></g>`);
  return parts.join('');
}

/** The x scale shared by the time charts: seconds since the test began. */
export function timeScale(summary: HistorySummary, frame: Frame = chartFrame): ScaleLinear<number, number> {
  const divisor = timeUnits(summary.timeless).timeDivisor;
  const endSeconds = Math.max(summary.lastNs / divisor, 1e-6);
  return scaleLinear().domain([Math.min(0, summary.firstNs / divisor), endSeconds]).range([frame.left, frame.width - frame.right]).nice();
}

function faultShading(periods: readonly FaultPeriod[], families: readonly string[], x: ScaleLinear<number, number>, frame: Frame, units: TimeUnits): string {
  const divisor = units.timeDivisor;
  return periods
    .map((period) => {
      const start = Math.max(frame.left, x(period.startNs / divisor));
      const end = Math.min(frame.width - frame.right, Math.max(x(period.endNs / divisor), start + 1));
      const title = `${period.f} ${period.nodes.join(' ')} ${formatTime(period.startNs, units)}–${formatTime(period.endNs, units)}${period.healed ? '' : ' (not healed in the history)'}`;
      return `<rect class="fault-shade" x="${number(start)}" y="${frame.top}" width="${number(end - start)}" height="${frame.height - frame.top - frame.bottom}" fill="${faultColour(period.family, families)}" fill-opacity="0.15"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('');
}

/** Pixel cell (in px) within which points of one outcome are merged: drawing stays faithful at a bounded size. */
const pointCellPx = 2;

/**
 * Latency of every op against its invoke time, log scale, coloured by outcome. Large histories are
 * downsampled for drawing only: of several points of one outcome falling in the same 2px cell, one is drawn.
 */
export function latencyChart(summary: HistorySummary, periods: readonly FaultPeriod[], families: readonly string[]): { svg: string; pointsDrawn: number } {
  const frame = chartFrame;
  const units = timeUnits(summary.timeless);
  const x = timeScale(summary, frame);
  let minimumMs = Number.POSITIVE_INFINITY;
  let maximumMs = 0;
  for (let slot = 0; slot < summary.opCount; slot++) {
    const latency = summary.latencyNs[slot];
    if (!(latency >= 0)) continue;
    const ms = Math.max(latency / units.latencyDivisor, 1e-3);
    if (ms < minimumMs) minimumMs = ms;
    if (ms > maximumMs) maximumMs = ms;
  }
  if (!Number.isFinite(minimumMs)) {
    minimumMs = 0.1;
    maximumMs = 1;
  }
  if (maximumMs <= minimumMs) maximumMs = minimumMs * 10;
  const y = scaleLog().domain([minimumMs, maximumMs]).range([frame.height - frame.bottom, frame.top]).nice().clamp(true);
  const columns = Math.ceil(frame.width / pointCellPx) + 1;
  const rows = Math.ceil(frame.height / pointCellPx) + 1;
  const occupied = [new Uint8Array(columns * rows), new Uint8Array(columns * rows), new Uint8Array(columns * rows)];
  const paths: string[][] = [[], [], []];
  let pointsDrawn = 0;
  for (let slot = 0; slot < summary.opCount; slot++) {
    const latency = summary.latencyNs[slot];
    if (!(latency >= 0)) continue;
    const px = x(summary.invokeNs[slot] / units.timeDivisor);
    const py = y(Math.max(latency / units.latencyDivisor, 1e-3));
    const outcome = summary.outcome[slot];
    const cell = Math.floor(py / pointCellPx) * columns + Math.floor(px / pointCellPx);
    if (cell < 0 || cell >= occupied[outcome].length || occupied[outcome][cell]) continue;
    occupied[outcome][cell] = 1;
    paths[outcome].push(`M${number(px)} ${number(py)}h0`);
    pointsDrawn += 1;
  }
  const legend = outcomeNames
    .map((name, outcome) => `<tspan fill="${outcomeColours[outcome]}">● ${name} ${summary.counts[name]}</tspan>`)
    .join('  ');
  const svg = [
    `<svg class="chart latency-chart" viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="latency over time">`,
    faultShading(periods, families, x, frame, units),
    yAxis(y, frame, units.latencyLabel, 6, '~g'),
    xAxis(x, frame, units.timeLabel),
    // Draw info and fail after ok, so the rarer outcomes stay visible on top.
    [Outcome.ok, Outcome.info, Outcome.fail]
      .map((outcome) => (paths[outcome].length ? `<path class="points points-${outcomeNames[outcome]}" stroke="${outcomeColours[outcome]}" d="${paths[outcome].join('')}"/>` : ''))
      .join(''),
    `<text class="legend" x="${frame.width - frame.right}" y="${frame.top + 10}" text-anchor="end">${legend}${summary.counts.neverCompleted ? ` <tspan>(${summary.counts.neverCompleted} never completed, not drawn)</tspan>` : ''}</text>`,
    '</svg>',
  ].join('');
  return { svg, pointsDrawn };
}

/** Completions per second over time, one step line per outcome (binned on the scale's own tick step). */
export function throughputChart(summary: HistorySummary, periods: readonly FaultPeriod[], families: readonly string[]): string {
  const frame = { ...chartFrame, height: 240 };
  const units = timeUnits(summary.timeless);
  const x = timeScale(summary, frame);
  const [domainStart, domainEnd] = x.domain();
  const ticks = x.ticks(120);
  const tickStep = ticks.length > 1 ? ticks[1] - ticks[0] : Math.max(domainEnd - domainStart, 1e-6);
  // Positions are whole numbers: a bin narrower than one position would only draw spikes.
  const stepSeconds = summary.timeless ? Math.max(1, tickStep) : tickStep;
  const binCount = Math.max(1, Math.ceil((domainEnd - domainStart) / stepSeconds));
  const counts = [new Float64Array(binCount), new Float64Array(binCount), new Float64Array(binCount)];
  for (let slot = 0; slot < summary.opCount; slot++) {
    const latency = summary.latencyNs[slot];
    if (!(latency >= 0)) continue;
    const completedSeconds = (summary.invokeNs[slot] + latency) / units.timeDivisor;
    const bin = Math.min(binCount - 1, Math.max(0, Math.floor((completedSeconds - domainStart) / stepSeconds)));
    counts[summary.outcome[slot]][bin] += 1;
  }
  let maximumRate = 1;
  for (const series of counts) for (const count of series) maximumRate = Math.max(maximumRate, count / stepSeconds);
  const y = scaleLinear().domain([0, maximumRate]).range([frame.height - frame.bottom, frame.top]).nice();
  const seriesPaths = counts.map((series, outcome) => {
    const points: Array<[number, number]> = [];
    for (let bin = 0; bin < binCount; bin++) points.push([domainStart + bin * stepSeconds, series[bin] / stepSeconds]);
    points.push([domainStart + binCount * stepSeconds, series[binCount - 1] / stepSeconds]);
    const path = line<[number, number]>()
      .x((point) => x(point[0]))
      .y((point) => y(point[1]))
      .curve(curveStepAfter)
      .digits(1)(points);
    const fill =
      outcome === Outcome.ok
        ? area<[number, number]>()
            .x((point) => x(point[0]))
            .y0(y(0))
            .y1((point) => y(point[1]))
            .curve(curveStepAfter)
            .digits(1)(points)
        : null;
    return `${fill ? `<path class="throughput-area" fill="${outcomeColours[outcome]}" fill-opacity="0.12" d="${fill}"/>` : ''}<path class="throughput throughput-${outcomeNames[outcome]}" fill="none" stroke="${outcomeColours[outcome]}" stroke-width="1.5" d="${path ?? ''}"/>`;
  });
  const legend = outcomeNames.map((name, outcome) => `<tspan fill="${outcomeColours[outcome]}">— ${name}</tspan>`).join('  ');
  return [
    `<svg class="chart throughput-chart" viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="throughput over time">`,
    faultShading(periods, families, x, frame, units),
    yAxis(y, frame, summary.timeless ? 'completions per position' : 'ops/s', 5, '~s'),
    xAxis(x, frame, `${units.timeLabel}, bins of ${stepSeconds.toPrecision(3)}${units.timeSuffix ? ` ${units.timeSuffix}` : ''}`),
    seriesPaths.join(''),
    `<text class="legend" x="${frame.width - frame.right}" y="${frame.top + 10}" text-anchor="end">${legend}</text>`,
    '</svg>',
  ].join('');
}

/** Faults as bars on the same time axis as the latency chart: one lane per fault family. */
export function faultTimelineChart(summary: HistorySummary, periods: readonly FaultPeriod[], events: readonly FaultEvent[], families: readonly string[]): string {
  const laneHeight = 26;
  const frame: Frame = { ...chartFrame, left: 110, height: 40 + Math.max(1, families.length) * laneHeight + 12 };
  const units = timeUnits(summary.timeless);
  const divisor = units.timeDivisor;
  const x = timeScale(summary, frame);
  const lanes = scaleBand<string>().domain(families).range([frame.top, frame.height - frame.bottom]).padding(0.2);
  const parts = [`<svg class="chart fault-timeline" viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="fault timeline">`];
  for (const family of families) {
    const laneY = lanes(family) ?? frame.top;
    parts.push(`<text class="lane-label" x="${frame.left - 8}" y="${number(laneY + lanes.bandwidth() / 2)}" dy="0.32em" text-anchor="end">${escapeHtml(truncateText(family, 16))}</text>`);
  }
  for (const period of periods) {
    const laneY = lanes(period.family) ?? frame.top;
    const start = x(period.startNs / divisor);
    const width = Math.max(2, x(period.endNs / divisor) - start);
    const label = period.nodes.length ? period.nodes.join(' ') : period.value === null || period.value === undefined ? period.f : displayText(period.value);
    const title = `${period.f} ${displayText(period.value)} on ${period.nodes.join(', ') || 'unknown nodes'}: ${formatTime(period.startNs, units)} → ${period.healed ? formatTime(period.endNs, units) : 'end (not healed in the history)'}`;
    parts.push(
      `<g class="fault-bar"><rect x="${number(start)}" y="${number(laneY)}" width="${number(width)}" height="${number(lanes.bandwidth())}" rx="3" fill="${faultColour(period.family, families)}" fill-opacity="0.55"${period.healed ? '' : ' stroke-dasharray="4 2" stroke="#333"'}/><title>${escapeHtml(title)}</title>` +
        (width > 40 ? `<text x="${number(start + 4)}" y="${number(laneY + lanes.bandwidth() / 2)}" dy="0.32em">${escapeHtml(truncateText(label, Math.floor(width / 7)))}</text>` : '') +
        '</g>',
    );
  }
  for (const event of events) {
    if (event.role !== 'instant') continue;
    const laneY = lanes(event.family) ?? frame.top;
    const at = number(x(event.invokeNs / divisor));
    parts.push(`<g class="fault-instant"><line x1="${at}" x2="${at}" y1="${number(laneY)}" y2="${number(laneY + lanes.bandwidth())}" stroke="${faultColour(event.family, families)}" stroke-width="3"/><title>${escapeHtml(`${event.f} ${displayText(event.value)}`)}</title></g>`);
  }
  parts.push(xAxis(x, frame, units.timeLabel), '</svg>');
  return parts.join('');
}

/** One bar of the counterexample drawing. */
export interface CounterexampleBar {
  process: string;
  invokeNs: number;
  /** Undefined when the op never completed (drawn open to the right edge). */
  completeNs: number | undefined;
  label: string;
  role: 'failing' | 'concurrent' | 'prefix';
  outcome: string;
  index: number | undefined;
}

/** A bar's label inside it; the op that could not be placed keeps its whole label, outside the bar when it does not fit. */
function labelFor(bar: CounterexampleBar, start: number, width: number, middleY: number): string {
  const fits = Math.floor(width / 6.5);
  if (bar.role === 'failing' && bar.label.length > fits) {
    return `<text class="failing-label" x="${number(start + width + 4)}" y="${number(middleY)}" dy="0.32em">${escapeHtml(truncateText(bar.label, 60))}</text>`;
  }
  return `<text x="${number(start + 4)}" y="${number(middleY)}" dy="0.32em">${escapeHtml(truncateText(bar.label, Math.max(3, fits)))}</text>`;
}

/** The concurrent ops on the counterexample's key: a lane per process, a bar from invoke to completion. */
export function counterexampleChart(bars: readonly CounterexampleBar[], timeless = false): string {
  const units = timeUnits(timeless);
  if (bars.length === 0) return '';
  const processes = [...new Set(bars.map((bar) => bar.process))].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  const laneHeight = 30;
  const frame: Frame = { width: 960, height: 48 + processes.length * laneHeight, left: 90, right: 16, top: 8, bottom: 40 };
  let startNs = Number.POSITIVE_INFINITY;
  let endNs = Number.NEGATIVE_INFINITY;
  for (const bar of bars) {
    startNs = Math.min(startNs, bar.invokeNs);
    endNs = Math.max(endNs, bar.completeNs ?? bar.invokeNs);
  }
  const spanNs = Math.max(endNs - startNs, 1);
  const openEndNs = endNs + spanNs * 0.08;
  const x = scaleLinear()
    .domain([0, (openEndNs - startNs) / units.latencyDivisor])
    .range([frame.left, frame.width - frame.right]);
  const lanes = scaleBand<string>().domain(processes).range([frame.top, frame.height - frame.bottom]).padding(0.18);
  const parts = [`<svg class="chart counterexample-chart" viewBox="0 0 ${frame.width} ${frame.height}" role="img" aria-label="counterexample timeline">`];
  for (const process of processes) {
    const laneY = lanes(process) ?? frame.top;
    parts.push(`<text class="lane-label" x="${frame.left - 8}" y="${number(laneY + lanes.bandwidth() / 2)}" dy="0.32em" text-anchor="end">process ${escapeHtml(truncateText(process, 10))}</text>`);
  }
  // Prefix first, failing last: the op that could not be placed is drawn on top.
  const order = { prefix: 0, concurrent: 1, failing: 2 } as const;
  for (const bar of [...bars].sort((a, b) => order[a.role] - order[b.role])) {
    const laneY = lanes(bar.process) ?? frame.top;
    const start = x((bar.invokeNs - startNs) / units.latencyDivisor);
    const end = x(((bar.completeNs ?? openEndNs) - startNs) / units.latencyDivisor);
    const width = Math.max(3, end - start);
    const title = `${bar.index !== undefined ? `#${bar.index} ` : ''}process ${bar.process}: ${bar.label} (${bar.outcome}${bar.completeNs === undefined ? ', never completed' : ''}) ${bar.role === 'failing' ? '— could not be linearized' : bar.role === 'prefix' ? '— in the longest linearizable prefix' : '— concurrent'}`;
    parts.push(
      `<g class="op-bar op-${bar.role}" data-role="${bar.role}"><rect x="${number(start)}" y="${number(laneY)}" width="${number(width)}" height="${number(lanes.bandwidth())}" rx="3"${bar.completeNs === undefined ? ' stroke-dasharray="5 3"' : ''}/><title>${escapeHtml(title)}</title>` +
        labelFor(bar, start, width, laneY + lanes.bandwidth() / 2) +
        '</g>',
    );
  }
  parts.push(xAxis(x, frame, timeless ? 'history positions since the first op shown' : 'ms since the first op shown'), '</svg>');
  return parts.join('');
}
