// Counts a JSONL history file's completions per f without keeping its ops, for the stats rule when the file
// was checked on worker threads and never held in this one: the writer's lines are read by hand, others parsed.
import { LineDecision, readJsonlHistoryFile, type JsonlLineSelector } from '../../src/history/jsonl.js';
import { FunctionOutcomeCounter } from './index.js';

const processPrefix = '{"process":';
const typePrefix = ',"type":"';
const functionPrefix = ',"f":"';
const opTypes: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

/**
 * Reads `"process":P,"type":"T","f":"F"` at the start of a line (the order the writer uses), with no escape
 * in T or F; undefined when the line has another shape (it is then parsed, so it is never misread).
 */
function scanPrefix(text: string, start: number, end: number): { process: unknown; type: string; f: string } | undefined {
  if (!text.startsWith(processPrefix, start)) return undefined;
  let at = start + processPrefix.length;
  let process: unknown;
  if (text.startsWith('"nemesis"', at)) {
    process = 'nemesis';
    at += '"nemesis"'.length;
  } else {
    const digitsStart = at;
    if (text.charCodeAt(at) === 0x2d) at++;
    while (at < end && text.charCodeAt(at) >= 0x30 && text.charCodeAt(at) <= 0x39) at++;
    if (at === digitsStart) return undefined;
    process = Number(text.slice(digitsStart, at));
  }
  if (!text.startsWith(typePrefix, at)) return undefined;
  at += typePrefix.length;
  const typeEnd = text.indexOf('"', at);
  if (typeEnd < 0 || typeEnd >= end) return undefined;
  const type = text.slice(at, typeEnd);
  at = typeEnd + 1;
  if (!text.startsWith(functionPrefix, at)) return undefined;
  at += functionPrefix.length;
  const functionEnd = text.indexOf('"', at);
  if (functionEnd < 0 || functionEnd >= end) return undefined;
  const f = text.slice(at, functionEnd);
  if (!opTypes.has(type) || f.includes('\\')) return undefined;
  return { process, type, f };
}

/** Per-f counts of a JSONL history file (see FunctionOutcomeCounter); bad lines throw as the reader's do. */
export function countFunctionOutcomesInFile(path: string, fileName: string = path): ReturnType<FunctionOutcomeCounter['counts']> {
  const counter = new FunctionOutcomeCounter();
  const selector: JsonlLineSelector = {
    classify(text, start, end) {
      const scanned = scanPrefix(text, start, end);
      if (!scanned) return LineDecision.ask;
      counter.add(scanned.process, scanned.type, scanned.f);
      return LineDecision.taken;
    },
    decide(op) {
      counter.add(op.process, op.type, op.f);
      return false;
    },
  };
  readJsonlHistoryFile(path, fileName, undefined, selector);
  return counter.counts();
}
