// Proves in headless Chromium that reports of real runs show their verdict, counterexample and charts, fetch nothing, run no injected script, and that `faultline serve` lists and serves them safely.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readJsonlHistoryFile } from '../src/history/jsonl.js';
import type { History, Op } from '../src/history/types.js';
import { checkLinearizable } from '../checkers/linearizable/index.js';
import { setChecker } from '../checkers/set/index.js';
import { writeReport } from './index.js';
import { createRunDirectory } from './bench/run-directory.js';
import { injectStaleRead, syntheticRegisterHistory } from './bench/synthetic-history.js';
import { startStoreServer, type StoreServer } from './serve.js';
import { describeWhen, itWhen } from '../src/testing/requirements.js';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Runs and screenshots stay here after the test, for a person to look at (replaced on every run). */
const root = resolve(process.env.FAULTLINE_REPORT_E2E_DIR ?? join(tmpdir(), 'faultline-report-e2e'));
const store = join(root, 'store');
/** The shared reference histories sit beside the repository; without them, seeded synthetic runs stand in. */
const generated = resolve('..', 'shared', 'histories', 'generated');
const haveReferenceHistories = existsSync(join(generated, 'ok_1k_k100.jsonl')) && existsSync(join(generated, 'bad_1k_k1.jsonl'));
const nodes = ['n1', 'n2', 'n3'];
const hostile = `<script>window.__xss='script'</script><img src=x onerror="window.__xss='img'">`;

interface PageWatch {
  requests: string[];
  consoleErrors: string[];
  dialogs: string[];
}

