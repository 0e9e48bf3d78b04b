// Reads Jepsen's history.edn (Knossos, jepsen.independent, jepsen.history.Op) into Faultline ops.
//
// edn-data parses values well but reports no positions and tolerates unbalanced input silently, so a small
// scanner first splits the text into one span per operation (tracking lines, strings, comments and
// brackets); each span is then parsed by edn-data. Errors thus name the line where the bad op starts.
import { createRequire } from 'node:module';
import type * as EdnData from 'edn-data';
import { inputError } from '../errors.js';
import type { History, Op } from './types.js';
import { completeOp, describeValue, ProcessPairing } from './validate.js';

/** edn-data, loaded on the first EDN file (synchronously, it is CommonJS): a JSONL check does not pay for it. */
let ednData: typeof EdnData | undefined;
function parseEDNString(...args: Parameters<typeof EdnData.parseEDNString>): ReturnType<typeof EdnData.parseEDNString> {
  ednData ??= createRequire(import.meta.url)('edn-data') as typeof EdnData;
  return ednData.parseEDNString(...args);
}

export interface EdnReadOptions {
  /** jepsen.independent tuples `[key value]`: true splits them, false never, undefined detects. */
  independent?: boolean;
}

interface Span {
  start: number;
  end: number;
  line: number;
  /** Depth at which the span sits: 0 (a stream of ops) or 1 (inside one top-level vector or list). */
  depth: number;
  /** The opening character of the span's form: '{', '[', '(' or '' for an atom. */
  opener: string;
}

const closerOf: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

function isWhitespace(code: number): boolean {
  // space, tab, newline, CR, comma (EDN treats commas as whitespace), form feed
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x2c || code === 0x0c;
}

function isDelimiter(code: number): boolean {
  return (
    isWhitespace(code) ||
    code === 0x28 || code === 0x29 || code === 0x5b || code === 0x5d || code === 0x7b || code === 0x7d ||
    code === 0x22 || code === 0x3b
  );
}

/**
 * Splits EDN text into the spans of every form at depth 0 and depth 1, checking bracket balance on the way.
 * A tag or discard prefix (`#jepsen.history.Op`, `#_`, `#{`) belongs to the form that follows it.
 */
function scanSpans(text: string, fileName: string): Span[] {
  const spans: Span[] = [];
  const stack: Array<{ opener: string; line: number; span?: Span }> = [];
  let line = 1;
  let prefixStart = -1;
  let prefixLine = 0;
  const length = text.length;
  let position = 0;

  const beginForm = (start: number, opener: string): Span | undefined => {
    const depth = stack.length;
    const spanStart = prefixStart >= 0 ? prefixStart : start;
    const spanLine = prefixStart >= 0 ? prefixLine : line;
    prefixStart = -1;
    if (depth > 1) return undefined;
    const span: Span = { start: spanStart, end: -1, line: spanLine, depth, opener };
    spans.push(span);
    return span;
  };

  while (position < length) {
    const code = text.charCodeAt(position);
    if (code === 0x0a) {
      line++;
      position++;
    } else if (isWhitespace(code)) {
      position++;
    } else if (code === 0x3b) {
      // ; comment to the end of the line
      const newline = text.indexOf('\n', position);
      position = newline < 0 ? length : newline;
    } else if (code === 0x22) {
      const stringLine = line;
      const span = beginForm(position, '');
      position++;
      for (;;) {
        if (position >= length) {
          throw inputError(fileName, stringLine, 'expected a closing " for the string that starts here');
        }
        const inner = text.charCodeAt(position);
        if (inner === 0x5c) position += 2;
        else if (inner === 0x22) break;
        else {
          if (inner === 0x0a) line++;
          position++;
        }
      }
      position++;
      if (span) span.end = position;
    } else if (code === 0x28 || code === 0x5b || code === 0x7b) {
      const opener = text[position];
      const span = beginForm(position, opener);
      stack.push({ opener, line, span });
      position++;
    } else if (code === 0x29 || code === 0x5d || code === 0x7d) {
      const closer = text[position];
      const open = stack.pop();
      if (!open) throw inputError(fileName, line, `expected an EDN form, got an unmatched '${closer}'`);
      if (closerOf[open.opener] !== closer) {
        throw inputError(
          fileName,
          line,
          `expected '${closerOf[open.opener]}' to close the '${open.opener}' opened at line ${open.line}, got '${closer}'`,
        );
      }
      position++;
      if (open.span) open.span.end = position;
    } else if (code === 0x23 && position + 1 < length && (text[position + 1] === '{' || text[position + 1] === '_')) {
      // #{ a set (the brace that follows opens it) or #_ discard: a prefix of the next form
      if (prefixStart < 0) {
        prefixStart = position;
        prefixLine = line;
      }
      position += text[position + 1] === '_' ? 2 : 1;
    } else {
      // An atom: symbol, keyword, number, nil, boolean, character literal or tag.
      const start = position;
      if (code === 0x5c) position += 2; // \( is a character, not a bracket
      while (position < length && !isDelimiter(text.charCodeAt(position))) position++;
      if (code === 0x23) {
        // #tag: applies to the next form
        if (prefixStart < 0) {
          prefixStart = start;
          prefixLine = line;
        }
        continue;
      }
      const span = beginForm(start, '');
      if (span) span.end = position;
    }
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1];
    throw inputError(
      fileName,
      open.line,
      `expected '${closerOf[open.opener]}' to close the '${open.opener}' opened here before the file ends`,
    );
  }
  return spans;
}

