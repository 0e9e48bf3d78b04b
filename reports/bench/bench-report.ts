// `npm run bench:report`: builds a synthetic 1M-op run directory and times writeReport on it; prints JSON.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport } from '../index.js';
import { createRunDirectory } from './run-directory.js';
import { syntheticRegisterHistory } from './synthetic-history.js';

const operations = Number(process.env.FAULTLINE_BENCH_OPS ?? 1_000_000);
const root = mkdtempSync(join(tmpdir(), 'faultline-bench-report-'));
/** Generation in its own function, so the generated ops are garbage before the timed part starts. */
async function prepare(): Promise<{ directory: string; events: number }> {
  const history = syntheticRegisterHistory({ operations, processes: 50, keys: 100, seed: 7 });
  const directory = await createRunDirectory({
    directory: join(root, 'bench-register', '20260102T030405Z'),
    name: 'bench-register',
    history,
    nodes: ['n1', 'n2', 'n3', 'n4', 'n5'],
    seed: 7,
    faults: true,
    // Checking is not what this measures (bench:check does): the verdict is recorded as not checked.
    results: { valid: 'unknown', checkers: { linearizable: { valid: 'unknown', reason: 'not checked by the report benchmark' } } },
  });
  return { directory, events: history.length + 8 };
}

try {
  const { directory, events } = await prepare();
  const historyBytes = statSync(join(directory, 'history.jsonl')).size;
  const started = performance.now();
  const reportPath = await writeReport(directory);
  const ms = Math.round(performance.now() - started);
  const bytes = statSync(reportPath).size;
  process.stdout.write(`${JSON.stringify({ case: 'report', ops: operations, events, historyBytes, bytes, ms, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
