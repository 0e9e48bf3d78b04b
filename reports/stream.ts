// Streams a JSONL history into the summarizer without keeping the ops: a million-op run stays small in memory.
import { closeSync, openSync, readSync } from 'node:fs';
import { inputError } from '../src/errors.js';
import type { Op } from '../src/history/types.js';
import { HistorySummarizer, type HistorySummary, type SummaryOptions } from './summary.js';

const chunkBytes = 4 << 20;
const newlineByte = 0x0a;

/**
 * Same rules as the shared JSONL reader (src/history/jsonl.ts): a torn last line is a warning, a malformed
 * line elsewhere is "FILE:LINE: expected ...". Only what the report draws is validated here: the checkers'
 * verdicts come from results.json, so a full op validation would only cost time.
 */
export function summarizeJsonlFile(path: string, options: SummaryOptions = {}): { summary: HistorySummary; warnings: string[] } {
  const summarizer = new HistorySummarizer(options);
  const warnings: string[] = [];
  let lineNumber = 0;
  let index = 0;
  const parseLine = (text: string, unterminated: boolean): void => {
    lineNumber += 1;
    if (text.trim() === '' || /^\u0000+$/.test(text)) return;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      if (unterminated) {
        warnings.push(`${path}:${lineNumber}: ignored a torn last line (the history was cut off mid-write)`);
        return;
      }
      throw inputError(path, lineNumber, `expected one JSON object per line (${error instanceof Error ? error.message : String(error)})`);
    }
    const op = record as Op;
    if (typeof record !== 'object' || record === null || typeof op.type !== 'string' || (typeof op.process !== 'number' && typeof op.process !== 'string')) {
      throw inputError(path, lineNumber, 'expected an op object with "process", "type", "f" and "time"');
    }
    if (typeof op.index !== 'number') op.index = index;
    index += 1;
    summarizer.add(op);
  };
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    throw inputError(path, undefined, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let buffer = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  try {
    for (;;) {
      if (filled === buffer.length) {
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, filled);
        buffer = larger;
      }
      const bytesRead = readSync(descriptor, buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      const lastNewline = buffer.lastIndexOf(newlineByte, filled - 1);
      if (lastNewline < 0) continue;
      const text = buffer.toString('utf8', 0, lastNewline);
      let start = 0;
      for (;;) {
        const end = text.indexOf('\n', start);
        if (end < 0) {
          parseLine(text.slice(start), false);
          break;
        }
        parseLine(text.slice(start, end), false);
        start = end + 1;
      }
      buffer.copy(buffer, 0, lastNewline + 1, filled);
      filled -= lastNewline + 1;
    }
  } finally {
    closeSync(descriptor);
  }
  if (filled > 0) parseLine(buffer.toString('utf8', 0, filled), true);
  return { summary: summarizer.finish(), warnings };
}
