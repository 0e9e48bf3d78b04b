// The store browser behind `faultline serve`: a page listing every run, and the run directories' files, over local HTTP.
import { createReadStream, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { RunFiles, type RunResults } from '../src/results.js';
import { displayText, escapeHtml, relativeHref, truncateText } from './escape.js';
import { writeReport } from './index.js';

export type VerdictName = 'valid' | 'invalid' | 'unknown';

/** One run of the store as the index lists it. */
export interface RunEntry {
  name: string;
  /** The run's folder name under its test (a timestamp). */
  run: string;
  /** Path from the store root, e.g. "raftkv-register/20260102T030405Z". */
  path: string;
  startedAt: string | undefined;
  target: string | undefined;
  faults: string[];
  verdict: VerdictName;
  hasReport: boolean;
  hasResults: boolean;
}

/** Limits on what one listing reads, so a huge store cannot stall the page. */
const testsListedMax = 2000;
const runsListedMax = 10_000;
const resultsBytesMax = 8 << 20;

function verdictOf(valid: unknown): VerdictName {
  return valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
}

function readResults(path: string): Partial<RunResults> | undefined {
  try {
    if (statSync(path).size > resultsBytesMax) return undefined;
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Partial<RunResults>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every run under store/<test>/<run>/ (a folder holding results.json or history.jsonl), newest first. */
export function listRuns(store: string): RunEntry[] {
  const runs: RunEntry[] = [];
  if (!existsSync(store)) return runs;
  const tests = readdirSync(store, { withFileTypes: true }).filter((entry) => entry.isDirectory()).slice(0, testsListedMax);
  for (const test of tests) {
    let folders: string[];
    try {
      folders = readdirSync(join(store, test.name), { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch {
      continue;
    }
    for (const run of folders) {
      if (runs.length >= runsListedMax) break;
      const directory = join(store, test.name, run);
      const hasResults = existsSync(join(directory, RunFiles.results));
      if (!hasResults && !existsSync(join(directory, RunFiles.history))) continue;
      const results = hasResults ? readResults(join(directory, RunFiles.results)) : undefined;
      let startedAt = typeof results?.startedAt === 'string' ? results.startedAt : undefined;
      if (!startedAt) {
        try {
          startedAt = statSync(directory).mtime.toISOString();
        } catch {
          startedAt = undefined;
        }
      }
      runs.push({
        name: typeof results?.name === 'string' ? results.name : test.name,
        run,
        path: `${test.name}/${run}`,
        startedAt,
        target: typeof results?.target === 'string' ? results.target : undefined,
        faults: Array.isArray(results?.nemesis) ? results.nemesis.map((fault) => displayText(fault)) : [],
        verdict: verdictOf(results?.valid),
        hasReport: existsSync(join(directory, RunFiles.report)),
        hasResults,
      });
    }
  }
  return runs.sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || b.run.localeCompare(a.run));
}

const indexStyles = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:16px 20px;color:#1d2125;background:#fafbfc}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e7eb}th{background:#eef1f4}
.verdict{display:inline-block;padding:1px 10px;border-radius:10px;font-weight:600;color:#fff}
.verdict-valid{background:#2e9e44}.verdict-invalid{background:#d62728}.verdict-unknown{background:#8a6d00}
nav.filters a{margin-right:12px;text-decoration:none;padding:2px 8px;border-radius:8px;border:1px solid #c8d0d8;color:#234}
nav.filters a.active{background:#234;color:#fff}
.muted{color:#7a8590}
`;

/** The store's index page; `filter` keeps only runs of one verdict. Every value read from the store is escaped. */
export function storeIndexHtml(runs: readonly RunEntry[], filter: VerdictName | undefined, storeLabel: string): string {
  const counts = { valid: 0, invalid: 0, unknown: 0 };
  for (const run of runs) counts[run.verdict] += 1;
  const shown = filter ? runs.filter((run) => run.verdict === filter) : runs;
  const link = (verdict: VerdictName | undefined, label: string): string =>
    `<a class="${filter === verdict ? 'active' : ''}" data-filter="${verdict ?? 'all'}" href="${verdict ? `./?verdict=${verdict}` : './'}">${escapeHtml(label)}</a>`;
  const rows = shown.map((run) => {
    const base = relativeHref(run.path.split('/'));
    return (
      `<tr class="run" data-verdict="${run.verdict}" data-path="${escapeHtml(run.path)}">` +
      `<td>${escapeHtml(run.name)}</td>` +
      `<td><a href="${escapeHtml(`${base}/`)}">${escapeHtml(run.run)}</a><br><span class="muted">${escapeHtml(run.startedAt ?? '')}</span></td>` +
      `<td>${escapeHtml(run.target ?? '—')}</td>` +
      `<td>${escapeHtml(run.faults.join(', ') || '—')}</td>` +
      `<td><span class="verdict verdict-${run.verdict}">${run.verdict}</span></td>` +
      `<td><a class="report-link" href="${escapeHtml(`${base}/${RunFiles.report}`)}">report</a></td></tr>`
    );
  });
  return [
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>Faultline runs</title><style>${indexStyles}</style></head><body>`,
    `<h1>Faultline runs</h1><p class="muted">${escapeHtml(storeLabel)}: ${runs.length} run${runs.length === 1 ? '' : 's'}, newest first</p>`,
    `<nav class="filters">${link(undefined, `all (${runs.length})`)}${link('invalid', `invalid (${counts.invalid})`)}${link('unknown', `unknown (${counts.unknown})`)}${link('valid', `valid (${counts.valid})`)}</nav>`,
    `<table id="runs"><thead><tr><th>test</th><th>run</th><th>target</th><th>faults</th><th>verdict</th><th></th></tr></thead><tbody>${rows.join('') || '<tr><td colspan="6" class="muted">No runs.</td></tr>'}</tbody></table>`,
    '</body></html>',
  ].join('\n');
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.css': 'text/css; charset=utf-8',
};

/** Logs, histories and anything unknown go out as plain text or bytes: never as a page that could run. */
function contentType(path: string): string {
  const extension = extname(path).toLowerCase();
  if (contentTypes[extension]) return contentTypes[extension];
  if (['.log', '.jsonl', '.edn', '.txt', '.yaml', '.yml', '.out', '.err', ''].includes(extension)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

/**
 * The file a URL path names inside the store, or undefined when it would leave the store: each segment is
 * decoded and must be a plain name, and the real path (after symlinks such as store/latest) must stay inside.
 */
export function resolveInStore(realStore: string, urlPath: string): string | undefined {
  const segments: string[] = [];
  for (const raw of urlPath.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\\') || segment.includes('\0')) return undefined;
    segments.push(segment);
  }
  // The deepest part that exists is resolved through its symlinks; the rest (not there yet) is appended as written.
  for (let existing = segments.length; existing >= 0; existing--) {
    let real: string;
    try {
      real = realpathSync(join(realStore, ...segments.slice(0, existing)));
    } catch {
      continue;
    }
    if (real !== realStore && !real.startsWith(realStore + sep)) return undefined;
    return join(real, ...segments.slice(existing));
  }
  return undefined;
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  response.end(body);
}

function directoryListing(directory: string, urlPath: string): string {
  const entries = readdirSync(directory, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).slice(0, 5000);
  const items = entries.map((entry) => {
    const name = entry.isDirectory() ? `${entry.name}/` : entry.name;
    return `<li><a href="${escapeHtml(relativeHref([entry.name]) + (entry.isDirectory() ? '/' : ''))}">${escapeHtml(name)}</a></li>`;
  });
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>${escapeHtml(truncateText(urlPath, 200))}</title><style>${indexStyles}</style></head><body><p><a href="/">all runs</a></p><h1>${escapeHtml(truncateText(decodeURIComponentSafe(urlPath), 300))}</h1><ul>${items.join('')}</ul></body></html>`;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface StoreServerOptions {
  store: string;
  port?: number;
  host?: string;
}

export interface StoreServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Serves the store: "/" lists runs (filter with ?verdict=), "/runs.json" the same as data, anything else a file of the store. */
export async function startStoreServer(options: StoreServerOptions): Promise<StoreServer> {
  const store = resolve(options.store);
  if (!existsSync(store) || !statSync(store).isDirectory()) throw new Error(`${store}: expected a results store folder`);
  const realStore = realpathSync(store);
  // Reports built on demand one at a time: a burst of requests cannot start a burst of builds.
  let building: Promise<unknown> = Promise.resolve();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/' || url.pathname === '/index.html') {
      const verdict = url.searchParams.get('verdict');
      const filter = verdict === 'valid' || verdict === 'invalid' || verdict === 'unknown' ? verdict : undefined;
      return send(response, 200, contentTypes['.html'], storeIndexHtml(listRuns(realStore), filter, store));
    }
    if (url.pathname === '/runs.json') return send(response, 200, contentTypes['.json'], JSON.stringify(listRuns(realStore)));
    const path = resolveInStore(realStore, url.pathname);
    if (!path) return send(response, 403, 'text/plain; charset=utf-8', 'outside the store\n');
    if (!existsSync(path) && path.endsWith(`${sep}${RunFiles.report}`)) {
      const runDirectory = path.slice(0, -RunFiles.report.length - 1);
      if (existsSync(join(runDirectory, RunFiles.history))) {
        const build = building.then(() => (existsSync(path) ? path : writeReport(runDirectory)));
        building = build.catch(() => undefined);
        try {
          await build;
        } catch (error) {
          return send(response, 500, 'text/plain; charset=utf-8', `could not build the report: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
    }
    let stats;
    try {
      stats = statSync(path);
    } catch {
      return send(response, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
    if (stats.isDirectory()) {
      if (!url.pathname.endsWith('/')) {
        response.writeHead(301, { location: `${url.pathname}/` });
        response.end();
        return;
      }
      return send(response, 200, contentTypes['.html'], directoryListing(path, url.pathname));
    }
    response.writeHead(200, { 'content-type': contentType(path), 'content-length': stats.size, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
    if (request.method === 'HEAD') return void response.end();
    createReadStream(path).on('error', () => response.destroy()).pipe(response);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `${error instanceof Error ? error.message : String(error)}\n`);
      else response.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
