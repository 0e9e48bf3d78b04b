// Proves that reading and checking a JSONL file split across threads by key gives exactly what one
// thread gives (same keys in the same order, verdicts, counterexamples, op and event counts, warnings,
// and the same first error), by running every worker's share in this thread and merging, on generated
// histories and on files full of lines the cheap classification must not misread.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateRegisterHistory, type GeneratedHistoryOptions } from '../bench/generate-history.js';
import { readHistoryFile } from '../../src/history/read.js';
import { mergeFileReplies, runFileCheck, type FileCheckResult } from './file.js';
import { checkLinearizable } from './index.js';
import { countFunctionOutcomesInFile } from '../stats/file.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-file-check-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let fileCount = 0;

function writeLines(lines: string[], terminated = true): string {
  const path = join(directory, `history-${fileCount++}.jsonl`);
  writeFileSync(path, lines.join('\n') + (terminated ? '\n' : ''));
  return path;
}

function generatedLines(options: GeneratedHistoryOptions): string[] {
  const lines: string[] = [];
  generateRegisterHistory(options, (op) => lines.push(JSON.stringify(op)));
  return lines;
}

const model = { model: 'cas-register', initial: null };

/** Every worker's share, run here in turn, then merged as the parallel path merges them. */
function checkSplit(path: string, workers: number, chunkBytes?: number): FileCheckResult | undefined {
  const limits = { deadline: Number.POSITIVE_INFINITY, maxConfigurations: 200_000 };
  const replies = Array.from({ length: workers }, (_, worker) =>
    runFileCheck({ kind: 'file', path, fileName: path, worker, workers, ...model, limits, chunkBytes }),
  );
  return mergeFileReplies(replies, model);
}

async function checkWhole(path: string): Promise<FileCheckResult> {
  const read = readHistoryFile(path);
  const result = await checkLinearizable(read.history, { ...model, workers: 0 });
  return { result, events: read.history.length, warnings: read.warnings };
}

async function expectSameAsOneThread(path: string, workers: number, chunkBytes?: number): Promise<FileCheckResult> {
  const whole = await checkWhole(path);
  const split = checkSplit(path, workers, chunkBytes);
  expect(split).toBeDefined();
  expect(split!.result).toEqual(whole.result);
  expect(split!.events).toBe(whole.events);
  expect(split!.warnings).toEqual(whole.warnings);
  return whole;
}

