// Proves the report's data path on real reference histories: summary counts, fault periods, percentiles, downsampling bounds, and escaped output.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readJsonlHistoryFile } from '../src/history/jsonl.js';
import { pairOps, type History, type Op } from '../src/history/types.js';
import { checkLinearizable } from '../checkers/linearizable/index.js';
import { buildReportHtml, writeReport } from './index.js';
import { summarizeHistory, Outcome } from './summary.js';
import { faultEvents, faultPeriods, nodesIn, classifyFault } from './faults.js';
import { latencyPercentiles } from './percentiles.js';
import { latencyChart } from './charts.js';
import { withFaults, createRunDirectory } from './bench/run-directory.js';
import { injectStaleRead, syntheticRegisterHistory } from './bench/synthetic-history.js';
import { summarizeJsonlFile } from './stream.js';

/** The shared reference histories sit beside the repository; without them, seeded synthetic ones of the same shape stand in. */
const generated = resolve('..', 'shared', 'histories', 'generated');
function load(name: string): History {
  if (existsSync(join(generated, name))) return readJsonlHistoryFile(join(generated, name)).history;
  const operations = name.includes('10k') ? 10_000 : 1000;
  const history = syntheticRegisterHistory({ operations, processes: 10, keys: name.includes('k100') ? 100 : 1, seed: operations, infoFraction: name.includes('info') ? 0.05 : 0.01 });
  return name.startsWith('bad') ? injectStaleRead(history)! : history;
}
/** A file path for the streaming test: the reference file, or the stand-in written to a temporary folder. */
function fileOf(name: string, folder: string): string {
  if (existsSync(join(generated, name))) return join(generated, name);
  const path = join(folder, name);
  writeFileSync(path, `${load(name).map((op) => JSON.stringify(op)).join('\n')}\n`);
  return path;
}

