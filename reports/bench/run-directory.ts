// Builds run directories (store/<name>/<timestamp>/ layout) around a given history, for the report's tests and benchmark.
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { History, Op } from '../../src/history/types.js';
import { RunFiles, type RunResults } from '../../src/results.js';
import { mergeValidity, type Validity } from '../../checkers/types.js';
import { checkHistory } from '../index.js';

export interface RunDirectoryOptions {
  /** Folder to create (the run directory itself). */
  directory: string;
  name: string;
  history: History;
  nodes: readonly string[];
  seed: number;
  /** Inject a partition and a kill into the history's timeline (nemesis ops, process 'nemesis'). */
  faults?: boolean;
  /** Check the history with this model (the real checker) to produce results.json; otherwise `results` must be given. */
  model?: string;
  results?: Pick<RunResults, 'valid' | 'checkers'>;
  /** Lines written to each node's log. */
  logLines?: number;
}

/** Nemesis invoke/completion pairs at fixed fractions of the history's span: a partition, then a kill and restart. */
export function faultOps(startNs: number, endNs: number, nodes: readonly string[]): Op[] {
  const span = Math.max(endNs - startNs, 1);
  const at = (fraction: number): number => Math.round(startNs + span * fraction);
  const [first = 'n1', second = 'n2', ...rest] = nodes;
  const pair = (f: string, invokeValue: unknown, completionValue: unknown, fraction: number): Op[] => [
    { index: -1, process: 'nemesis', type: 'invoke', f, value: invokeValue, time: at(fraction) },
    { index: -1, process: 'nemesis', type: 'info', f, value: completionValue, time: at(fraction) + Math.round(span * 0.002) },
  ];
  return [
    ...pair('start-partition', { mode: 'halves' }, { grudge: { [first]: [second, ...rest], [second]: [first] } }, 0.2),
    ...pair('stop-partition', null, 'network healed', 0.45),
    ...pair('kill', { targets: 'one' }, { nodes: [second] }, 0.6),
    ...pair('restart', { targets: 'all' }, { nodes: [second] }, 0.8),
  ];
}

/** Merges nemesis ops into a client history by time and renumbers every op's index. */
export function withFaults(history: History, nodes: readonly string[]): History {
  if (history.length === 0) return history;
  const faults = faultOps(history[0].time, history[history.length - 1].time, nodes);
  const merged: History = [];
  let next = 0;
  for (const op of history) {
    while (next < faults.length && faults[next].time <= op.time) merged.push(faults[next++]);
    merged.push(op);
  }
  while (next < faults.length) merged.push(faults[next++]);
  return merged.map((op, index) => ({ ...op, index }));
}

async function writeJsonl(path: string, ops: Iterable<Op>): Promise<void> {
  const stream = createWriteStream(path);
  let batch: string[] = [];
  for (const op of ops) {
    batch.push(JSON.stringify(op));
    if (batch.length >= 10_000) {
      if (!stream.write(`${batch.join('\n')}\n`)) await new Promise<void>((done) => stream.once('drain', () => done()));
      batch = [];
    }
  }
  if (batch.length) stream.write(`${batch.join('\n')}\n`);
  await new Promise<void>((done, fail) => stream.end((error?: Error | null) => (error ? fail(error) : done())));
}

/** Writes spec.json, history.jsonl, nemesis.jsonl, results.json and nodes/<node>/<node>.log; returns the directory. */
export async function createRunDirectory(options: RunDirectoryOptions): Promise<string> {
  const { directory, nodes } = options;
  mkdirSync(directory, { recursive: true });
  const history = options.faults ? withFaults(options.history, nodes) : options.history.map((op, index) => ({ ...op, index }));
  await writeJsonl(join(directory, RunFiles.history), history);
  await writeJsonl(join(directory, RunFiles.nemesis), history.filter((op) => op.process === 'nemesis' && op.type !== 'invoke'));
  const spec = { name: options.name, target: 'raftkv', backend: 'local', workload: 'register', nodes: nodes.length, nemesis: options.faults ? ['partition', 'kill'] : [], seed: options.seed };
  writeFileSync(join(directory, RunFiles.spec), JSON.stringify(spec, null, 2));
  let verdict: Pick<RunResults, 'valid' | 'checkers'>;
  if (options.results) verdict = options.results;
  else {
    const checked = await checkHistory(history, { model: options.model ?? 'cas-register' });
    verdict = { valid: checked.results.valid, checkers: checked.results.checkers };
  }
  const stats = { ops: 0, ok: 0, fail: 0, info: 0 };
  for (const op of history) {
    if (op.process === 'nemesis') continue;
    if (op.type === 'invoke') stats.ops += 1;
    else stats[op.type] += 1;
  }
  let valid: Validity = true;
  for (const result of Object.values(verdict.checkers)) valid = mergeValidity(valid, result.valid);
  const started = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
  const results: RunResults = {
    name: options.name,
    runId: '20260102T030405Z',
    startedAt: started.toISOString(),
    finishedAt: new Date(started.getTime() + Math.round((history.at(-1)?.time ?? 0) / 1e6)).toISOString(),
    seed: options.seed,
    command: ['faultline', 'run', '--target', 'raftkv', '--workload', 'register', '--nemesis', 'partition,kill', '--seed', String(options.seed)],
    versions: { faultline: '0.1.0', node: process.version, raftkv: '0.1.0' },
    target: 'raftkv',
    backend: 'local',
    workload: 'register',
    nemesis: options.faults ? ['partition', 'kill'] : [],
    nodes: [...nodes],
    valid: Object.keys(verdict.checkers).length ? valid : verdict.valid,
    checkers: verdict.checkers,
    stats,
    errors: [],
  };
  writeFileSync(join(directory, RunFiles.results), JSON.stringify(results, null, 2));
  for (const node of nodes) {
    const folder = join(directory, RunFiles.nodes, node);
    mkdirSync(folder, { recursive: true });
    const lines: string[] = [];
    for (let line = 0; line < (options.logLines ?? 200); line++) lines.push(`2026-01-02T03:04:${String(5 + (line % 50)).padStart(2, '0')}Z ${node} term=${1 + Math.floor(line / 40)} applied index ${line}`);
    writeFileSync(join(folder, `${node}.log`), `${lines.join('\n')}\n`);
  }
  return directory;
}
