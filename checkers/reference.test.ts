// Proves the readers and the linearizability checker agree with every verdict in shared/histories/MANIFEST.tsv,
// by reading each listed file with the same reader `faultline check` uses and checking it with the row's model.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readHistoryFile } from '../src/history/read.js';
import { checkLinearizable } from './linearizable/index.js';
import { itWhen } from '../src/testing/requirements.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const historiesDirectory = resolve(repositoryRoot, '..', 'shared', 'histories');
const manifestPath = resolve(historiesDirectory, 'MANIFEST.tsv');
/** Generous: the reference histories take well under a second each; an 'unknown' verdict fails the row. */
const checkTimeoutMs = 60_000;
const historyExtensions = new Set(['.edn', '.jsonl', '.ndjson']);

interface ManifestRow {
  path: string;
  format: string;
  model: string;
  initialText: string;
  expected: 'valid' | 'invalid';
  events: number;
  line: number;
}

function readManifest(): ManifestRow[] {
  const lines = readFileSync(manifestPath, 'utf8').split('\n');
  const header = lines[0].split('\t');
  const column = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`${manifestPath}:1: expected a "${name}" column`);
    return index;
  };
  const columns = {
    path: column('path'),
    format: column('format'),
    model: column('model'),
    initial: column('initial'),
    expected: column('expected'),
    events: column('events'),
  };
  const rows: ManifestRow[] = [];
  for (let index = 1; index < lines.length; index++) {
    if (lines[index].trim() === '') continue;
    const cells = lines[index].split('\t');
    const expected = cells[columns.expected];
    if (expected !== 'valid' && expected !== 'invalid') {
      throw new Error(`${manifestPath}:${index + 1}: expected "valid" or "invalid", got "${expected}"`);
    }
    rows.push({
      path: cells[columns.path],
      format: cells[columns.format],
      model: cells[columns.model],
      initialText: cells[columns.initial],
      expected,
      events: Number(cells[columns.events]),
      line: index + 1,
    });
  }
  return rows;
}

/** The manifest's initial-state column: JSON (`0`, `""`, `{"x":0,"y":0}`), optionally "per key", or a bare word (`free`). */
function parseManifestInitial(text: string): unknown {
  const value = text.replace(/\s+per key$/, '').trim();
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Why a row cannot be checked as a history, or undefined when it can. */
function skipReason(row: ManifestRow): string | undefined {
  const extension = extname(row.path).toLowerCase();
  if (!historyExtensions.has(extension)) {
    return `not a history file (${extension || 'no extension'}; e.g. Knossos' HTML timeline rendering), listed with format ${row.format}`;
  }
  if (!existsSync(resolve(historiesDirectory, row.path))) return 'file missing';
  return undefined;
}

const rows = existsSync(manifestPath) ? readManifest() : [];

describe('reference histories (shared/histories/MANIFEST.tsv)', () => {
  it('finds the manifest and at least one row', () => {
    expect(existsSync(manifestPath), `${manifestPath} should exist`).toBe(true);
    expect(rows.length).toBeGreaterThan(0);
  });

  for (const row of rows) {
    const reason = skipReason(row);
    if (reason === 'file missing') {
      // A missing history is a missing dependency (shared/histories): skipped with the reason, failed under CI.
      itWhen(`the reference history ${row.path}`, { [resolve(historiesDirectory, row.path)]: false })(`${row.path} is ${row.expected}`, () => {});
      continue;
    }
    if (reason) {
      // Visible in the test report as skipped, with the reason in its name.
      it.skip(`${row.path}: skipped, ${reason}`, () => {});
      continue;
    }
    it(`${row.path} is ${row.expected} (${row.model}, initial ${row.initialText})`, async () => {
      const file = resolve(historiesDirectory, row.path);
      const read = readHistoryFile(file, { format: row.format === 'edn' ? 'edn' : 'jsonl' });
      expect(read.warnings).toEqual([]);
      expect(read.history.length, `events in ${row.path} (MANIFEST.tsv line ${row.line})`).toBe(row.events);
      const result = await checkLinearizable(read.history, {
        model: row.model,
        initial: parseManifestInitial(row.initialText),
        nilReadsAny: row.path.startsWith('knossos/'),
        timeoutMs: checkTimeoutMs,
        workers: 0,
      });
      expect(result.valid, JSON.stringify(result.keys.filter((key) => key.valid !== true).slice(0, 3))).toBe(
        row.expected === 'valid',
      );
    });
  }
});
