// Proves the store index lists runs newest first with their verdicts, escapes names taken from the disk, and confines paths to the store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listRuns, resolveInStore, storeIndexHtml } from './serve.js';

describe('store index', () => {
  let store: string;
  const hostileTest = `<img src=x onerror=alert(1)>`;

  beforeAll(() => {
    store = realpathSync(mkdtempSync(join(tmpdir(), 'faultline-report-serve-')));
    const write = (test: string, run: string, results: object | undefined): void => {
      const directory = join(store, test, run);
      mkdirSync(directory, { recursive: true });
      writeFileSync(join(directory, 'history.jsonl'), '');
      if (results) writeFileSync(join(directory, 'results.json'), JSON.stringify(results));
    };
    write('register', '20260101T000000Z', { name: 'register', startedAt: '2026-01-01T00:00:00.000Z', valid: true, target: 'raftkv', nemesis: ['partition'] });
    write('register', '20260103T000000Z', { name: 'register', startedAt: '2026-01-03T00:00:00.000Z', valid: false, target: 'raftkv', nemesis: ['kill'] });
    write(hostileTest, '20260102T000000Z', { name: hostileTest, startedAt: '2026-01-02T00:00:00.000Z', valid: 'unknown', target: '<script>alert(2)</script>', nemesis: [] });
    mkdirSync(join(store, 'not-a-run', 'empty'), { recursive: true });
    symlinkSync(join(store, 'register'), join(store, 'latest'));
  });

  afterAll(() => {
    rmSync(store, { recursive: true, force: true });
  });

  it('lists runs newest first with verdict, target and faults, skipping folders that are not runs and symlinks', () => {
    const runs = listRuns(store);
    expect(runs.map((run) => [run.path, run.verdict])).toEqual([
      ['register/20260103T000000Z', 'invalid'],
      [`${hostileTest}/20260102T000000Z`, 'unknown'],
      ['register/20260101T000000Z', 'valid'],
    ]);
    expect(runs[0].faults).toEqual(['kill']);
  });

  it('filters by verdict and escapes every name read from the store', () => {
    const html = storeIndexHtml(listRuns(store), 'unknown', store);
    expect(html.match(/<tr class="run"/g)).toHaveLength(1);
    expect(html).not.toMatch(/<img|<script/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // The link's path segment is percent-encoded, so the name cannot break out of the href either.
    expect(html).toContain('href="./%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/20260102T000000Z/report.html"');
  });

  it('resolves paths inside the store only', () => {
    expect(resolveInStore(store, '/register/20260101T000000Z/results.json')).toBe(join(store, 'register', '20260101T000000Z', 'results.json'));
    expect(resolveInStore(store, '/latest/20260101T000000Z/report.html')).toBe(join(store, 'register', '20260101T000000Z', 'report.html'));
    for (const path of ['/../etc/passwd', '/register/..%2F..%2Fetc', '/%2e%2e/x', '/a%5c..%5cb', '/%00', '/%E0%A4%A']) {
      expect(resolveInStore(store, path), path).toBeUndefined();
    }
    symlinkSync('/etc', join(store, 'outside'));
    expect(resolveInStore(store, '/outside/passwd')).toBeUndefined();
    expect(resolveInStore(store, '/outside/not-there/report.html')).toBeUndefined();
  });
});
