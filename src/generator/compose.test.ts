// Proves composed fault schedules: by default a periodic or random schedule holds one fault at a time; with
// `nemesis-concurrent-faults: N` a window holds up to N faults of different kinds, each later one starting while
// the earlier ones are in force, all healed when the window closes, and the same seed gives the same schedule.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNemesisPackages } from '../../nemeses/index.js';
import { planSchedule } from '../runner/index.js';
import { loadSpec } from '../spec/index.js';
import { specToArgv } from '../spec/load.js';
import { createRandom, type ScheduledFault } from './index.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-compose-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const faults = ['partition', 'pause', 'clock', 'kill'] as const;

function schedule(flags: Record<string, string>, seed = 5): ScheduledFault[] {
  const spec = loadSpec({ flags: { nemesis: faults.join(','), nemesisInterval: '2', timeLimit: '60', seed: String(seed), ...flags } });
  return planSchedule(spec, createNemesisPackages(spec.nemesis), createRandom(spec.seed).fork('nemesis-schedule'));
}

/** Walks the schedule in time order: the largest number of faults in force at once, and starts made while others were. */
function overlap(events: readonly ScheduledFault[]): { most: number; startsDuringOthers: number; windows: string[][] } {
  const active = new Set<string>();
  let most = 0;
  let startsDuringOthers = 0;
  const windows: string[][] = [];
  for (const event of events) {
    if (event.action === 'start') {
      expect(active.has(event.fault), `${event.fault} started twice without a heal`).toBe(false);
      if (active.size === 0) windows.push([]);
      else startsDuringOthers++;
      windows[windows.length - 1].push(event.fault);
      active.add(event.fault);
      most = Math.max(most, active.size);
    } else {
      expect(active.has(event.fault), `${event.fault} healed without a start`).toBe(true);
      active.delete(event.fault);
    }
  }
  return { most, startsDuringOthers, windows };
}

describe('composed fault schedules', () => {
  for (const kind of ['periodic', 'random'] as const) {
    it(`${kind}: one fault at a time by default`, () => {
      const events = schedule({ nemesisSchedule: kind });
      expect(events.length).toBeGreaterThan(10);
      expect(overlap(events)).toMatchObject({ most: 1, startsDuringOthers: 0 });
    });
  }

  it('periodic with 3: every window holds 3 different faults, started one after another, healed at its end', () => {
    const events = schedule({ nemesisSchedule: 'periodic', nemesisConcurrentFaults: '3' });
    const { most, windows } = overlap(events);
    expect(most).toBe(3);
    expect(windows.length).toBeGreaterThan(5);
    for (const window of windows) expect(new Set(window).size).toBe(3);
    // Every fault kind takes part somewhere: the choice is drawn, not fixed.
    expect(new Set(windows.flat())).toEqual(new Set(faults));
    expect(events.map((event) => event.atNs)).toEqual([...events.map((event) => event.atNs)].sort((a, b) => a - b));
  });

  it('random with 3: windows hold 1 to 3 faults, some of them several', () => {
    const { most, windows } = overlap(schedule({ nemesisSchedule: 'random', nemesisConcurrentFaults: '3' }));
    expect(most).toBeLessThanOrEqual(3);
    expect(windows.some((window) => window.length >= 2)).toBe(true);
    expect(windows.some((window) => window.length === 1)).toBe(true);
  });

  it('the same seed gives the same composed schedule; another seed another', () => {
    const flags = { nemesisSchedule: 'random', nemesisConcurrentFaults: '3' };
    expect(schedule(flags, 11)).toEqual(schedule(flags, 11));
    expect(schedule(flags, 12)).not.toEqual(schedule(flags, 11));
  });

  it('reads nemesis-concurrent-faults from a spec file, replays it as a flag, and refuses a bad value with file and line', () => {
    const file = join(directory, 'composed.yaml');
    writeFileSync(file, 'nemesis: [partition, pause, clock]\nnemesis-concurrent-faults: 3\n');
    const spec = loadSpec({ file, flags: {} });
    expect(spec.nemesisConcurrentFaults).toBe(3);
    expect(specToArgv(spec).join(' ')).toContain('--nemesis-concurrent-faults 3');
    const bad = join(directory, 'bad.yaml');
    writeFileSync(bad, 'nemesis: [partition]\nnemesis-concurrent-faults: many\n');
    expect(() => loadSpec({ file: bad, flags: {} })).toThrow(/bad\.yaml:2.*nemesis-concurrent-faults/);
  });
});
