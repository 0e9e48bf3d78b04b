// Proves that `faultline check` on a big JSONL file really takes the parallel path (worker threads
// that each parse and check their own keys) and prints exactly what the one-thread path prints, by
// running the built CLI both ways on a generated history with stale reads injected.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { generateRegisterHistory } from '../bench/generate-history.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const directory = mkdtempSync(join(tmpdir(), 'faultline-file-e2e-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function runCheck(file: string, extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'check', file, '--model', 'cas-register', '--initial', 'null', '--json', ...extra], {
    env: { ...process.env, FAULTLINE_BENCH: '1' },
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

it('the parallel path gives the one-thread answer, counterexamples included', () => {
  expect(existsSync(cli), `${cli}: build first (npm run build)`).toBe(true);
  const lines: string[] = [];
  // Big enough (over 8 MiB) for the CLI to choose worker threads on its own.
  generateRegisterHistory({ ops: 50_000, keys: 20, processes: 10, seed: 11, infoRate: 0.03, failRate: 0.01, staleReads: 4 }, (op) => lines.push(JSON.stringify(op)));
  const file = join(directory, 'history.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');

  const parallel = runCheck(file, ['--workers', '2']);
  const single = runCheck(file, ['--workers', '0']);
  expect(parallel.stderr).toContain('"parallel":true');
  expect(single.stderr).toContain('"parallel":false');
  expect(single.status).toBe(1);
  expect(parallel.status).toBe(single.status);
  expect(JSON.parse(parallel.stdout)).toEqual(JSON.parse(single.stdout));
});
