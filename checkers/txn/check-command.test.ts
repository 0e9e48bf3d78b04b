// Proves `faultline check --model list-append|rw-register [--consistency M]` end to end on the built CLI: Jepsen
// EDN and JSONL txn histories, run directories, exit codes, and one-line messages for bad input.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { alone, historyOf } from './test-support/build.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const directory = mkdtempSync(join(tmpdir(), 'faultline-txn-check-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function check(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, 'check', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeFile(name: string, text: string): string {
  const path = join(directory, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const g1cEdn = `[{:type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]], :process 0, :time 10, :index 0}
{:type :invoke, :f :txn, :value [[:append :y 1] [:r :x nil]], :process 1, :time 11, :index 1}
{:type :ok, :f :txn, :value [[:append :x 1] [:r :y [1]]], :process 0, :time 20, :index 2}
{:type :ok, :f :txn, :value [[:append :y 1] [:r :x [1]]], :process 1, :time 21, :index 3}
{:type :info, :f :start-partition, :value nil, :process :nemesis, :time 22, :index 4}]`;

describe('faultline check on transactional histories', () => {
  it('Jepsen EDN with keyword micro-ops: G1c is invalid under read committed, allowed under read uncommitted', () => {
    const file = writeFile('g1c.edn', g1cEdn);
    const strict = check(file, '--model', 'list-append', '--consistency', 'read-committed');
    expect(strict.status, strict.stderr).toBe(1);
    expect(strict.stdout).toMatch(/G1c: 1 \(forbidden\)/);
    expect(strict.stdout).toMatch(/-wr-> T3 read key "x" ending in 1, which T2 appended/);
    const weak = check(file, '--model', 'list-append', '--consistency', 'read-uncommitted');
    expect(weak.status, weak.stderr).toBe(0);
  });

  it('JSONL, JSON output, and a run directory whose spec.json names the workload', () => {
    const history = historyOf(alone(0, [['append', 'x', 1]]), alone(1, [['r', 'x', []]]), alone(2, [['r', 'x', [1]]]));
    const text = history.map((op) => JSON.stringify(op)).join('\n') + '\n';
    const file = writeFile('stale.jsonl', text);
    const serializable = check(file, '--model', 'list-append', '--consistency', 'serializable', '--json');
    expect(serializable.status, serializable.stderr).toBe(0);
    expect(JSON.parse(serializable.stdout)).toMatchObject({ valid: true, consistency: 'serializable' });
    writeFile('run/history.jsonl', text);
    writeFile('run/spec.json', JSON.stringify({ workload: 'list-append' }));
    const run = check(join(directory, 'run'), '--json');
    expect(run.status, run.stderr).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ valid: false, consistency: 'strict-serializable', prohibited: ['G-single-realtime'] });
  });

  it('bad input: one line naming the file and what was expected, exit 2', () => {
    const file = writeFile('g1c-copy.edn', g1cEdn);
    const badModel = check(file, '--model', 'list-append', '--consistency', 'linearizable-ish');
    expect(badModel.status).toBe(2);
    expect(badModel.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(badModel.stderr).toMatch(/--consistency: expected one of read-uncommitted, .*got 'linearizable-ish'/);
    const badRead = writeFile('bad.jsonl', '{"process":0,"type":"invoke","f":"txn","value":[["r","x",null]]}\n{"process":0,"type":"ok","f":"txn","value":[["r","x",5]]}\n');
    const result = check(badRead, '--model', 'list-append');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/bad\.jsonl: op 1: expected a list-append read to return a list, got 5/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
