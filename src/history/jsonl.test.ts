// Proves the JSONL reader keeps every field, numbers lines right in its errors, tolerates only a torn last
// line, and reads identically however a file is chunked (fast-check over random ops and chunk sizes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlHistory, readJsonlHistoryFile } from './jsonl.js';
import { errorOf } from '../testing/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-jsonl-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const readmeExample =
  '{"process":3,"type":"invoke","f":"cas","key":"k7","value":[1,2],"time":18250}\n' +
  '{"process":3,"type":"ok","f":"cas","key":"k7","value":[1,2],"time":1020031,"node":"n1","latencyNs":5}\n';


describe('parseJsonlHistory', () => {
  it('reads the format of the histories README, assigning indexes and keeping unknown fields', () => {
    const { history, warnings } = parseJsonlHistory(readmeExample, 'h.jsonl');
    expect(warnings).toEqual([]);
    expect(history).toEqual([
      { index: 0, process: 3, type: 'invoke', f: 'cas', key: 'k7', value: [1, 2], time: 18250 },
      { index: 1, process: 3, type: 'ok', f: 'cas', key: 'k7', value: [1, 2], time: 1020031, node: 'n1', latencyNs: 5 },
    ]);
  });

  it('accepts the nemesis process, a missing value (null) and blank lines', () => {
    const text = '\n{"process":"nemesis","type":"info","f":"start","time":5}\n\n{"process":0,"type":"invoke","f":"read","time":6}\n';
    const { history } = parseJsonlHistory(text, 'h.jsonl');
    expect(history.map((op) => [op.index, op.process, op.value])).toEqual([
      [0, 'nemesis', null],
      [1, 0, null],
    ]);
  });

  it('ignores a torn last line with a warning naming its line', () => {
    const torn = `${readmeExample}{"process":4,"type":"inv`;
    const { history, warnings } = parseJsonlHistory(torn, 'run/history.jsonl');
    expect(history).toHaveLength(2);
    expect(warnings).toEqual(['run/history.jsonl:3: ignored a torn last line (the history was cut off mid-write)']);
  });

  it('accepts a complete last line without a newline', () => {
    const { history, warnings } = parseJsonlHistory(readmeExample.trimEnd(), 'h.jsonl');
    expect(history).toHaveLength(2);
    expect(warnings).toEqual([]);
  });

  it('rejects bad JSON in the middle of the file with FILE:LINE', () => {
    const text = `${readmeExample.split('\n')[0]}\n{"process":3,"type":"ok",,}\n${readmeExample}`;
    const error = errorOf(() => parseJsonlHistory(text, 'h.jsonl'));
    expect(error.message).toMatch(/^h\.jsonl:2: expected one JSON object per line \(/);
    expect(error.message).not.toContain('\n');
  });

  it('rejects a torn line that is not the last one', () => {
    const text = `{"process":4,"type":"inv\n${readmeExample}`;
    expect(errorOf(() => parseJsonlHistory(text, 'h.jsonl')).message).toMatch(/^h\.jsonl:1: expected one JSON object/);
  });

  it.each([
    ['{"process":"x","type":"ok","f":"read","time":1}', 'expected "process" to be an integer or "nemesis", got "x"'],
    ['{"process":1.5,"type":"ok","f":"read","time":1}', 'expected "process" to be an integer or "nemesis", got 1.5'],
    ['{"process":1,"type":"done","f":"read","time":1}', 'expected "type" to be invoke, ok, fail or info, got "done"'],
    ['{"process":1,"type":"ok","f":3,"time":1}', 'expected "f" to be a string, got 3'],
    ['{"process":1,"type":"ok","f":"read","time":"soon"}', 'expected "time" to be a number of nanoseconds, got "soon"'],
    ['{"process":1,"type":"ok","f":"read","key":[1],"time":1}', 'expected "key" to be a string, a number or null, got [1]'],
    ['[1,2,3]', 'expected an operation object, got [1,2,3]'],
  ])('rejects a field of the wrong type: %s', (line, message) => {
    const text = `${readmeExample}${line}\n`;
    expect(errorOf(() => parseJsonlHistory(text, 'h.jsonl')).message).toBe(`h.jsonl:3: ${message}`);
  });
});

describe('readJsonlHistoryFile', () => {
  it('names a missing file', () => {
    expect(errorOf(() => readJsonlHistoryFile(join(directory, 'missing.jsonl'))).message).toMatch(/missing\.jsonl: no such file$/);
  });

  it('reads a file the same as the text, whatever the chunk size (multi-byte characters split across chunks)', () => {
    const opArbitrary = fc.record({
      process: fc.oneof(fc.nat({ max: 50 }), fc.constant('nemesis' as const)),
      type: fc.constantFrom('invoke', 'ok', 'fail', 'info'),
      f: fc.constantFrom('read', 'write', 'cas', 'añadir', '写'),
      key: fc.option(fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer()), { nil: undefined }),
      value: fc.jsonValue(),
      time: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 30 }), fc.integer({ min: 1, max: 64 }), fc.boolean(), (ops, chunk, torn) => {
        // Jepsen's pairing: a client process alternates invocation and completion.
        const open = new Set<number>();
        for (const op of ops) {
          if (typeof op.process !== 'number') continue;
          if (open.has(op.process) === (op.type === 'invoke')) op.type = open.has(op.process) ? 'ok' : 'invoke';
          if (op.type === 'invoke') open.add(op.process);
          else open.delete(op.process);
        }
        let text = ops.map((op) => JSON.stringify(op)).join('\n') + (ops.length > 0 ? '\n' : '');
        if (torn) text += '{"process":1,"ty';
        const file = join(directory, 'chunked.jsonl');
        writeFileSync(file, text);
        const fromFile = readJsonlHistoryFile(file, 'chunked.jsonl', chunk);
        const fromText = parseJsonlHistory(text, 'chunked.jsonl');
        expect(fromFile).toEqual(fromText);
        expect(fromFile.history).toHaveLength(ops.length);
        expect(fromFile.warnings).toHaveLength(torn ? 1 : 0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('process pairing', () => {
  const invoke = (process: number | string, f = 'write') => `{"process":${JSON.stringify(process)},"type":"invoke","f":"${f}","value":1}`;
  const complete = (process: number | string, type: string) => `{"process":${JSON.stringify(process)},"type":"${type}","f":"write","value":1}`;

  it('a process that invokes twice without a completion is a bad history, naming the line', () => {
    const text = [invoke(0), invoke(1), complete(1, 'ok'), invoke(0)].join('\n') + '\n';
    expect(errorOf(() => parseJsonlHistory(text, 'h.jsonl')).message).toBe(
      'h.jsonl:4: expected process 0 to complete its invocation of line 1 before invoking again',
    );
  });

  it('a completion with no open invocation is a bad history, naming the line', () => {
    const text = [invoke(0), complete(0, 'ok'), complete(0, 'fail')].join('\n') + '\n';
    expect(errorOf(() => parseJsonlHistory(text, 'h.jsonl')).message).toBe('h.jsonl:3: expected an open invocation by process 0 before this "fail" completion');
  });

  it('the file reader catches it too', () => {
    const path = join(directory, 'orphan.jsonl');
    writeFileSync(path, [invoke(0), complete(0, 'ok'), complete(5, 'info')].join('\n') + '\n');
    expect(errorOf(() => readJsonlHistoryFile(path, 'orphan.jsonl')).message).toBe('orphan.jsonl:3: expected an open invocation by process 5 before this "info" completion');
  });

  it('accepts a new invocation after any completion (info included), open invocations at the end, and unpaired nemesis ops', () => {
    const text = [invoke('nemesis', 'start'), invoke(0), complete(0, 'info'), invoke('nemesis', 'stop'), invoke(0), complete(0, 'ok'), complete('nemesis', 'info'), invoke(0), invoke(1)].join('\n') + '\n';
    expect(parseJsonlHistory(text, 'h.jsonl').history.length).toBe(9);
  });
});
