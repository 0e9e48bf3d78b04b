// `faultline shrink`: reruns a failing run with ever smaller fault schedules (same seed, so the same client ops)
// and keeps the smallest that still fails: ddmin over fault windows, then each kept window shortened.
import { createWriteStream, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { createRandom } from '../generator/index.js';
import { planSchedule, runTest } from '../runner/index.js';
import type { RunResults } from '../results.js';
import type { TestSpec } from '../spec/types.js';
import { RunFiles } from '../results.js';
import { ddmin } from './ddmin.js';
import { specFileText } from './spec-file.js';
import { describeWindows, faultWindows, readNemesisRecords, windowsToTimeline, type FaultWindow } from './windows.js';

export interface ShrinkOptions {
  /** Runs of each candidate schedule; it still fails if at least one is invalid (default 3). */
  attempts: number;
  /** Reruns allowed in all, the final count of reproductions included (default 30). */
  runsMax: number;
  /** Aborting it interrupts the rerun in progress (healed and torn down as a run is) and ends the shrink. */
  signal?: AbortSignal;
  /** Progress lines. */
  log(line: string): void;
}

export interface ShrinkOutcome {
  original: FaultWindow[];
  smallest: FaultWindow[];
  /** Attempts of the smallest schedule that were invalid, of `attemptsRun`. */
  reproduced: number;
  attemptsRun: number;
  runs: number;
  /** The spec file that replays the smallest schedule. */
  specPath: string;
  interrupted: boolean;
}

/** Shortest fault window worth trying: below it a fault barely lands (a kill and its restart need a moment). */
const windowSecondsMin = 0.5;
/** Client time after the last heal before the time limit: ops that see the healed cluster, then recovery. */
const tailSeconds = 1;

function readJson<T>(path: string, what: string): T {
  if (!existsSync(path)) throw new UserError(`${path}: no ${what} here (expected a run directory of faultline run)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    throw new UserError(`${path}:1: expected the JSON ${what} that faultline run writes`);
  }
}

/** The failing run's spec, its schedule as fault windows, and its verdict. */
export async function readFailingRun(runDir: string): Promise<{ spec: TestSpec; windows: FaultWindow[]; results: RunResults }> {
  const spec = readJson<TestSpec>(join(runDir, RunFiles.spec), 'spec.json');
  if (typeof spec.seed !== 'number' || !Array.isArray(spec.nemesis) || typeof spec.timeLimitSeconds !== 'number') {
    throw new UserError(`${join(runDir, RunFiles.spec)}:1: expected a spec with seed, nemesis and timeLimitSeconds`);
  }
  const results = readJson<RunResults>(join(runDir, RunFiles.results), 'results.json');
  const nemesisPath = join(runDir, RunFiles.nemesis);
  if (!existsSync(nemesisPath)) throw new UserError(`${nemesisPath}: no nemesis.jsonl here (expected a run directory of faultline run)`);
  let records;
  try {
    records = readNemesisRecords(nemesisPath);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  // The plan holds the exact ops the generator drew (seeds that aim a fault); the run's file holds what ran.
  let planned: ReturnType<typeof planSchedule> = [];
  if (spec.nemesis.length > 0) {
    const nemeses = await import('../../nemeses/index.js');
    const loader = (nemeses as { loadNemesisModules?: (names: readonly string[]) => Promise<void> }).loadNemesisModules;
    if (loader) await loader(spec.nemesis);
    const packages = nemeses.createNemesisPackages(spec.nemesis, spec.nemesisOptions);
    planned = planSchedule(spec, packages, createRandom(spec.seed).fork('nemesis-schedule'));
  }
  return { spec, windows: faultWindows(records, planned, spec.timeLimitSeconds), results };
}

/** The spec that replays `windows`: a fixed timeline, the time limit cut to just after the last heal. */
export function candidateSpec(spec: TestSpec, windows: readonly FaultWindow[], store: string): TestSpec {
  const lastStop = windows.reduce((latest, window) => Math.max(latest, window.stopSeconds), 0);
  const timeLimitSeconds = Math.max(1, Math.min(spec.timeLimitSeconds, Math.ceil((lastStop + tailSeconds) * 10) / 10));
  return {
    ...spec,
    store,
    leaveRunning: false,
    nemesisSchedule: 'timeline',
    nemesisTimeline: windowsToTimeline(windows),
    timeLimitSeconds,
  };
}

export async function shrinkRun(runDirGiven: string, options: ShrinkOptions): Promise<ShrinkOutcome> {
  // store/latest is a symlink that the next run moves: the shrink names the run itself.
  const runDir = existsSync(runDirGiven) ? realpathSync(runDirGiven) : resolve(runDirGiven);
  const { spec, windows: original, results } = await readFailingRun(runDir);
  if (results.valid !== false) {
    throw new UserError(`${runDir}: the run was ${results.valid === true ? 'valid' : 'unknown'}, not invalid: there is no failure to shrink`, ExitCode.badInput);
  }
  const shrinkDir = join(runDir, 'shrink');
  mkdirSync(shrinkDir, { recursive: true });
  const store = join(shrinkDir, 'store');
  // Each rerun's own output (its progress and log lines) goes here, so the shrink's lines stay readable.
  const rerunOutput = createWriteStream(join(shrinkDir, 'reruns.log'), { flags: 'a' });
  const log = options.log;
  log(`shrink: ${original.length} fault window${original.length === 1 ? '' : 's'}: ${describeWindows(original)}`);
  log(`shrink: seed ${spec.seed}; each candidate up to ${options.attempts} attempt${options.attempts === 1 ? '' : 's'}; at most ${options.runsMax} reruns; reruns in ${store}`);

  let runs = 0;
  let interrupted = false;
  /** Invalid attempts per candidate (by timeline), so the smallest one's reproductions count what was seen. */
  const seen = new Map<string, { invalid: number; attempts: number }>();
  const keyOf = (windows: readonly FaultWindow[]) => JSON.stringify(windowsToTimeline(windows));

  /** Up to `attemptsWanted` runs of the candidate, stopping at the first invalid one unless `countAll`. */
  const attempt = async (windows: readonly FaultWindow[], attemptsWanted: number, countAll: boolean): Promise<boolean | undefined> => {
    const record = seen.get(keyOf(windows)) ?? { invalid: 0, attempts: 0 };
    seen.set(keyOf(windows), record);
    const candidate = candidateSpec(spec, windows, store);
    while (record.attempts < attemptsWanted && (countAll || record.invalid === 0)) {
      if (options.signal?.aborted) {
        interrupted = true;
        return undefined;
      }
      if (runs >= options.runsMax) return record.invalid > 0 ? true : undefined;
      runs++;
      const outcome = await runTest(candidate, { signal: options.signal, output: rerunOutput as unknown as NodeJS.WriteStream, live: false });
      if (options.signal?.aborted) {
        interrupted = true;
        return undefined;
      }
      record.attempts++;
      if (outcome.results.valid === false) record.invalid++;
      const verdict = outcome.results.valid === false ? 'INVALID' : outcome.results.valid === true ? 'valid' : 'unknown';
      log(`shrink: run ${runs}/${options.runsMax}: ${windows.length} window${windows.length === 1 ? '' : 's'} (${describeWindows(windows)}), ${candidate.timeLimitSeconds} s: ${verdict} (${outcome.runDir})`);
    }
    return record.invalid > 0;
  };

  // ddmin over whole windows. The original fails by assumption (its run was invalid): it is not rerun.
  const reduced = await ddmin(original, (subset) => attempt(subset, options.attempts, false), { callsMax: Number.MAX_SAFE_INTEGER });
  let smallest = reduced.minimal;
  log(`shrink: ${smallest.length} of ${original.length} windows needed: ${describeWindows(smallest)}`);

  // Then each kept window shortened: halved while the failure stays, down to windowSecondsMin. Bounded: each
  // window is halved a few times at most (log2 of its length over the minimum) and runs are capped.
  for (let index = 0; index < smallest.length && !interrupted && runs < options.runsMax; index++) {
    for (let halving = 0; halving < 8 && !interrupted && runs < options.runsMax; halving++) {
      const window = smallest[index];
      const length = window.stopSeconds - window.startSeconds;
      if (length / 2 < windowSecondsMin) break;
      const shorter = { ...window, stopSeconds: window.startSeconds + length / 2 };
      const candidate = smallest.map((each, position) => (position === index ? shorter : each));
      const fails = await attempt(candidate, options.attempts, false);
      if (fails !== true) break;
      smallest = candidate;
    }
  }

  // How often the smallest schedule fails: its attempts so far, topped up to `attempts` (runs allowing).
  // The original schedule itself is never rerun: its one invalid run is its count.
  if (!interrupted && keyOf(smallest) !== keyOf(original)) await attempt(smallest, options.attempts, true);
  const record = seen.get(keyOf(smallest));
  const reproduced = record ? record.invalid : 1;
  const attemptsRun = record ? record.attempts : 1;

  const shrunk = candidateSpec(spec, smallest, spec.store);
  const specPath = join(runDir, 'shrunk.yaml');
  const header = [
    `Shrunk by faultline shrink from ${runDir} (seed ${spec.seed}).`,
    `${smallest.length} of ${original.length} fault windows; invalid in ${reproduced} of ${attemptsRun} attempts; ${runs} reruns.`,
    'Replay: faultline run shrunk.yaml',
  ].join('\n');
  writeFileSync(specPath, specFileText(shrunk, header));
  await new Promise<void>((done) => rerunOutput.end(done));
  return { original, smallest, reproduced, attemptsRun, runs, specPath, interrupted };
}
