// Proves junit.xml is well-formed XML 1.0 whatever a checker's reason holds (markup, quotes, controls, lone
// surrogates, non-ASCII), says invalid as <failure> and unknown as <error>, and summary.json matches results.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunResults } from '../results.js';
import { junitXml, runSummary, writeCiOutputs, xmlEscape } from './ci-outputs.js';
import { parseXml } from './xml-well-formed.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-ci-outputs-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const hostile = `<script>alert("x")</script> & ]]> 'quotes' \u0000\u0001\u001b[31m \ud800 lone, \udc00 lone; 😀 pair; \ufffe; tab\tnew\nline é`;

function results(overrides: Partial<RunResults> = {}): RunResults {
  return {
    name: 'raftkv-set', runId: 'abc123', startedAt: '2026-12-04T03:00:00.000Z', finishedAt: '2026-12-04T03:00:12.500Z', seed: 42,
    command: ['faultline', 'run', '--seed', '42', '--name', hostile], versions: { faultline: '0.1.0' }, target: 'raftkv', backend: 'local',
    workload: 'set', nemesis: ['kill'], nodes: ['n1', 'n2', 'n3'], valid: false,
    checkers: {
      set: { valid: false, reason: `lost 2 acknowledged adds: ${hostile}`, lost: [hostile] },
      stats: { valid: true },
      [`odd ${hostile}`]: { valid: 'unknown', error: hostile },
    },
    stats: { ops: 1200, ok: 1000, fail: 150, info: 50 }, errors: [hostile],
    ...overrides,
  };
}

describe('junit.xml and summary.json', () => {
  it('escapes every hostile string into well-formed XML that reads back unchanged where XML can hold it', () => {
    const input = results();
    const xml = junitXml(runSummary(directory, input, 1), input);
    const root = parseXml(xml);
    expect(root.name).toBe('testsuites');
    const suite = root.children[0];
    expect(suite.attributes).toMatchObject({ name: 'raftkv-set', tests: '3', failures: '1', errors: '1' });
    const cases = suite.children.filter((child) => child.name === 'testcase');
    expect(cases.map((testcase) => testcase.attributes.name)).toEqual(['set', 'stats', `odd ${xmlEscapedBack(hostile)}`]);
    const failure = cases[0].children[0];
    expect(failure.name).toBe('failure');
    expect(failure.attributes.message).toBe(`lost 2 acknowledged adds: ${xmlEscapedBack(hostile)}`);
    // Markup, quotes, pairs, tabs and newlines come back as they were; forbidden characters as visible escapes.
    expect(failure.attributes.message).toContain(`<script>alert("x")</script> & ]]> 'quotes' \\u0000\\u0001\\u001b[31m \\ud800 lone, \\udc00 lone; 😀 pair; \\ufffe; tab\tnew\nline é`);
    expect(failure.text).toContain('"lost": [');
    expect(cases[1].children).toEqual([]);
    expect(cases[2].children[0].name).toBe('error');
    const properties = Object.fromEntries(suite.children[0].children.map((property) => [property.attributes.name, property.attributes.value]));
    expect(properties.seed).toBe('42');
    expect(properties.replay).toBe(`faultline run --seed 42 --name ${xmlEscapedBack(hostile)}`);
  });

  it('says why when a checker gives counts but no reason, and keeps line breaks in element text', () => {
    const input = results({ checkers: { set: { valid: false, okCount: 375, lostCount: 10, unexpectedCount: 0 } }, errors: ['first\nsecond\r\nthird'] });
    const root = parseXml(junitXml(runSummary(directory, input, 2), input));
    const [setCase, runCase] = root.children[0].children.filter((child) => child.name === 'testcase');
    expect(setCase.children[0].attributes.message).toBe('lost 10');
    expect(runCase.children[0].text).toBe('first\nsecond\r\nthird');
    expect(runCase.children[0].attributes.message).toBe('first\nsecond\r\nthird');
  });

  it('refuses what is not well-formed (the strict parser in xml-well-formed.ts)', () => {
    expect(() => parseXml('<a>x & y</a>')).toThrow(/bare &/);
    expect(() => parseXml('<a b="<">x</a>')).toThrow(/< in an attribute/);
    expect(() => parseXml('<a>\u0001</a>')).toThrow(/not allowed/);
    expect(() => parseXml('<a><b></a>')).toThrow(/expected <\/b>/);
    expect(() => parseXml('<a>\ud800</a>')).toThrow(/not allowed/);
  });

  it('a run that did not finish is one <error> testcase naming why', () => {
    const input = results({ valid: 'unknown', checkers: {}, errors: ['setup: raftkv would not start <n1>'] });
    const root = parseXml(junitXml(runSummary(directory, input, 2), input));
    const testcase = root.children[0].children[1];
    expect(testcase.attributes.name).toBe('run');
    expect(testcase.children[0].name).toBe('error');
    expect(testcase.children[0].attributes.message).toBe('setup: raftkv would not start <n1>');
  });

  it('summary.json holds the fields of results.json, the faults of nemesis.jsonl and the paths', () => {
    const runDir = join(directory, 'run');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'nemesis.jsonl'), [
      JSON.stringify({ index: 3, process: 'nemesis', type: 'info', f: 'kill', value: {}, fault: 'kill', action: 'start', time: 2_000_000_000 }),
      JSON.stringify({ process: 'nemesis', type: 'info', f: 'backend-retry', value: {}, time: 5 }),
      JSON.stringify({ index: 9, process: 'nemesis', type: 'info', f: 'restart', value: {}, fault: 'kill', action: 'stop', time: 3_500_000_000 }),
    ].join('\n'));
    const input = results();
    writeCiOutputs(runDir, input, 1);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ name: input.name, seed: 42, verdict: 'invalid', exitCode: 1, runId: 'abc123', durationSeconds: 12.5 });
    expect(summary.ops).toEqual({ total: 1200, ok: 1000, fail: 150, info: 50 });
    expect(summary.checkers.set).toEqual({ verdict: 'invalid', reason: input.checkers.set.reason });
    expect(summary.checkers.stats).toEqual({ verdict: 'valid' });
    expect(Object.keys(summary.checkers)).toEqual(Object.keys(input.checkers));
    expect(summary.faults).toEqual([{ fault: 'kill', action: 'start', f: 'kill', atSeconds: 2 }, { fault: 'kill', action: 'stop', f: 'restart', atSeconds: 3.5 }]);
    expect(summary.paths.junit).toBe(join(runDir, 'junit.xml'));
    expect(summary.paths.results).toBe(join(runDir, 'results.json'));
    expect(() => parseXml(readFileSync(join(runDir, 'junit.xml'), 'utf8'))).not.toThrow();
  });
});

/** What XML can carry of a string: forbidden characters become the visible \uXXXX that xmlEscape writes. */
function xmlEscapedBack(text: string): string {
  return parseXmlText(xmlEscape(text));
}
function parseXmlText(escaped: string): string {
  return parseXml(`<t a="${escaped}"/>`).attributes.a;
}
