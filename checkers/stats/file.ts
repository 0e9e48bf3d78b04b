// Counts a JSONL history file's completions per f without keeping its ops, for the stats rule when the file
// was checked on worker threads and never held in this one. Reads bytes, not text: the writer's lines are
// read by their first fields without decoding (a 200 MB file takes a fraction of its check); other lines parsed.
import { closeSync, openSync, readSync } from 'node:fs';
import { inputError } from '../../src/errors.js';
import { completeOp } from '../../src/history/validate.js';
import { FunctionOutcomeCounter } from './index.js';

const chunkBytes = 4 << 20;
const newline = 0x0a;
const quote = 0x22;
const backslash = 0x5c;
const processPrefix = Buffer.from('{"process":');
const typePrefix = Buffer.from(',"type":"');
const functionPrefix = Buffer.from(',"f":"');
const nemesisProcess = Buffer.from('"nemesis"');
const typeNames: readonly string[] = ['invoke', 'ok', 'fail', 'info'];

function startsWithAt(buffer: Buffer, at: number, end: number, prefix: Buffer): boolean {
  if (at + prefix.length > end) return false;
  for (let offset = 0; offset < prefix.length; offset++) if (buffer[at + offset] !== prefix[offset]) return false;
  return true;
}

/** The op type spelled at `at` and closed by a quote, as an index into typeNames; -1 for anything else. */
function typeCodeAt(buffer: Buffer, at: number, end: number): number {
  const first = buffer[at];
  // o(k), f(ail), i(nvoke), i(nfo): the first byte, and the third for the two i's.
  const code = first === 0x6f ? 1 : first === 0x66 ? 2 : first === 0x69 ? (buffer[at + 2] === 0x76 ? 0 : 3) : -1;
  if (code < 0) return -1;
  const name = typeNames[code];
  if (at + name.length >= end || buffer[at + name.length] !== quote) return -1;
  for (let offset = 1; offset < name.length; offset++) if (buffer[at + offset] !== name.charCodeAt(offset)) return -1;
  return code;
}

/**
 * Per f, the outcomes of the lines written in the writer's field order (`{"process":P,"type":"T","f":"F"`),
 * read straight from the bytes; f names are decoded once each and recognised by their bytes after that.
 */
class ByteLineCounter {
  readonly counter = new FunctionOutcomeCounter();
  /** f names met so far, as bytes, for a lookup without decoding, with their counts by type code. */
  private readonly knownNames: Array<{ bytes: Buffer; name: string; counts: number[] }> = [];

  /** Counts one line; false when it is not in the writer's shape (the caller parses it). */
  countFast(buffer: Buffer, start: number, end: number): boolean {
    if (!startsWithAt(buffer, start, end, processPrefix)) return false;
    let at = start + processPrefix.length;
    let client: boolean;
    if (buffer[at] === quote) {
      if (!startsWithAt(buffer, at, end, nemesisProcess)) return false;
      client = false;
      at += nemesisProcess.length;
    } else {
      const digitsStart = at;
      while (at < end && buffer[at] >= 0x30 && buffer[at] <= 0x39) at++;
      if (at === digitsStart) return false;
      client = true;
    }
    if (!startsWithAt(buffer, at, end, typePrefix)) return false;
    at += typePrefix.length;
    const typeCode = typeCodeAt(buffer, at, end);
    if (typeCode < 0) return false;
    at += typeNames[typeCode].length + 1;
    if (!startsWithAt(buffer, at, end, functionPrefix)) return false;
    at += functionPrefix.length;
    const known = this.nameAt(buffer, at, end);
    if (known === undefined) return false;
    if (client) known.counts[typeCode]++;
    return true;
  }

  /** The fast lines' counts added to the parsed ones'. */
  counts(): ReturnType<FunctionOutcomeCounter['counts']> {
    for (const known of this.knownNames) {
      typeNames.forEach((type, code) => {
        if (known.counts[code] > 0) this.counter.add(0, type, known.name, known.counts[code]);
      });
    }
    return this.counter.counts();
  }

  /** The f name starting at `at` and closed by a quote; undefined for one with an escape (left to the parser). */
  private nameAt(buffer: Buffer, at: number, end: number): { counts: number[] } | undefined {
    for (const known of this.knownNames) {
      const bytes = known.bytes;
      if (at + bytes.length >= end || buffer[at + bytes.length] !== quote) continue;
      let same = true;
      for (let offset = 0; offset < bytes.length && same; offset++) same = buffer[at + offset] === bytes[offset];
      if (same) return known;
    }
    let close = at;
    while (close < end && buffer[close] !== quote) {
      if (buffer[close] === backslash) return undefined;
      close++;
    }
    if (close >= end) return undefined;
    const known = { bytes: Buffer.from(buffer.subarray(at, close)), name: buffer.toString('utf8', at, close), counts: [0, 0, 0, 0] };
    this.knownNames.push(known);
    return known;
  }
}

/**
 * Per-f counts of a JSONL history file (see FunctionOutcomeCounter). A line of another shape is parsed; one
 * that does not parse is an error naming file and line, except a torn last line (a crash mid-write), skipped
 * as the history reader skips it.
 */
export function countFunctionOutcomesInFile(path: string, fileName: string = path): ReturnType<FunctionOutcomeCounter['counts']> {
  const lines = new ByteLineCounter();
  let lineNumber = 0;
  const parseLine = (buffer: Buffer, start: number, end: number, last: boolean) => {
    lineNumber++;
    if (lines.countFast(buffer, start, end)) return;
    const text = buffer.toString('utf8', start, end);
    // Blank, or zero-filled by a crash: as the history reader, nothing to count.
    if (/^[\s\0]*$/.test(text)) return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      if (last) return;
      throw inputError(fileName, lineNumber, `expected one JSON object per line (${error instanceof Error ? error.message : String(error)})`);
    }
    const op = completeOp(record, 0, fileName, lineNumber, false);
    lines.counter.add(op.process, op.type, op.f);
  };
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    throw inputError(fileName, undefined, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let buffer = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  try {
    // Bounded by the file's size: every turn reads more bytes or ends.
    for (;;) {
      if (filled === buffer.length) {
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, filled);
        buffer = larger;
      }
      const bytesRead = readSync(descriptor, buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      let lineStart = 0;
      for (;;) {
        const lineEnd = buffer.indexOf(newline, lineStart);
        if (lineEnd < 0 || lineEnd >= filled) break;
        parseLine(buffer, lineStart, lineEnd, false);
        lineStart = lineEnd + 1;
      }
      buffer.copy(buffer, 0, lineStart, filled);
      filled -= lineStart;
    }
  } finally {
    closeSync(descriptor);
  }
  if (filled > 0) parseLine(buffer, 0, filled, true);
  return lines.counts();
}
