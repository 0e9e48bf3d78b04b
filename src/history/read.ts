// One entry point for every command that reads a history: a JSONL file, a Jepsen EDN file, or a run directory.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inputError } from '../errors.js';
import { applyIndependentKeys, readEdnHistory } from './edn.js';
import { readJsonlHistoryFile, type HistoryReadResult } from './jsonl.js';

export type { HistoryReadResult } from './jsonl.js';

export type HistoryFormat = 'jsonl' | 'edn';

export interface ReadHistoryOptions {
  /** jepsen.independent `[key value]` tuples: true splits them, false never, undefined detects (EDN only). */
  independent?: boolean;
  /** Forces a format instead of choosing by extension and content. */
  format?: HistoryFormat;
}

export interface HistoryFileReadResult extends HistoryReadResult {
  /** The file actually read (history.jsonl inside a run directory). */
  file: string;
  format: HistoryFormat;
  /** Set when the path given was a run directory. */
  runDirectory?: string;
}

/** History files looked for inside a run directory, in order of preference. */
const runDirectoryHistoryFiles = ['history.jsonl', 'history.edn'];

/**
 * Reads a history from `path`: `.jsonl`/`.ndjson` as Faultline JSONL, `.edn` as Jepsen EDN, anything
 * else by its first meaningful character; a directory is read as a run directory (its history.jsonl).
 * Throws UserError for a missing or malformed file; a torn last line comes back as a warning.
 */
export function readHistoryFile(path: string, options: ReadHistoryOptions = {}): HistoryFileReadResult {
  const { file, format, runDirectory } = resolveHistoryFile(path, options);
  let result: HistoryReadResult;
  if (format === 'jsonl') {
    result = readJsonlHistoryFile(file);
    if (options.independent === true) applyIndependentKeys(result.history, true, file);
  } else {
    const text = readFileSync(file, 'utf8');
    result = { history: readEdnHistory(text, file, { independent: options.independent }), warnings: [] };
  }
  // Legal (a run killed before its first op) but worth saying: every checker will call it valid.
  if (result.history.length === 0) result.warnings.push(`${file}: the history holds no operations`);
  return { ...result, file, format, runDirectory };
}

/** Where a history would be read from and in which format, without reading it (throws UserError like readHistoryFile). */
export function resolveHistoryFile(path: string, options: ReadHistoryOptions = {}): { file: string; format: HistoryFormat; runDirectory?: string } {
  let file = path;
  let runDirectory: string | undefined;
  if (isDirectory(path)) {
    const found = runDirectoryHistoryFiles.map((name) => join(path, name)).find((candidate) => isFile(candidate));
    if (!found) throw inputError(path, undefined, 'expected a run directory containing history.jsonl');
    file = found;
    runDirectory = path;
  } else if (!isFile(path)) {
    throw inputError(path, undefined, 'no such history file or run directory');
  }
  const format = options.format ?? detectFormat(file);
  return runDirectory === undefined ? { file, format } : { file, format, runDirectory };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** By extension first; otherwise JSONL lines start with `{"`, while EDN starts with `[`, `(`, `;` or `{:`. */
export function detectFormat(file: string): HistoryFormat {
  const name = basename(file).toLowerCase();
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.edn')) return 'edn';
  const head = readHead(file, 4096);
  const match = /^[\s,]*(\S)(\S?)/.exec(head);
  if (!match) throw inputError(file, 1, 'expected a history (JSONL or EDN), got an empty file');
  const [, first, second] = match;
  if (first === '{' && second === '"') return 'jsonl';
  if (first === '[' || first === '(' || first === ';' || first === '{' || first === '#') return 'edn';
  throw inputError(file, 1, `expected a history in JSONL ({"process": ...}) or EDN ([{:process ...}]), got '${first}'`);
}

function readHead(file: string, bytes: number): string {
  const descriptor = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const length = readSync(descriptor, buffer, 0, bytes, 0);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(descriptor);
  }
}
