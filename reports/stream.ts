// Streams a JSONL history into the summarizer without keeping the ops: a million-op run stays small in memory.
import { LineDecision, readJsonlHistoryFile, type JsonlLineSelector } from '../src/history/jsonl.js';
import { HistorySummarizer, type HistorySummary, type SummaryOptions } from './summary.js';

/**
 * Reads with the shared JSONL reader (src/history/jsonl.ts), so its rules hold here too: a torn last line
 * is a warning, a malformed line elsewhere is "FILE:LINE: expected ...". Each op goes to the summarizer as it
 * is read and the reader is told not to keep it.
 */
export function summarizeJsonlFile(path: string, options: SummaryOptions = {}): { summary: HistorySummary; warnings: string[] } {
  const summarizer = new HistorySummarizer(options);
  const summarizeAndDrop: JsonlLineSelector = {
    classify: () => LineDecision.ask,
    decide(op) {
      summarizer.add(op);
      return false;
    },
  };
  const { warnings } = readJsonlHistoryFile(path, path, undefined, summarizeAndDrop);
  return { summary: summarizer.finish(), warnings };
}
