// Checks a big JSONL history file on every core at once: each worker thread reads the whole file but
// parses (JSON.parse) and checks only the lines of the keys it owns, so parsing is split as well as
// checking, and no history crosses between threads (only the path goes in, only verdicts come out).
//
// Which worker owns a key is a hash of the key; every worker classifies every line the same way,
// with a cheap anchored match on the line's first fields (the order the writer uses), and follows
// which worker owns each process's open invocation, so completions go where their invocations went
// (as splitHistory pairs them). A line the match cannot classify is parsed by every worker. The
// owner of a classified line checks, after parsing it, that the match read it right; if not (a
// field repeated later in the line), every worker gives up and the caller reads the file the
// ordinary way: never a wrong split.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError } from '../../src/errors.js';
import { LineDecision, readJsonlHistoryFile, type JsonlLineSelector } from '../../src/history/jsonl.js';
import { ProcessPairing } from '../../src/history/validate.js';
import type { Key, Op } from '../../src/history/types.js';
import { checkKeys, KeySplitter, mergeKeyResults, splitHistory, workerStatistics, type KeyResult, type LinearizableResult } from './index.js';
import type { KeyInput, SearchLimits } from './engine.js';
import { getModel } from './models.js';

export interface FileCheckRequest {
  kind: 'file';
  path: string;
  fileName: string;
  worker: number;
  workers: number;
  model: string;
  initial?: unknown;
  nilReadsAny?: boolean;
  limits: SearchLimits;
  /** Read chunk size, for tests that put chunk boundaries anywhere. */
  chunkBytes?: number;
  /** Stop at the first invalid key, in any thread (see LinearizableOptions.firstViolation). */
  firstViolation?: boolean;
  violationFlag?: Int32Array;
}

/** Per f, how the client ops ended (the stats rule's counts: invocations, ok, fail, info, never completed). */
export type FunctionCounts = Record<string, { count: number; ok: number; fail: number; info: number; incomplete: number }>;

/** What one worker sends back. */
export type FileCheckReply =
  | { kind: 'done'; keys: KeyResult[]; firstIndexes: number[]; opCount: number; totalOps: number; warnings: string[]; functionCounts: FunctionCounts }
  | { kind: 'user-error'; message: string; line: number }
  | { kind: 'fallback'; reason: string };

/** Thrown inside a worker when the cheap classification disagrees with the parsed line. */
class ClassificationMismatch extends Error {}

/**
 * Reads the fields of a line written in the writer's order, by hand (no regular expression, no
 * allocation for lines another worker owns): `{"process":N,"type":"T","f":"F"[,"key":K]` (the
 * prefix, enough to decide the owner), then for register ops `,"value":V,"time":N[,"index":N]}`
 * (the rest). Strings without escapes or control characters; integers as JSON writes them (at most
 * 15 digits: exact); keys a string, an integer or null; values null, an integer or a pair of them.
 * Any other line is not classified here and goes through JSON.parse and the usual validation.
 */
class LineScanner {
  text = '';
  at = 0;
  end = 0;
  /** Set by the last scan: */
  number = 0;
  isNull = false;
  stringStart = 0;
  stringEnd = 0;

  literal(expected: string): boolean {
    // By character codes: startsWith on a multi-megabyte chunk costs more.
    const text = this.text;
    const at = this.at;
    if (at + expected.length > this.end) return false;
    for (let i = 0; i < expected.length; i++) if (text.charCodeAt(at + i) !== expected.charCodeAt(i)) return false;
    this.at = at + expected.length;
    return true;
  }

  /** Like literal, without consuming. */
  lookingAt(expected: string): boolean {
    const text = this.text;
    const at = this.at;
    if (at + expected.length > this.end) return false;
    for (let i = 0; i < expected.length; i++) if (text.charCodeAt(at + i) !== expected.charCodeAt(i)) return false;
    return true;
  }