describe('parallel file check agrees with one thread', () => {
  for (const [keys, staleReads, workers, seed] of [
    [1, 0, 2, 1],
    [7, 0, 2, 2],
    [7, 3, 3, 3],
    [30, 5, 2, 4],
  ] as const) {
    it(`generated: ${keys} keys, ${staleReads} stale reads, ${workers} workers`, async () => {
      const path = writeLines(generatedLines({ ops: 3000, keys, processes: 8, seed, infoRate: 0.03, failRate: 0.01, staleReads }));
      const whole = await expectSameAsOneThread(path, workers);
      expect(whole.result.valid).toBe(staleReads === 0 ? true : false);
      // The stats rule's counts come from the workers, with no second pass over the file: the same as that pass.
      expect(checkSplit(path, workers)!.functionCounts).toEqual(countFunctionOutcomesInFile(path));
    });
  }

  it('lines the cheap match cannot classify, odd keys, nemesis ops, small chunks', async () => {
    const lines = [
      '{"process":"nemesis","type":"info","f":"start","value":null,"time":1}',
      '{"process": 0, "type": "invoke", "f": "write", "key": "a", "value": 1, "time": 2}',
      '{"process":1,"type":"invoke","f":"write","value":2,"time":3,"key":"a"}',
      '{"process":2,"type":"invoke","f":"write","key":7,"value":3,"time":4}',
      '{"process":3,"type":"invoke","f":"write","key":"k\\"q","value":4,"time":5}',
      '',
      '{"process":0,"type":"ok","f":"write","key":"a","value":1,"time":6}',
      '{"process":4,"type":"invoke","f":"read","key":"a","value":null,"time":7}',
      '{"process":4,"type":"ok","f":"read","key":"a","value":1,"time":7}',
      '{"process":1,"type":"ok","f":"write","value":2,"time":8}',
      '{"process":2,"type":"ok","f":"write","key":7,"value":3,"time":9}',
      '{"process":5,"type":"invoke","f":"read","key":"7","value":null,"time":10}',
      '{"process":5,"type":"ok","f":"read","key":"7","value":null,"time":11}',
      '{"process":6,"type":"invoke","f":"read","value":null,"time":12}',
      '{"process":-3,"type":"invoke","f":"write","key":"a","value":6,"time":12}',
      '{"process":-3,"type":"fail","f":"write","key":"a","value":6,"time":12}',
      '{"process":6,"type":"ok","f":"read","value":null,"time":13}',
      '{"process":2,"type":"invoke","f":"read","key":7,"value":null,"time":14}',
      '{"process":2,"type":"ok","f":"read","key":7,"value":3,"time":15,"index":99}',
      '{"process":0,"type":"invoke","f":"read","key":"a","value":null,"time":16}',
      '{"process":0,"type":"ok","f":"read","key":"a","value":9,"time":17}',
      '{"process":3,"type":"info","f":"write","key":"k\\"q","value":4,"time":18}',
      '{"process":7,"type":"invoke","f":"cas","key":"a","value":[2,5],"time":19}',
      '{"process":7,"type":"ok","f":"cas","key":"a","val',
    ];
    const path = writeLines(lines, false);
    const whole = await checkWhole(path);
    expect(whole.warnings.length).toBe(1);
    expect(whole.result.keys.length).toBe(5);
    expect(whole.result.valid).toBe(false);
    for (const workers of [2, 3, 5]) await expectSameAsOneThread(path, workers, 64);
  });

  it('the first bad line is reported, whichever worker owns it', async () => {
    const lines = generatedLines({ ops: 200, keys: 5, processes: 4, seed: 9 });
    lines[150] = lines[150].replace('"time":', '"time":"soon","was":');
    lines[40] = lines[40].replace('"value":', '"value":007,"x":');
    const path = writeLines(lines);
    let expected = '';
    try {
      readHistoryFile(path);
    } catch (error) {
      expected = (error as Error).message;
    }
    expect(expected).toContain(':41:');
    for (const workers of [2, 3]) expect(() => checkSplit(path, workers)).toThrow(expected);
  });

  for (const [name, breakLines] of [
    ['a second invocation with none completed', (lines: string[], invoke: number) => lines.splice(invoke + 1, 0, lines[invoke])],
    ['a completion with no invocation', (lines: string[], invoke: number) => lines.splice(invoke, 1)],
  ] as const) {
    it(`${name} is a bad history on the worker path too, with the one-thread error`, () => {
      const lines = generatedLines({ ops: 300, keys: 6, processes: 4, seed: 12 });
      // An invocation of a process whose completion follows (so removing it orphans the completion).
      const invoke = lines.findIndex((line, i) => i > 100 && line.includes('"invoke"'));
      breakLines(lines, invoke);
      const path = writeLines(lines);
      let expected = '';
      try {
        readHistoryFile(path);
      } catch (error) {
        expected = (error as Error).message;
      }
      expect(expected).toMatch(/:\d+: expected (process \d+ to complete|an open invocation)/);
      for (const workers of [2, 3]) expect(() => checkSplit(path, workers)).toThrow(expected);
    });
  }

  it('a field repeated later in a line makes the workers give up rather than split wrongly', () => {
    const lines = generatedLines({ ops: 100, keys: 4, processes: 4, seed: 5 });
    const invoke = lines.findIndex((line) => line.includes('"invoke"'));
    lines[invoke] = lines[invoke].replace(/\}$/, ',"key":"elsewhere"}');
    const path = writeLines(lines);
    expect(checkSplit(path, 2)).toBeUndefined();
  });
});