describe('summary', () => {
  it('counts every op of a reference history the way pairOps pairs them', () => {
    const history = load('ok_10k_k1_info5pct.jsonl');
    const summary = summarizeHistory(history);
    const pairs = pairOps(history);
    expect(summary.opCount).toBe(pairs.length);
    expect(summary.counts.ok).toBe(pairs.filter((pair) => pair.completion?.type === 'ok').length);
    expect(summary.counts.fail).toBe(pairs.filter((pair) => pair.completion?.type === 'fail').length);
    expect(summary.counts.info).toBe(pairs.filter((pair) => !pair.completion || pair.completion.type === 'info').length);
    expect(summary.counts.info).toBeGreaterThan(0);
    pairs.forEach((pair, slot) => {
      if (pair.completion) expect(summary.latencyNs[slot]).toBe(pair.completion.time - pair.invoke.time);
    });
    expect(summary.timeless).toBe(false);
  });

  it('streams a file to the same summary as the in-memory path', () => {
    const folder = mkdtempSync(join(tmpdir(), 'faultline-report-stream-'));
    try {
      const path = fileOf('ok_1k_k100.jsonl', folder);
      const streamed = summarizeJsonlFile(path).summary;
      const inMemory = summarizeHistory(readJsonlHistoryFile(path).history);
      expect(streamed.counts).toEqual(inMemory.counts);
      expect(streamed.latencyNs).toEqual(inMemory.latencyNs);
      expect(streamed.keys.size).toBe(100);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('streams with the shared reader\'s rules: a torn last line warns, a malformed middle line names its line', () => {
    const folder = mkdtempSync(join(tmpdir(), 'faultline-report-stream-'));
    try {
      const lines = [
        { process: 0, type: 'invoke', f: 'write', value: 1, time: 10 },
        { process: 0, type: 'ok', f: 'write', value: 1, time: 20 },
      ].map((op) => JSON.stringify(op));
      const torn = join(folder, 'torn.jsonl');
      writeFileSync(torn, `${lines.join('\n')}\n{"process": 1, "type": "inv`);
      const { summary, warnings } = summarizeJsonlFile(torn);
      expect(summary.counts.ok).toBe(1);
      expect(warnings).toEqual([`${torn}:3: ignored a torn last line (the history was cut off mid-write)`]);
      const malformed = join(folder, 'malformed.jsonl');
      writeFileSync(malformed, `${lines[0]}\n{"process": 0, "type": "ok"}\n${lines[1]}\n`);
      expect(() => summarizeJsonlFile(malformed)).toThrow(`${malformed}:2: expected "f" to be a string`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('marks a history whose times are only positions as timeless', () => {
    const history: History = [
      { index: 0, process: 0, type: 'invoke', f: 'write', value: 1, time: 0 },
      { index: 1, process: 0, type: 'ok', f: 'write', value: 1, time: 1 },
    ];
    expect(summarizeHistory(history).timeless).toBe(true);
  });
});

describe('faults', () => {
  it('pairs starts with heals per family and finds the nodes named in values', () => {
    const history = withFaults(load('ok_1k_k1.jsonl'), ['n1', 'n2', 'n3']);
    const summary = summarizeHistory(history);
    const events = faultEvents(summary.nemesisOps, ['n1', 'n2', 'n3']);
    expect(events.map((event) => event.f)).toEqual(['start-partition', 'stop-partition', 'kill', 'restart']);
    const periods = faultPeriods(events, summary.lastNs);
    expect(periods.map((period) => [period.family, period.healed])).toEqual([
      ['partition', true],
      ['kill', true],
    ]);
    expect(periods[0].nodes).toEqual(['n1', 'n2', 'n3']);
    expect(periods[1].nodes).toEqual(['n2']);
    expect(periods[0].endNs).toBeGreaterThan(periods[0].startNs);
  });

  it('leaves a fault with no heal open to the end of the history', () => {
    const ops: Op[] = [
      { index: 0, process: 'nemesis', type: 'invoke', f: 'pause', value: { targets: 'one' }, time: 10 },
      { index: 1, process: 'nemesis', type: 'info', f: 'pause', value: ['n4'], time: 20 },
    ];
    const periods = faultPeriods(faultEvents(ops, []), 500);
    expect(periods).toEqual([expect.objectContaining({ family: 'pause', healed: false, endNs: 500, nodes: ['n4'] })]);
  });

  it("uses the runner's fault and action fields when present", () => {
    const ops: Op[] = [
      { index: 0, process: 'nemesis', type: 'invoke', f: 'bump-clock', value: { deltaMs: 500 }, time: 10, fault: 'clock', action: 'start' },
      { index: 1, process: 'nemesis', type: 'info', f: 'bump-clock', value: { nodes: ['n1'] }, time: 20 },
      { index: 2, process: 'nemesis', type: 'invoke', f: 'reset-clock', value: null, time: 30, fault: 'clock', action: 'stop' },
      { index: 3, process: 'nemesis', type: 'info', f: 'reset-clock', value: { nodes: ['n1', 'n2'] }, time: 40 },
    ];
    expect(faultPeriods(faultEvents(ops, ['n1', 'n2']), 100)).toEqual([expect.objectContaining({ family: 'clock', startNs: 10, endNs: 40, healed: true, nodes: ['n1'] })]);
  });

  it('knows the vocabulary of nemeses/types.ts and Jepsen', () => {
    expect(classifyFault('start-partition')).toEqual({ family: 'partition', role: 'start' });
    expect(classifyFault('resume')).toEqual({ family: 'pause', role: 'heal' });
    expect(classifyFault('reset-clock')).toEqual({ family: 'clock', role: 'heal' });
    expect(classifyFault('strobe-clock')).toEqual({ family: 'clock', role: 'start' });
    expect(classifyFault('corrupt-file').role).toBe('instant');
    expect(nodesIn({ grudge: { n1: ['n2'] } }, [])).toEqual(['n1', 'n2']);
  });
});

describe('percentiles', () => {
  it('agrees with a sort of the ok latencies per f', () => {
    const history = load('ok_10k_k100.jsonl');
    const rows = latencyPercentiles(summarizeHistory(history));
    const reads = pairOps(history)
      .filter((pair) => pair.invoke.f === 'read' && pair.completion?.type === 'ok')
      .map((pair) => (pair.completion!.time - pair.invoke.time) / 1e6)
      .sort((a, b) => a - b);
    const row = rows.find((candidate) => candidate.f === 'read')!;
    expect(row.ok).toBe(reads.length);
    expect(row.quantilesMs[0]).toBeCloseTo(reads[Math.ceil(0.5 * reads.length) - 1], 9);
    expect(row.quantilesMs[2]).toBeCloseTo(reads[Math.ceil(0.99 * reads.length) - 1], 9);
    expect(row.maximumMs).toBeCloseTo(reads[reads.length - 1], 9);
  });
});

describe('drawing', () => {
  it('downsamples points for drawing only, with a bound independent of the op count', () => {
    const summary = summarizeHistory(syntheticRegisterHistory({ operations: 200_000, processes: 20, keys: 10, seed: 3 }));
    const { svg, pointsDrawn } = latencyChart(summary, [], []);
    expect(summary.opCount).toBe(200_000);
    expect(pointsDrawn).toBeLessThan(3 * (961 / 2 + 1) * (301 / 2 + 1));
    expect(pointsDrawn).toBeGreaterThan(1000);
    expect(svg.length).toBeLessThan(3_000_000);
    // Ops are never dropped from what is counted, only from what is drawn.
    expect(summary.counts.ok + summary.counts.fail + summary.counts.info).toBe(200_000);
    expect(summary.outcome.filter((outcome) => outcome === Outcome.ok).length).toBe(summary.counts.ok);
  });

  it('draws the real checker counterexample of an invalid reference history', async () => {
    const history = load('bad_1k_k1.jsonl');
    const result = await checkLinearizable(history, { model: 'cas-register', workers: 0 });
    expect(result.valid).toBe(false);
    const html = buildReportHtml({ title: 'bad_1k_k1', source: 'test', results: { valid: result.valid, checkers: { linearizable: result } }, history });
    expect(html).toContain('data-verdict="invalid"');
    expect(html).toContain('class="chart counterexample-chart"');
    expect(html.match(/class="op-bar op-failing"/g)?.length).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(/Longest linearizable prefix: \d+ ops/);
    const failed = result.keys.find((key) => key.valid === false)!.counterexample!.failedOps[0];
    expect(html).toContain(`#${failed.index} process ${failed.process}`);
  });

  it('renders values holding markup as text, everywhere', () => {
    const hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const history: History = [
      { index: 0, process: 'nemesis', type: 'invoke', f: 'start-partition', value: { mode: hostile }, time: 1_000 },
      { index: 1, process: 'nemesis', type: 'info', f: 'start-partition', value: { nodes: [hostile] }, time: 2_000 },
      { index: 2, process: 0, type: 'invoke', f: hostile, key: hostile, value: hostile, time: 3_000 },
      { index: 3, process: 0, type: 'ok', f: hostile, key: hostile, value: hostile, time: 900_000 },
    ];
    const html = buildReportHtml({
      title: hostile,
      source: `"'><svg onload=alert(3)>`,
      results: { valid: false, name: hostile, command: ['faultline', hostile], checkers: { [hostile]: { valid: false, lost: [hostile], lostCount: 1, error: hostile } } },
      history,
      spec: { name: hostile },
      logs: [{ node: hostile, file: hostile, href: './x', bytes: 1, tail: hostile, truncated: false }],
    });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<svg onload/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('synthetic histories', () => {
  it('are linearizable as generated, and invalid once a stale read is injected (by the real checker)', async () => {
    const history = syntheticRegisterHistory({ operations: 2000, processes: 8, keys: 3, seed: 21 });
    expect((await checkLinearizable(history, { model: 'cas-register', workers: 0 })).valid).toBe(true);
    const stale = injectStaleRead(history)!;
    expect(stale).toBeDefined();
    expect((await checkLinearizable(stale, { model: 'cas-register', workers: 0 })).valid).toBe(false);
  });
});

describe('writeReport', () => {
  it('writes report.html into a run directory with node log tails and relative links', async () => {
    const root = mkdtempSync(join(tmpdir(), 'faultline-report-unit-'));
    try {
      const directory = await createRunDirectory({ directory: join(root, 'test', 'run1'), name: 'test', history: load('ok_1k_k100.jsonl'), nodes: ['n1', 'n2'], seed: 9, faults: true, model: 'cas-register', logLines: 500 });
      const path = await writeReport(directory);
      expect(path).toBe(join(directory, 'report.html'));
      const html = readFileSync(path, 'utf8');
      expect(html).toContain('data-verdict="valid"');
      expect(html).toContain('href="./nodes/n1/n1.log"');
      expect(html).toContain('applied index 499');
      expect(html).not.toContain('applied index 100\n');
      expect(html).toContain('faultline run --target raftkv');
      const elsewhere = await writeReport(directory, { out: join(root, 'elsewhere.html') });
      expect(readFileSync(elsewhere, 'utf8')).toContain('href="./test/run1/nodes/n2/n2.log"');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