  /** A JSON integer of 1-15 digits (optionally negative), or null when `nullable`. */
  integer(negativeAllowed: boolean, nullable: boolean): boolean {
    const text = this.text;
    if (nullable && this.lookingAt('null')) {
      this.at += 4;
      this.isNull = true;
      return true;
    }
    this.isNull = false;
    let sign = 1;
    if (negativeAllowed && text.charCodeAt(this.at) === 0x2d) {
      sign = -1;
      this.at++;
    }
    const first = this.at;
    let value = 0;
    while (this.at < this.end) {
      const code = text.charCodeAt(this.at);
      if (code < 0x30 || code > 0x39) break;
      value = value * 10 + (code - 0x30);
      this.at++;
    }
    const digits = this.at - first;
    if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(first) === 0x30)) return false;
    // -0 is a number JSON.parse gives as -0; keep it exact.
    this.number = sign * value;
    return true;
  }

  /** A string's contents after its opening quote, up to the closing quote: no escapes, no control characters. */
  plainString(): boolean {
    const text = this.text;
    this.stringStart = this.at;
    while (this.at < this.end) {
      const code = text.charCodeAt(this.at);
      if (code === 0x22) {
        this.stringEnd = this.at;
        this.at++;
        return true;
      }
      if (code === 0x5c || code < 0x20) return false;
      this.at++;
    }
    return false;
  }
}

/** Process → worker owning its open invocation: an array for the usual small process ids, a map beyond. */
class ProcessOwners {
  private small = new Int16Array(1024).fill(-1);
  private readonly large = new Map<number, number>();

  set(process: number, owner: number): void {
    if (process < 0 || process >= 1 << 20) {
      this.large.set(process, owner);
      return;
    }
    if (process >= this.small.length) {
      const grown = new Int16Array(Math.max(this.small.length * 2, process + 1)).fill(-1);
      grown.set(this.small);
      this.small = grown;
    }
    this.small[process] = owner;
  }

  /** The owner of the process's open invocation (0 when none), which is then closed. */
  take(process: number): number {
    if (process < 0 || process >= 1 << 20) {
      const owner = this.large.get(process) ?? 0;
      this.large.delete(process);
      return owner;
    }
    if (process >= this.small.length) return 0;
    const owner = this.small[process];
    this.small[process] = -1;
    return owner < 0 ? 0 : owner;
  }
}

const typeNames = ['invoke', 'ok', 'fail', 'info'] as const;
const typeLiterals = typeNames.map((name) => name + '","f":"');
const KEY_NONE = 0;
const KEY_NULL = 1;
const KEY_STRING = 2;
const KEY_NUMBER = 3;

