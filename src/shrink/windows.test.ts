// Proves a run's nemesis.jsonl becomes the right fault windows (planned ops preferred, unhealed ones closed at
// the time limit, backend events skipped), and that a shrunk spec file loads back into the same timeline.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScheduledFault } from '../generator/schedule.js';
import { defaultSpec, type TestSpec } from '../spec/types.js';
import { parseSpecText, validateSpec } from '../spec/load.js';
import { candidateSpec, shrinkRun } from './index.js';
import { specFileText } from './spec-file.js';
import { faultWindows, readNemesisRecords } from './windows.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-shrink-unit-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const lines = [
  { process: 'nemesis', type: 'info', f: 'backend-reconnect', value: {}, time: 100 },
  { index: 5, process: 'nemesis', type: 'info', f: 'kill', value: { targets: 'one', nodes: ['n2'] }, fault: 'kill', action: 'start', time: 2.1e9 },
  { index: 9, process: 'nemesis', type: 'info', f: 'start-partition', value: { mode: 'halves' }, fault: 'partition', action: 'start', time: 2.5e9 },
  { index: 12, process: 'nemesis', type: 'info', f: 'restart', value: { nodes: ['n2'] }, fault: 'kill', action: 'stop', time: 4.3e9 },
  // The final heal, after the 8 s time limit.
  { index: 40, process: 'nemesis', type: 'info', f: 'stop-partition', value: 'network healed', fault: 'partition', action: 'stop', time: 9.2e9 },
];

describe('fault windows of a run', () => {
  const path = join(directory, 'nemesis.jsonl');
  writeFileSync(path, `${lines.map((line) => JSON.stringify(line)).join('\n')}\n`);
  const planned: ScheduledFault[] = [
    { atNs: 2e9, fault: 'kill', action: 'start', op: { f: 'kill', value: { targets: 'one', seed: 77 } } },
    { atNs: 4e9, fault: 'kill', action: 'stop', op: { f: 'restart', value: null } },
  ];

  it('pairs starts with stops, prefers the plan, closes a late heal at the time limit', () => {
    const windows = faultWindows(readNemesisRecords(path), planned, 8);
    expect(windows).toEqual([
      { fault: 'kill', startSeconds: 2, stopSeconds: 4, start: { f: 'kill', value: { targets: 'one', seed: 77 } }, stop: { f: 'restart', value: null } },
      { fault: 'partition', startSeconds: 2.5, stopSeconds: 8, start: { f: 'start-partition', value: { mode: 'halves' } }, stop: { f: 'stop-partition', value: 'network healed' } },
    ]);
  });

  it('refuses a line that is not JSON with file and line', () => {
    const bad = join(directory, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify(lines[1])}\n{not json\n`);
    expect(() => readNemesisRecords(bad)).toThrow(`${bad}:2: expected one JSON object per line`);
  });

  it('writes a spec file that loads back into the same timeline, time limit cut after the last heal', () => {
    const spec: TestSpec = { ...defaultSpec, name: 'unit-shrink', seed: 42, nemesis: ['kill', 'partition'], bug: 'lazy-fsync', targetOptions: { bug: 'lazy-fsync' } };
    const windows = faultWindows(readNemesisRecords(path), planned, 8).slice(0, 1);
    const candidate = candidateSpec(spec, windows, 'store');
    expect(candidate.timeLimitSeconds).toBe(5);
    const loaded = validateSpec(parseSpecText(specFileText(candidate, 'a header\nof two lines'), 'shrunk.yaml'));
    expect(loaded.nemesisTimeline).toEqual(candidate.nemesisTimeline);
    expect(loaded.nemesisTimeline).toEqual([
      { atSeconds: 2, fault: 'kill', action: 'start', f: 'kill', value: { targets: 'one', seed: 77 } },
      { atSeconds: 4, fault: 'kill', action: 'stop', f: 'restart', value: null },
    ]);
    expect({ ...loaded, nemesisTimeline: undefined }).toEqual({ ...candidate, nemesisTimeline: undefined });
  });

  it('refuses to shrink a run that was not invalid', async () => {
    const runDir = join(directory, 'valid-run');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(runDir);
    writeFileSync(join(runDir, 'spec.json'), JSON.stringify({ ...defaultSpec, name: 'x', seed: 1, nemesis: [] }));
    writeFileSync(join(runDir, 'results.json'), JSON.stringify({ valid: true, checkers: {} }));
    writeFileSync(join(runDir, 'nemesis.jsonl'), '');
    await expect(shrinkRun(runDir, { attempts: 1, runsMax: 1, log: () => {} })).rejects.toThrow(/the run was valid, not invalid/);
  });
});
