// Proves `faultline check` applies the stats rule through the built CLI: an empty history, one where every op
// failed, and one whose reads never succeeded exit 3 (unknown) with the reason, in text, in JSON, on the parallel
// file path and for the transactional models alike; an all-fail cas does not count against a cas-register
// history; invalid stays 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const directory = mkdtempSync(join(tmpdir(), 'faultline-check-verdict-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

beforeAll(() => {
  expect(existsSync(cli), `${cli} missing: run npm run build first`).toBe(true);
});

function check(...args: string[]) {
  // FAULTLINE_BENCH makes the command say on stderr whether it took the parallel file path.
  const result = spawnSync(process.execPath, [cli, 'check', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, FAULTLINE_BENCH: '1' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

type Row = [number, 'invoke' | 'ok' | 'fail' | 'info', string, unknown];

/** A JSONL history in the writer's field order, one key. */
function jsonl(name: string, rows: Row[]): string {
  const path = join(directory, name);
  writeFileSync(path, rows.map(([process, type, f, value], index) => `${JSON.stringify({ process, type, f, key: 'k', value, time: index * 1000, index })}\n`).join(''));
  return path;
}

const allFailed: Row[] = [
  [0, 'invoke', 'write', 1], [0, 'fail', 'write', 1],
  [1, 'invoke', 'read', null], [1, 'fail', 'read', null],
  [2, 'invoke', 'cas', [1, 2]], [2, 'info', 'cas', [1, 2]],
];

describe('faultline check: the stats rule', () => {
  it('exits 3 on an empty history, saying it holds no client operations', () => {
    const path = join(directory, 'empty.jsonl');
    writeFileSync(path, '');
    const result = check(path, '--model', 'cas-register');
    expect(result.status, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/^stats: UNKNOWN: the history holds no client operations/m);
    expect(result.stdout).toMatch(/^overall: UNKNOWN$/m);
  });

  it('exits 3 when every op failed, with the counts, in text and in JSON', () => {
    const path = jsonl('all-failed.jsonl', allFailed);
    const text = check(path, '--model', 'cas-register');
    expect(text.status, text.stderr).toBe(3);
    expect(text.stdout).toMatch(/^key "k": valid/m);
    expect(text.stdout).toMatch(/^stats: UNKNOWN: none of its 3 client operations succeeded/m);
    const json = check(path, '--model', 'cas-register', '--json');
    expect(json.status, json.stderr).toBe(3);
    const parsed = JSON.parse(json.stdout) as { valid: unknown; stats: { valid: unknown; reason: string } };
    expect(parsed.valid).toBe('unknown');
    expect(parsed.stats).toMatchObject({ valid: 'unknown', reason: expect.stringMatching(/none of its 3/) });
  });

  it('exits 3 on the parallel file path too (--workers 2)', () => {
    const result = check(jsonl('all-failed-parallel.jsonl', allFailed), '--model', 'cas-register', '--workers', '2');
    expect(result.status, result.stderr).toBe(3);
    expect(result.stderr).toContain('"parallel":true');
    expect(result.stdout).toMatch(/^stats: UNKNOWN: none of its 3 client operations succeeded/m);
  });

  it('exits 3 when writes succeeded but no read ever did, naming read', () => {
    const result = check(jsonl('no-read.jsonl', [
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'read', null], [1, 'info', 'read', null],
    ]), '--model', 'cas-register');
    expect(result.status, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/no read ever succeeded \(0 ok of 1: 0 fail, 1 info\)/);
  });

  it('exits 3 on a Jepsen EDN history where every op failed', () => {
    const path = join(directory, 'all-failed.edn');
    writeFileSync(path, '{:type :invoke, :f :write, :value 1, :process 0, :time 1}\n{:type :fail, :f :write, :value 1, :process 0, :time 2}\n');
    const result = check(path, '--model', 'cas-register', '--initial', '0');
    expect(result.status, result.stderr).toBe(3);
  });

  it('exits 0 when reads and writes succeeded though every cas failed (a cas may miss every time)', () => {
    const result = check(jsonl('cas-missed.jsonl', [
      [0, 'invoke', 'write', 1], [0, 'ok', 'write', 1],
      [1, 'invoke', 'cas', [5, 6]], [1, 'fail', 'cas', [5, 6]],
      [2, 'invoke', 'read', null], [2, 'ok', 'read', 1],
    ]), '--model', 'cas-register', '--initial', 'null');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/^stats:/m);
  });

  it('exits 3 on an empty or all-fail list-append history (the transactional checker alone calls it valid)', () => {
    const empty = join(directory, 'empty-txn.jsonl');
    writeFileSync(empty, '');
    const emptyResult = check(empty, '--model', 'list-append');
    expect(emptyResult.status, emptyResult.stderr).toBe(3);
    expect(emptyResult.stdout).toMatch(/^note: stats: the history holds no client operations/m);
    expect(emptyResult.stdout).toMatch(/^overall: UNKNOWN$/m);
    const failed = join(directory, 'failed-txn.jsonl');
    writeFileSync(failed, '{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]],"time":0}\n{"process":0,"type":"fail","f":"txn","value":[["append",1,1]],"time":1}\n');
    const json = check(failed, '--model', 'list-append', '--json');
    expect(json.status, json.stderr).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: 'unknown', stats: { valid: 'unknown', reason: expect.stringMatching(/none of its 1 client operation succeeded/) } });
  });

  it('exits 1, not 3, on an invalid history whose writes all failed (false beats unknown)', () => {
    const result = check(jsonl('invalid-no-write.jsonl', [
      [0, 'invoke', 'write', 1], [0, 'fail', 'write', 1],
      [1, 'invoke', 'read', null], [1, 'ok', 'read', 7],
    ]), '--model', 'cas-register', '--initial', 'null');
    expect(result.status, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^overall: INVALID$/m);
  });
});
