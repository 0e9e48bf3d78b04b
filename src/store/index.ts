// The results store: store/<test-name>/<timestamp>/ per run, with store/latest (and <test-name>/latest) pointing
// at the newest, so a person and `faultline check`/`report` always find the last run.
import { appendFileSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { RunFiles } from '../results.js';

/** Jepsen's timestamp shape, safe in file names and sorting by time: 20261122T051308.123Z. */
export function runTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

/** Creates store/<test>/<timestamp>/ and its nodes/ folder; a clash (same millisecond) gets a suffix. */
export function createRunDirectory(storeRoot: string, testName: string, startedAt: Date): string {
  const base = join(resolve(storeRoot), testName, runTimestamp(startedAt));
  // Bounded: a handful of runs started in the same millisecond at most.
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = attempt === 0 ? base : `${base}-${attempt}`;
    try {
      mkdirSync(join(resolve(storeRoot), testName), { recursive: true });
      mkdirSync(candidate);
      mkdirSync(join(candidate, RunFiles.nodes));
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`store: could not create a run directory under ${base}`);
}

/** Points `link` at `target` atomically (a new symlink renamed over the old), with a relative target. */
function pointSymlink(link: string, target: string): void {
  const temporary = `${link}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  symlinkSync(relative(resolve(link, '..'), target), temporary);
  renameSync(temporary, link);
}

/** store/latest and store/<test>/latest to this run. */
export function updateLatest(storeRoot: string, runDir: string): void {
  pointSymlink(join(resolve(storeRoot), 'latest'), resolve(runDir));
  pointSymlink(join(resolve(runDir), '..', 'latest'), resolve(runDir));
}

/** Where store/latest points, resolved; undefined when there is none. */
export function latestRun(storeRoot: string): string | undefined {
  try {
    return resolve(storeRoot, readlinkSync(join(resolve(storeRoot), 'latest')));
  } catch {
    return undefined;
  }
}

export function writeJson(path: string, value: unknown): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temporary, path);
}

/** run.log: one timestamped line per event, appended synchronously so a killed run keeps what it logged. */
export class RunLog {
  constructor(readonly path: string) {}
  line(message: string): void {
    appendFileSync(this.path, `${new Date().toISOString()} ${message}\n`);
  }
}

export function runFile(runDir: string, name: keyof typeof RunFiles): string {
  return join(runDir, RunFiles[name]);
}