/** FNV-1a of a key's name ('s:' + text for strings) computed over the line's characters. */
function hashStringKey(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5;
  hash = Math.imul(hash ^ 0x73, 0x01000193); // 's'
  hash = Math.imul(hash ^ 0x3a, 0x01000193); // ':'
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A canonical name for a key, equal exactly when splitHistory would put ops under the same key. */
function keyName(key: Key | undefined): string {
  if (key === null || key === undefined) return 'null';
  if (typeof key === 'string') return 's:' + key;
  return 'n:' + String(key);
}

/** FNV-1a over the key's name: the same in every worker, spread across workers. */
function ownerOf(name: string, workers: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % workers;
}

/**
 * The line selector of worker `me` of `workers`. With a `splitter` it feeds the owned ops straight
 * into it (reading writer-format lines without JSON.parse) and keeps none in the history; without
 * one it keeps the owned ops as Op objects (for models that partition a key's ops themselves).
 */
export function keyOwnerSelector(me: number, workers: number, splitter?: KeySplitter, fileName = ''): JsonlLineSelector & { errorLine: number } {
  /** Process → worker owning its open invocation. */
  const openOwner = new ProcessOwners();
  /** Every worker sees every line, so each checks the whole file's pairing, as the one-thread reader does. */
  const pairing = new ProcessPairing(fileName);
  /** The last line classify already checked the pairing of (a line it then asks about reaches decide too). */
  let pairedLine = 0;
  const owners = new Map<Key, number>();
  const owner = (key: Key): number => {
    let found = owners.get(key);
    if (found === undefined) owners.set(key, (found = ownerOf(keyName(key), workers)));
    return found;
  };
  const scanner = new LineScanner();
  /** One copy of each key and f name: a slice of a chunk would keep the whole chunk alive. */
  const names = new Map<string, string>();
  const internedName = (name: string): string => {
    const known = names.get(name);
    if (known !== undefined) return known;
    const copy = (' ' + name).slice(1);
    names.set(copy, copy);
    return copy;
  };
  const internedKey = (name: string): string => internedName(name);
  /** The classification of the line being parsed, to verify it against the parsed op. */
  let expectedProcess = -1;
  let expectedType = '';
  let expectedKey: Key = null;
  /** Feeds an owned op to the splitter; false: keep it in the history instead. */
  const take = (op: Op): boolean => {
    if (!splitter) return true;
    if (typeof op.process !== 'number') return false;
    if (op.type === 'invoke') splitter.invoke(op.process, op.key ?? null, op.f, op.value ?? null, op.index);
    else splitter.complete(op.process, op.type, op.value ?? null, op.index);
    return false;
  };
  return {
    errorLine: 0,
    classify(text, start, end, lineNumber, position) {
      this.errorLine = lineNumber;
      expectedProcess = -1;
      const scan = scanner;
      scan.text = text;
      scan.at = start;
      scan.end = end;
      if (!scan.literal('{"process":') || !scan.integer(false, false) || !scan.literal(',"type":"')) return LineDecision.ask;
      const process = scan.number;
      let typeCode = 0;
      while (typeCode < 4 && !scan.lookingAt(typeLiterals[typeCode])) typeCode++;
      if (typeCode === 4) return LineDecision.ask;
      pairing.observe(process, typeNames[typeCode], lineNumber);
      pairedLine = lineNumber;
      scan.at += typeLiterals[typeCode].length;
      if (!scan.plainString()) return LineDecision.ask;
      const fStart = scan.stringStart;
      const fEnd = scan.stringEnd;
      let keyKind = KEY_NONE;
      let keyStart = 0;
      let keyEnd = 0;
      let keyNumber = 0;
      if (scan.literal(',"key":')) {
        if (text.charCodeAt(scan.at) === 0x22) {
          scan.at++;
          if (!scan.plainString()) return LineDecision.ask;
          keyKind = KEY_STRING;
          keyStart = scan.stringStart;
          keyEnd = scan.stringEnd;
        } else {
          if (!scan.integer(true, true)) return LineDecision.ask;
          if (scan.isNull) keyKind = KEY_NULL;
          else if (Object.is(scan.number, -0)) return LineDecision.ask;
          else {
            keyKind = KEY_NUMBER;
            keyNumber = scan.number;
          }
        }
      }
      const next = text.charCodeAt(scan.at);
      if (scan.at >= end || (next !== 0x2c && next !== 0x7d)) return LineDecision.ask;
      const type = typeNames[typeCode];
      let key: Key = null;
      if (typeCode === 0) {
        // No key right after f: the key is null only if the line names no key anywhere.
        if (keyKind === KEY_NONE) {
          const keyAt = text.indexOf('"key"', start);
          if (keyAt >= 0 && keyAt < end) return LineDecision.ask;
        }
        let mine: number;
        if (keyKind === KEY_STRING) {
          mine = hashStringKey(text, keyStart, keyEnd) % workers;
          if (mine === me) key = internedKey(text.slice(keyStart, keyEnd));
        } else {
          key = keyKind === KEY_NUMBER ? keyNumber : null;
          mine = owner(key);
        }
        openOwner.set(process, mine);
        if (mine !== me) return LineDecision.skip;
      } else {
        const mine = openOwner.take(process);
        if (mine !== me) return LineDecision.skip;
      }
      if (splitter && scan.literal(',"value":')) {
        let value: unknown;
        let ok: boolean;
        if (text.charCodeAt(scan.at) === 0x5b) {
          scan.at++;
          ok = scan.integer(true, true);
          const first = scan.isNull ? null : scan.number;
          ok = ok && scan.literal(',') && scan.integer(true, true);
          value = [first, scan.isNull ? null : scan.number];
          ok = ok && scan.literal(']');
        } else {
          ok = scan.integer(true, true);
          value = scan.isNull ? null : scan.number;
        }
        ok = ok && scan.literal(',"time":') && scan.integer(false, false);
        if (ok && scan.literal(',"index":')) ok = scan.integer(false, false);
        if (ok && scan.literal('}') && scan.at === end) {
          if (typeCode === 0) splitter.invoke(process, key, internedName(text.slice(fStart, fEnd)), value, position);
          else splitter.complete(process, type as 'ok' | 'fail' | 'info', value, position);
          return LineDecision.taken;
        }
      }
      // Ours: 'ask', so that `decide` sees the parsed op and checks the scan read it right.
      expectedProcess = process;
      expectedType = type;
      expectedKey = key;
      return LineDecision.ask;
    },
    decide(op: Op, lineNumber: number) {
      this.errorLine = lineNumber;
      if (expectedProcess >= 0) {
        // A classified line: the match must agree with the parse.
        const agrees = op.process === expectedProcess && op.type === expectedType && (expectedType !== 'invoke' || (op.key ?? null) === expectedKey);
        expectedProcess = -1;
        if (!agrees) throw new ClassificationMismatch(`line ${lineNumber}: a field appears twice`);
        return take(op);
      }
      // An unclassified line, parsed by every worker: decide from its fields.
      if (pairedLine !== lineNumber) pairing.observe(op.process, op.type, lineNumber);
      if (typeof op.process !== 'number') return false;
      let mine: number;
      if (op.type === 'invoke') {
        mine = owner(op.key ?? null);
        openOwner.set(op.process, mine);
      } else {
        mine = openOwner.take(op.process);
      }
      return mine === me && take(op);
    },
  };
}

/** The worker's side: read the owned lines, split them into keys, check them. */
export function runFileCheck(request: FileCheckRequest): FileCheckReply {
  const model = getModel(request.model, { initial: request.initial, nilReadsAny: request.nilReadsAny });
  const splitter = model.partition ? undefined : new KeySplitter();
  const selector = keyOwnerSelector(request.worker, request.workers, splitter, request.fileName);
  let read;
  try {
    read = readJsonlHistoryFile(request.path, request.fileName, request.chunkBytes, selector);
  } catch (error) {
    if (error instanceof UserError) return { kind: 'user-error', message: error.message, line: selector.errorLine };
    if (error instanceof ClassificationMismatch) return { kind: 'fallback', reason: error.message };
    throw error;
  }
  const inputs = splitter ? splitter.inputs() : splitHistory(read.history, model);
  const totalOps = read.totalOps ?? read.history.length;
  const warnings = read.warnings;
  read = undefined;
  const keys = checkKeys(model, inputs, request.limits, { firstViolation: request.firstViolation, violationFlag: request.violationFlag });
  // First-seen order of keys (as splitHistory orders them over the whole file), for the merge.
  const firstByKey = new Map<Key, number>();
  for (const input of inputs) {
    const first = input.ops.length > 0 ? input.ops[0].invokeIndex : Number.MAX_SAFE_INTEGER;
    const known = firstByKey.get(input.key);
    if (known === undefined || first < known) firstByKey.set(input.key, first);
  }
  const opCount = inputs.reduce((sum, input) => sum + input.ops.length, 0);
  return { kind: 'done', keys, firstIndexes: inputs.map((input) => firstByKey.get(input.key)!), opCount, totalOps, warnings, functionCounts: countFunctions(inputs) };
}

/** The stats rule's counts over this worker's ops (each client op is owned by exactly one worker), so the file needs no second pass. */
function countFunctions(inputs: readonly KeyInput[], into: FunctionCounts = {}): FunctionCounts {
  for (const input of inputs) {
    for (const op of input.ops) {
      const counts = (into[op.f] ??= { count: 0, ok: 0, fail: 0, info: 0, incomplete: 0 });
      counts.count++;
      if (op.completionIndex < 0) counts.incomplete++;
      else counts[op.outcome]++;
    }
  }
  return into;
}

/** The compiled worker script, when running from dist/ (under vitest on .ts sources there is none). */
function workerScript(): URL | undefined {
  if (!import.meta.url.endsWith('.js')) return undefined;
  const url = new URL('./worker.js', import.meta.url);
  return existsSync(fileURLToPath(url)) ? url : undefined;
}

export interface FileCheckOptions {
  model: string;
  initial?: unknown;
  nilReadsAny?: boolean;
  timeoutMs?: number;
  maxConfigurations?: number;
  workers: number;
  chunkBytes?: number;
  firstViolation?: boolean;
  /** Told why, when worker threads failed and the caller must read the ordinary way: never silent. */
  onFallback?: (reason: string) => void;
}

export interface FileCheckResult {
  result: LinearizableResult;
  /** Per f, how the client ops ended, summed over the workers. */
  functionCounts: FunctionCounts;
  /** Ops in the file (every line that holds one). */
  events: number;
  warnings: string[];
}

const DEFAULT_MAX_CONFIGURATIONS = 200_000;
const youngGenerationMb = 64;

/**
 * Reads and checks a JSONL history on `workers` threads. Undefined when this cannot be done here
 * (no compiled worker script, threads unavailable, or a line the cheap classification misread): the
 * caller then reads and checks the ordinary way, which gives the same verdicts. Bad input throws the
 * UserError of the earliest bad line, as the ordinary reader would.
 */
export async function checkJsonlFileInParallel(path: string, fileName: string, options: FileCheckOptions): Promise<FileCheckResult | undefined> {
  const script = workerScript();
  if (!script || options.workers < 2) return undefined;
  const limits: SearchLimits = {
    deadline: options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs,
    maxConfigurations: options.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS,
  };
  let replies: FileCheckReply[];
  const violationFlag = new Int32Array(new SharedArrayBuffer(4));
  try {
    replies = await Promise.all(
      Array.from(
        { length: options.workers },
        (_, worker) =>
          new Promise<FileCheckReply>((resolve, reject) => {
            const request: FileCheckRequest = {
              kind: 'file',
              path,
              fileName,
              worker,
              workers: options.workers,
              model: options.model,
              initial: options.initial,
              nilReadsAny: options.nilReadsAny,
              limits,
              chunkBytes: options.chunkBytes,
              firstViolation: options.firstViolation,
              violationFlag,
            };
            // A larger young generation: parsing allocates many short-lived strings and objects, and
            // scavenges that promote the long-lived ops dominate otherwise.
            const thread = new Worker(script, youngGenerationMb > 0 ? { workerData: request, resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb } } : { workerData: request });
            let settled = false;
            thread.once('message', (reply: FileCheckReply) => {
              settled = true;
              workerStatistics.batchesChecked++;
              resolve(reply);
            });
            thread.once('error', (error) => {
              settled = true;
              reject(error);
            });
            thread.once('exit', (code) => {
              if (!settled) reject(new Error(`linearizability worker exited with code ${code}`));
            });
          }),
      ),
    );
  } catch (error) {
    options.onFallback?.(`linearizability worker threads failed (${error instanceof Error ? error.message : String(error)}): reading and checking in one thread instead`);
    return undefined;
  }
  return mergeFileReplies(replies, options);
}

