// Proves readHistoryFile picks the right reader by extension or content, reads run directories, and names
// what it expected for missing or unrecognisable files; checked on real files in a temporary directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHistoryFile } from './read.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-read-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const jsonl = '{"process":0,"type":"invoke","f":"read","value":null,"time":1}\n{"process":0,"type":"ok","f":"read","value":null,"time":2}\n';
const edn = '; a Jepsen history\n[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok, :f :read, :value nil}]\n';

function write(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

describe('readHistoryFile', () => {
  it.each([
    ['by extension: .jsonl', 'a.jsonl', jsonl, 'jsonl'],
    ['by extension: .edn', 'a.edn', edn, 'edn'],
    ['by content: JSONL without extension', 'history', jsonl, 'jsonl'],
    ['by content: EDN without extension', 'history.txt', edn, 'edn'],
  ])('chooses the reader %s', (_, name, text, format) => {
    const result = readHistoryFile(write(name, text));
    expect(result.format).toBe(format);
    expect(result.history.map((op) => [op.index, op.type, op.f, op.value])).toEqual([
      [0, 'invoke', 'read', null],
      [1, 'ok', 'read', null],
    ]);
  });

  it('reads the history.jsonl of a run directory and says so', () => {
    const run = join(directory, 'run-1');
    mkdirSync(run);
    writeFileSync(join(run, 'history.jsonl'), jsonl);
    const result = readHistoryFile(run);
    expect(result.runDirectory).toBe(run);
    expect(result.file).toBe(join(run, 'history.jsonl'));
    expect(result.history).toHaveLength(2);
  });

  it('warns when a history holds no operations', () => {
    const path = write('nothing.jsonl', '');
    expect(readHistoryFile(path)).toMatchObject({ history: [], warnings: [`${path}: the history holds no operations`] });
  });

  it('names what it expected for a missing file, an empty run directory and an unknown format', () => {
    expect(() => readHistoryFile(join(directory, 'absent.jsonl'))).toThrow(/absent\.jsonl: no such history file or run directory$/);
    const empty = join(directory, 'empty-run');
    mkdirSync(empty);
    expect(() => readHistoryFile(empty)).toThrow(/empty-run: expected a run directory containing history\.jsonl$/);
    expect(() => readHistoryFile(write('page.html', '<html></html>'))).toThrow(/page\.html:1: expected a history in JSONL/);
    expect(() => readHistoryFile(write('blank.txt', '  \n'))).toThrow(/blank\.txt:1: expected a history \(JSONL or EDN\), got an empty file$/);
  });
});
