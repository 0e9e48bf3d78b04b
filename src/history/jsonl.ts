// Reads Faultline JSONL histories (one op per line) fast, tolerating a file cut off mid-line by a crash.
import { closeSync, openSync, readSync } from 'node:fs';
import { inputError } from '../errors.js';
import type { History, Op } from './types.js';
import { completeOp, ProcessPairing } from './validate.js';

/** What a reader returns: the history and anything the user should hear about (printed to stderr). */
export interface HistoryReadResult {
  history: History;
  warnings: string[];
  /** Ops in the file, when a selector kept only some of them in `history`. */
  totalOps?: number;
}

/**
 * Lets a reader parse only some lines (a worker thread that owns some keys): `classify` sees every
 * non-blank terminated line and answers skip (another reader's: count it only), taken (the selector
 * used the line itself: count it only), parse (keep the op), or ask (parse it, then `decide` whether
 * to keep the op). `position` is the op's index in the whole file. A torn-looking last line is always parsed and asked about.
 * A selector sees every line, so it checks the processes' pairing (ProcessPairing) itself.
 */
export interface JsonlLineSelector {
  classify(text: string, start: number, end: number, lineNumber: number, position: number): LineDecision;
  decide(op: Op, lineNumber: number): boolean;
}

export const LineDecision = { skip: 0, parse: 1, ask: 2, taken: 3 } as const;
export type LineDecision = (typeof LineDecision)[keyof typeof LineDecision];

const newlineByte = 0x0a;
/** Default read size for streaming; big enough that syscall and decode overheads vanish, small enough to stay cache-friendly. */
const chunkBytes = 4 << 20;

/**
 * Parses lines as they arrive; `finish` says whether the final line was complete. Kept as a class so the
 * text and the streaming entry points share one per-line path (and one set of error messages).
 */
class JsonlLineParser {
  readonly history: History = [];
  readonly warnings: string[] = [];
  lineNumber = 0;
  /** Ops in the whole file so far, skipped lines included: the index of the next op. */
  position = 0;
  /** Without a selector this parser sees every op and checks their pairing; a selector sees every line and checks it itself. */
  private readonly pairing: ProcessPairing | undefined;

  constructor(
    private readonly fileName: string,
    private readonly selector?: JsonlLineSelector,
  ) {
    this.pairing = selector ? undefined : new ProcessPairing(fileName);
  }

  /** Parses every line of `text`; the last line is only judged torn by `finishLine`. */
  parseLines(text: string, start: number, end: number): void {
    let lineStart = start;
    while (lineStart < end) {
      let lineEnd = text.indexOf('\n', lineStart);
      if (lineEnd < 0 || lineEnd > end) lineEnd = end;
      this.parseLine(text, lineStart, lineEnd, false);
      lineStart = lineEnd + 1;
    }
  }

  /** One line; `unterminated` marks a last line without a newline, which may be torn. */
  parseLine(text: string, start: number, end: number, unterminated: boolean): void {
    this.lineNumber++;
    if (isBlank(text, start, end)) return;
    let decision: LineDecision = LineDecision.parse;
    if (this.selector) {
      decision = unterminated ? LineDecision.ask : this.selector.classify(text, start, end, this.lineNumber, this.position);
      if (decision === LineDecision.skip || decision === LineDecision.taken) {
        this.position++;
        return;
      }
    }
    let record: unknown;
    try {
      record = JSON.parse(start === 0 && end === text.length ? text : text.slice(start, end));
    } catch (error) {
      if (unterminated) {
        this.warnings.push(
          `${this.fileName}:${this.lineNumber}: ignored a torn last line (the history was cut off mid-write)`,
        );
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw inputError(this.fileName, this.lineNumber, `expected one JSON object per line (${reason})`);
    }
    const op = completeOp(record, this.position++, this.fileName, this.lineNumber, false);
    this.pairing?.observe(op.process, op.type, this.lineNumber);
    if (decision === LineDecision.ask && !this.selector!.decide(op, this.lineNumber)) return;
    this.history.push(op);
  }
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let position = start; position < end; position++) {
    const code = text.charCodeAt(position);
    // space, tab, CR, and NUL (a crash can leave zero-filled blocks at the end of a file)
    if (code !== 0x20 && code !== 0x09 && code !== 0x0d && code !== 0) return false;
  }
  return true;
}

/** Parses JSONL text held in memory (tests, stdin, small files). */
export function parseJsonlHistory(text: string, fileName: string): HistoryReadResult {
  const parser = new JsonlLineParser(fileName);
  const lastNewline = text.lastIndexOf('\n');
  parser.parseLines(text, 0, lastNewline + 1);
  if (lastNewline + 1 < text.length) parser.parseLine(text, lastNewline + 1, text.length, true);
  return { history: parser.history, warnings: parser.warnings };
}

/**
 * Streams a JSONL file in large chunks so a multi-gigabyte history never sits in memory twice (as text
 * and as ops). Lines are split on the newline byte, which never occurs inside a UTF-8 multi-byte character.
 * `readChunkBytes` lets tests put chunk boundaries anywhere; lines longer than a chunk grow the buffer.
 */
export function readJsonlHistoryFile(
  path: string,
  fileName: string = path,
  readChunkBytes: number = chunkBytes,
  selector?: JsonlLineSelector,
): HistoryReadResult {
  const parser = new JsonlLineParser(fileName, selector);
  let buffer = Buffer.allocUnsafe(Math.max(1, readChunkBytes));
  let filled = 0;
  const descriptor = openFileForReading(path, fileName);
  try {
    for (;;) {
      if (filled === buffer.length) {
        // One line longer than the buffer: grow rather than split it.
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, filled);
        buffer = larger;
      }
      const bytesRead = readSync(descriptor, buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      const lastNewline = buffer.lastIndexOf(newlineByte, filled - 1);
      if (lastNewline < 0) continue;
      const text = buffer.toString('utf8', 0, lastNewline + 1);
      parser.parseLines(text, 0, text.length);
      buffer.copy(buffer, 0, lastNewline + 1, filled);
      filled -= lastNewline + 1;
    }
  } finally {
    closeSync(descriptor);
  }
  if (filled > 0) {
    const text = buffer.toString('utf8', 0, filled);
    parser.parseLine(text, 0, text.length, true);
  }
  const result: HistoryReadResult = { history: parser.history, warnings: parser.warnings };
  if (selector) result.totalOps = parser.position;
  return result;
}

function openFileForReading(path: string, fileName: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw inputError(fileName, undefined, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(error)})`);
  }
}