/** Opens a page and records every request other than the page itself, every console error and every dialog. */
async function openWatched(browser: Browser, url: string): Promise<{ page: Page; watch: PageWatch }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const watch: PageWatch = { requests: [], consoleErrors: [], dialogs: [] };
  page.on('request', (request) => {
    if (request.url() !== url) watch.requests.push(request.url());
  });
  page.on('console', (message) => {
    if (message.type() === 'error') watch.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => watch.consoleErrors.push(error.message));
  page.on('dialog', (dialog) => {
    watch.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  return { page, watch };
}

/** A register history whose written values, keys and errors carry markup, plus a set run's adds and a final read missing one. */
function hostileHistory(): History {
  const ops: Op[] = [];
  let time = 1_000_000;
  const push = (op: Omit<Op, 'index' | 'time'>): void => {
    ops.push({ ...op, index: ops.length, time } as Op);
    time += 1_500_000;
  };
  push({ process: 'nemesis', type: 'invoke', f: 'start-partition', value: { mode: hostile } });
  push({ process: 'nemesis', type: 'info', f: 'start-partition', value: { nodes: ['n1', hostile] } });
  for (let step = 0; step < 6; step++) {
    const element = `${hostile}#${step}`;
    push({ process: step % 2, type: 'invoke', f: 'add', value: element });
    push({ process: step % 2, type: 'ok', f: 'add', value: element });
  }
  // The final read misses element #5, so the set checker reports it lost: a hostile value in the lost list.
  const seen = [0, 1, 2, 3, 4].map((step) => `${hostile}#${step}`);
  push({ process: 2, type: 'invoke', f: 'read', value: null, final: true });
  push({ process: 2, type: 'ok', f: 'read', value: seen, final: true, error: hostile });
  push({ process: 'nemesis', type: 'invoke', f: 'stop-partition', value: null });
  push({ process: 'nemesis', type: 'info', f: 'stop-partition', value: hostile });
  return ops;
}

describeWhen('the reports browser e2e', { [`chromium (${chromiumPath}, apt-get install -y chromium)`]: existsSync(chromiumPath) })('report in a browser', () => {
  let browser: Browser;
  let validRun: string;
  let invalidRun: string;
  let hostileRun: string;

  beforeAll(async () => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(store, { recursive: true });
    const load = (name: string): History => {
      if (haveReferenceHistories) return readJsonlHistoryFile(join(generated, name)).history;
      const history = syntheticRegisterHistory({ operations: 1000, processes: 10, keys: name.includes('k100') ? 100 : 1, seed: 5 });
      return name.startsWith('bad') ? injectStaleRead(history)! : history;
    };
    // results.json comes from the real linearizability checker over the very history written.
    validRun = await createRunDirectory({ directory: join(store, 'register-ok', '20260102T030405Z'), name: 'register-ok', history: load('ok_1k_k100.jsonl'), nodes, seed: 11, faults: true, model: 'cas-register' });
    invalidRun = await createRunDirectory({ directory: join(store, 'register-bad', '20260102T040405Z'), name: 'register-bad', history: load('bad_1k_k1.jsonl'), nodes, seed: 12, faults: true, model: 'cas-register' });
    const history = hostileHistory();
    const setResult = await setChecker().check({}, history);
    hostileRun = await createRunDirectory({ directory: join(store, 'set-hostile', '20260102T050405Z'), name: 'set-hostile', history, nodes, seed: 13, results: { valid: setResult.valid, checkers: { set: setResult } } });
    appendFileSync(join(hostileRun, 'nodes', 'n1', 'n1.log'), `${hostile}\n`);
    for (const run of [validRun, invalidRun, hostileRun]) await writeReport(run);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, timeout: 120_000 });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('shows a valid run: verdict, charts, faults, logs; no request, no console error', async () => {
    const url = `file://${join(validRun, 'report.html')}`;
    const { page, watch } = await openWatched(browser, url);
    try {
      expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('valid');
      expect(await page.locator('.checker-row[data-checker="linearizable"] .verdict').textContent()).toBe('valid');
      expect(await page.locator('#counterexamples').count()).toBe(0);
      for (const chart of ['.latency-chart', '.throughput-chart', '.fault-timeline']) {
        const box = await page.locator(chart).boundingBox();
        expect(box?.width, chart).toBeGreaterThan(500);
      }
      expect(await page.locator('.latency-chart path.points-ok').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+h0/);
      expect(await page.locator('.fault-timeline .fault-bar').count()).toBe(2);
      expect(await page.locator('.fault-shade').count()).toBe(4);
      expect(await page.locator('#command').textContent()).toContain('faultline run');
      const logLink = await page.locator('.log a').first().getAttribute('href');
      expect(existsSync(join(validRun, logLink!))).toBe(true);
      await page.screenshot({ path: join(validRun, 'report.png'), fullPage: true });
      expect(watch.requests).toEqual([]);
      expect(watch.consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows an invalid run: the counterexample with the op that could not be placed, the prefix and the model state', async () => {
    const results = JSON.parse(readFileSync(join(invalidRun, 'results.json'), 'utf8'));
    const counterexample = results.checkers.linearizable.keys.find((key: { valid: unknown }) => key.valid === false).counterexample;
    const url = `file://${join(invalidRun, 'report.html')}`;
    const { page, watch } = await openWatched(browser, url);
    try {
      expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('invalid');
      const section = page.locator('.counterexample').first();
      expect(await section.getAttribute('data-key')).toBe(String(counterexample.key));
      const failing = section.locator('.op-bar.op-failing');
      expect(await failing.count()).toBe(counterexample.failedOps.length);
      expect((await failing.first().boundingBox())!.width).toBeGreaterThan(2);
      expect(await failing.first().locator('title').textContent()).toContain(`#${counterexample.failedOps[0].index}`);
      expect(await section.locator('.op-bar.op-concurrent').count()).toBeGreaterThan(0);
      expect(await section.locator('.op-bar.op-prefix').count()).toBeGreaterThan(0);
      expect(await section.locator('.explanation').textContent()).toBe(counterexample.explanation);
      expect(await section.locator('.model-states li').first().textContent()).toBe(counterexample.states[0]);
      expect(await section.locator('.prefix-ops li').count()).toBe(counterexample.prefix.length);
      expect(await section.textContent()).toContain(`Longest linearizable prefix: ${counterexample.prefixLength} ops`);
      expect(await page.locator('.latency-chart path.points-fail').count()).toBe(1);
      await page.screenshot({ path: join(invalidRun, 'report.png'), fullPage: true });
      await section.screenshot({ path: join(invalidRun, 'counterexample.png') });
      expect(watch.requests).toEqual([]);
      expect(watch.consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('renders <script> and <img onerror> from a history, results and logs as text: nothing runs, nothing loads', async () => {
    const url = `file://${join(hostileRun, 'report.html')}`;
    const { page, watch } = await openWatched(browser, url);
    try {
      expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('invalid');
      expect(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss)).toBeUndefined();
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.locator('script').count()).toBe(0);
      // The markup is on the page as text: in the lost elements, the fault table, the chart tooltips and the log.
      expect(await page.locator('.elements-lost code').first().textContent()).toBe(`${hostile}#5`);
      expect(await page.locator('.fault-events').textContent()).toContain(hostile);
      // Inside SVG too (the value is shown as JSON there, so its quotes appear escaped as \").
      expect(await page.locator('.fault-timeline title').first().textContent()).toContain(`<script>window.__xss='script'</script><img src=x onerror=`);
      expect(await page.locator('.log pre').first().textContent()).toContain(hostile);
      await page.screenshot({ path: join(hostileRun, 'report.png'), fullPage: true });
      expect(watch.dialogs).toEqual([]);
      expect(watch.requests).toEqual([]);
      expect(watch.consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  describe('faultline serve', () => {
    let server: StoreServer;

    beforeAll(async () => {
      // A run killed before it was checked: listed as unknown, its report built on request.
      const killed = join(store, 'register-killed', '20260102T060405Z');
      mkdirSync(killed, { recursive: true });
      writeFileSync(join(killed, 'history.jsonl'), readFileSync(join(validRun, 'history.jsonl')));
      symlinkSync('/etc', join(store, 'escape-link'));
      server = await startStoreServer({ store, port: 0 });
    });

    afterAll(async () => {
      await server?.close();
      rmSync(join(store, 'escape-link'), { force: true });
    });

    /** A raw GET, so paths reach the server exactly as written (fetch would normalise dot segments). */
    function rawGet(path: string): Promise<{ status: number; type: string; body: string }> {
      return new Promise((done, fail) => {
        const request = httpRequest({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => done({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
        });
        request.on('error', fail);
        request.setTimeout(60_000, () => request.destroy(new Error('timed out')));
        request.end();
      });
    }

    it('binds to 127.0.0.1 and lists every run newest first, filterable by verdict', async () => {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const { page, watch } = await openWatched(browser, server.url);
      try {
        const paths = await page.locator('tr.run').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-path')));
        // The killed run has no startedAt: it sorts by its folder's time, i.e. it is the newest.
        expect(paths[0]).toBe('register-killed/20260102T060405Z');
        expect(paths.slice(1)).toEqual(['set-hostile/20260102T050405Z', 'register-bad/20260102T040405Z', 'register-ok/20260102T030405Z']);
        expect(await page.locator('tr.run[data-path="register-ok/20260102T030405Z"]').getAttribute('data-verdict')).toBe('valid');
        await page.click('a[data-filter="invalid"]');
        await page.waitForURL(/verdict=invalid/);
        const invalid = await page.locator('tr.run').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-verdict')));
        expect(invalid).toEqual(['invalid', 'invalid']);
        await page.click('tr.run[data-path="register-bad/20260102T040405Z"] a.report-link');
        await page.waitForURL(/register-bad\/20260102T040405Z\/report\.html$/);
        expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('invalid');
        expect(await page.locator('.counterexample-chart').count()).toBe(1);
        expect(watch.requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
        expect(watch.consoleErrors).toEqual([]);
        await page.goto(server.url);
        await page.screenshot({ path: join(root, 'serve-index.png'), fullPage: true });
      } finally {
        await page.close();
      }
    });

    it('builds a missing report on request and serves logs as plain text', async () => {
      const report = await rawGet('/register-killed/20260102T060405Z/report.html');
      expect(report.status).toBe(200);
      expect(report.type).toContain('text/html');
      expect(report.body).toContain('data-verdict="unknown"');
      const log = await rawGet('/set-hostile/20260102T050405Z/nodes/n1/n1.log');
      expect(log.status).toBe(200);
      expect(log.type).toContain('text/plain');
      expect(log.body).toContain(hostile);
    });

    it('never serves a file outside the store', async () => {
      for (const path of ['/../../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', '/escape-link/passwd', '/register-ok/..%5c..%5cetc/passwd', '/%00']) {
        const response = await rawGet(path);
        expect(response.status, path).not.toBe(200);
        expect(response.body, path).not.toContain('root:');
      }
    });
  });

  describe('the faultline command', () => {
    const cli = resolve('dist/src/cli/main.js');
    const built = existsSync(cli);

    itWhen('the faultline report e2e', { [`the build (${cli})`]: built })('faultline report builds a report from a Jepsen history.edn, checked with the given model', async () => {
      // A minimal Jepsen-style history.edn (no :time, as in Knossos' data): 0 is written, then a read of 3 runs concurrently with a write of 4.
      writeFileSync(
        join(root, 'read-of-three.edn'),
        '[{:type :invoke, :f :write, :value 0, :process 0}\n {:type :ok, :f :write, :value 0, :process 0}\n {:type :invoke, :f :read, :value nil, :process 1}\n {:type :invoke, :f :write, :value 4, :process 2}\n {:type :ok, :f :read, :value 3, :process 1}\n {:type :ok, :f :write, :value 4, :process 2}]\n',
      );
      const out = join(root, 'read-of-three.html');
      const result = await runCommand(['report', join(root, 'read-of-three.edn'), '--model', 'cas-register', '--initial', '0', '--nil-reads', 'any', '--out', out]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe(out);
      const { page, watch } = await openWatched(browser, `file://${out}`);
      try {
        expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('invalid');
        expect(await page.locator('.op-bar.op-failing').count()).toBe(1);
        await page.screenshot({ path: join(root, 'read-of-three.png'), fullPage: true });
        expect(watch.requests).toEqual([]);
        expect(watch.consoleErrors).toEqual([]);
      } finally {
        await page.close();
      }
      const bad = await runCommand(['report', join(root, 'no-such-history.jsonl')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    });

    itWhen('the faultline serve e2e', { [`the build (${cli})`]: built })('faultline serve answers on 127.0.0.1 until stopped', async () => {
      const child = spawn(process.execPath, [cli, 'serve', '--store', store, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const url = await new Promise<string>((done, fail) => {
          let output = '';
          const timer = setTimeout(() => fail(new Error(`serve printed no URL: ${output}`)), 60_000);
          child.stdout!.on('data', (chunk: Buffer) => {
            output += chunk.toString();
            const match = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
            if (match) {
              clearTimeout(timer);
              done(match[1]);
            }
          });
          child.once('exit', () => fail(new Error(`serve exited: ${output}`)));
        });
        const response = await fetch(`${url}runs.json`);
        const runs = (await response.json()) as Array<{ path: string; verdict: string }>;
        expect(runs.find((run) => run.path === 'register-bad/20260102T040405Z')?.verdict).toBe('invalid');
      } finally {
        await stopChild(child);
      }
    });
  });
});

function runCommand(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve('dist/src/cli/main.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