/** Jepsen's newer histories print ops as records; their tag changes nothing about the data. */
const tagHandlers = {
  'jepsen.history.Op': (value: unknown) => value,
};

function parseSpan(text: string, span: Span, fileName: string): unknown {
  try {
    // Maps come back as key/value pairs: building each object once here is much cheaper than edn-data's
    // object mode, which copies the object for every key.
    return toPlainData(
      parseEDNString(text.slice(span.start, span.end), {
        mapAs: 'doubleArray',
        keywordAs: 'string',
        listAs: 'array',
        setAs: 'array',
        symbolAs: 'string',
        charAs: 'string',
        tagHandlers,
      }),
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw inputError(fileName, span.line, `expected a valid EDN operation map (${reason})`);
  }
}

/**
 * edn-data's pairs-of-pairs maps become plain objects (non-string keys by their JSON text), big integers
 * (123N) become numbers (times and values of histories fit in doubles), unknown tags keep {tag, val}.
 */
function toPlainData(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = toPlainData(value[index]);
    return value;
  }
  const pairs = (value as { map?: unknown }).map;
  if (Array.isArray(pairs)) {
    const object: Record<string, unknown> = {};
    for (const [key, entry] of pairs as Array<[unknown, unknown]>) {
      const plainKey = toPlainData(key);
      object[typeof plainKey === 'string' ? plainKey : JSON.stringify(plainKey)] = toPlainData(entry);
    }
    return object;
  }
  const record = value as Record<string, unknown>;
  for (const field of Object.keys(record)) record[field] = toPlainData(record[field]);
  return value;
}

/**
 * Parses a Jepsen history: a vector, a list, or a stream of op maps (tagged records allowed), with `;`
 * comments anywhere. Keywords become strings without the colon, nil becomes null, vectors and lists
 * arrays. `:time` and `:index` are kept when present; otherwise file order gives both.
 */
export function readEdnHistory(text: string, fileName: string, options: EdnReadOptions = {}): History {
  const spans = scanSpans(text, fileName);
  const topLevel = spans.filter((span) => span.depth === 0);
  let opSpans: Span[];
  if (topLevel.length === 1 && (topLevel[0].opener === '[' || topLevel[0].opener === '(')) {
    opSpans = spans.filter((span) => span.depth === 1);
  } else {
    opSpans = topLevel;
  }
  const history: History = [];
  const pairing = new ProcessPairing(fileName);
  for (const span of opSpans) {
    if (text.startsWith('#_', span.start)) continue; // a discarded form
    if (span.opener !== '{' && !text.startsWith('#', span.start)) {
      throw inputError(
        fileName,
        span.line,
        `expected an operation map {:process .. :type .. :f ..}, got ${describeValue(text.slice(span.start, span.end))}`,
      );
    }
    const record = parseSpan(text, span, fileName);
    const op = completeOp(record, history.length, fileName, span.line, true);
    pairing.observe(op.process, op.type, span.line);
    history.push(op);
  }
  const lines = opSpans.filter((span) => !text.startsWith('#_', span.start)).map((span) => span.line);
  applyIndependentKeys(history, options.independent, fileName, lines);
  return history;
}

/**
 * jepsen.independent histories carry `[key value]` tuples as values. Detected when every client op's
 * value is a pair and reads are invoked with `[k nil]`; `independent` forces the choice either way.
 * `lines` gives each op's source line for error messages (absent for formats without lines).
 */
export function applyIndependentKeys(
  history: History,
  independent: boolean | undefined,
  fileName: string,
  lines?: readonly number[],
): void {
  if (independent === false) return;
  if (independent === undefined && !looksIndependent(history)) return;
  for (let position = 0; position < history.length; position++) {
    const op: Op = history[position];
    if (typeof op.process !== 'number') continue;
    const value = op.value;
    const where = lines ? lines[position] : op.index + 1;
    if (!Array.isArray(value) || value.length !== 2) {
      throw inputError(fileName, where, `expected an independent [key value] tuple as "value", got ${describeValue(value)}`);
    }
    const key = value[0];
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw inputError(fileName, where, `expected the key of a [key value] tuple to be a string or number, got ${describeValue(key)}`);
    }
    op.key = key;
    op.value = value[1];
  }
}

function looksIndependent(history: History): boolean {
  let clientOps = 0;
  let reads = 0;
  for (const op of history) {
    if (typeof op.process !== 'number') continue;
    if (op.key !== undefined && op.key !== null) return false;
    const value = op.value;
    if (!Array.isArray(value) || value.length !== 2) return false;
    if (typeof value[0] !== 'string' && typeof value[0] !== 'number') return false;
    clientOps++;
    if (op.f === 'read' && op.type === 'invoke') {
      if (value[1] !== null) return false;
      reads++;
    }
  }
  return clientOps > 0 && reads > 0;
}
