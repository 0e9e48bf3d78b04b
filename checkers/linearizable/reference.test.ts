// Proves the checker against histories with known verdicts: every MANIFEST.tsv row under the shared
// reference histories (Knossos, Porcupine, generated) is read and checked, and its verdict must match.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { readHistoryFile } from '../../src/history/read.js';
import { checkLinearizable } from './index.js';
import { describeWhen } from '../../src/testing/requirements.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const historiesDirectory = process.env.FAULTLINE_REFERENCE_HISTORIES ?? resolve(repositoryRoot, '../shared/histories');
const manifestPath = join(historiesDirectory, 'MANIFEST.tsv');

interface ManifestRow {
  path: string;
  format: string;
  model: string;
  initial: unknown;
  expected: 'valid' | 'invalid';
  events: number;
}

/** MANIFEST's `initial` column: JSON (0, {"x":0}), a bare word (free), or `"" per key`. */
function parseInitial(text: string): unknown {
  const raw = text.replace(/ per key$/, '');
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function readManifest(): ManifestRow[] {
  const [header, ...lines] = readFileSync(manifestPath, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const columns = header.split('\t');
  return lines.map((line) => {
    const cells = line.split('\t');
    const cell = (name: string): string => cells[columns.indexOf(name)] ?? '';
    return {
      path: cell('path'),
      format: cell('format'),
      model: cell('model'),
      initial: parseInitial(cell('initial')),
      expected: cell('expected') as 'valid' | 'invalid',
      events: Number(cell('events')),
    };
  });
}

const rows = existsSync(manifestPath) ? readManifest() : [];
// A row with no events (the manifest lists an HTML rendering of one history) has nothing to check.
const checkable = rows.filter((row) => row.events > 0 && /\.(edn|jsonl)$/.test(row.path));

describeWhen('the reference histories check', { [`the shared histories (${manifestPath})`]: rows.length > 0 })(`reference histories (${manifestPath})`, () => {
  it('the manifest lists histories', () => {
    expect(checkable.length).toBeGreaterThan(100);
  });
  for (const row of checkable) {
    it(`${row.path} is ${row.expected}`, async () => {
      const { history } = readHistoryFile(join(historiesDirectory, row.path), { format: row.format as 'edn' | 'jsonl' });
      const result = await checkLinearizable(history, {
        model: row.model,
        initial: row.initial,
        // Knossos' own data follows its rule that a read completing with nil matches any value.
        nilReadsAny: row.path.startsWith('knossos/'),
        timeoutMs: 60_000,
        workers: 0,
      });
      const verdict = result.valid === true ? 'valid' : result.valid === false ? 'invalid' : 'unknown';
      expect({ verdict, reasons: result.keys.filter((key) => key.reason).map((key) => key.reason) }).toEqual({ verdict: row.expected, reasons: verdict === 'unknown' ? ['(none)'] : expect.any(Array) });
      if (row.expected === 'invalid') {
        const failed = result.keys.find((key) => key.valid === false);
        expect(failed?.counterexample?.failedOps.length).toBeGreaterThan(0);
      }
    });
  }
});