/**
 * Merges the workers' replies: the earliest bad line's UserError wins; undefined when a worker gave
 * up (the caller reads the ordinary way); else the keys in first-seen order, as splitHistory orders them.
 */
export function mergeFileReplies(replies: readonly FileCheckReply[], options: { model: string; initial?: unknown; nilReadsAny?: boolean }): FileCheckResult | undefined {
  const errors = replies.filter((reply) => reply.kind === 'user-error');
  if (errors.length > 0) {
    errors.sort((a, b) => a.line - b.line);
    throw new UserError(errors[0].message);
  }
  if (replies.some((reply) => reply.kind !== 'done')) return undefined;
  const done = replies as Extract<FileCheckReply, { kind: 'done' }>[];
  const entries: { first: number; key: KeyResult }[] = [];
  for (const reply of done) reply.keys.forEach((key, i) => entries.push({ first: reply.firstIndexes[i], key }));
  // Stable: partitions of one key keep their order.
  entries.sort((a, b) => a.first - b.first);
  const keys = entries.map((entry) => entry.key);
  const model = getModel(options.model, { initial: options.initial, nilReadsAny: options.nilReadsAny });
  return {
    result: mergeKeyResults(model.name, keys, done.reduce((sum, reply) => sum + reply.opCount, 0)),
    functionCounts: sumFunctionCounts(done.map((reply) => reply.functionCounts)),
    events: done[0].totalOps,
    warnings: done[0].warnings,
  };
}

function sumFunctionCounts(parts: readonly FunctionCounts[]): FunctionCounts {
  const sum: FunctionCounts = {};
  for (const part of parts) {
    for (const [f, counts] of Object.entries(part)) {
      const total = (sum[f] ??= { count: 0, ok: 0, fail: 0, info: 0, incomplete: 0 });
      total.count += counts.count;
      total.ok += counts.ok;
      total.fail += counts.fail;
      total.info += counts.info;
      total.incomplete += counts.incomplete;
    }
  }
  return sum;
}
