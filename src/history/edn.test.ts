// Proves the EDN reader turns Jepsen histories into ops (every EDN file under shared/histories included),
// splits jepsen.independent tuples exactly when it should, and names the line of every malformed op.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readEdnHistory } from './edn.js';
import { errorOf } from '../testing/errors.js';

const historiesDirectory = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'histories');

function ednFilesUnder(directory: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...ednFilesUnder(path));
    else if (name.endsWith('.edn')) found.push(path);
  }
  return found;
}


const twoOps = `{:process 0, :type :invoke, :f :write, :value 3}
{:process 0, :type :ok, :f :write, :value 3}`;

describe('readEdnHistory', () => {
  it('reads a vector, a list and a stream of op maps identically, with leading comments', () => {
    const asStream = readEdnHistory(`; a comment\n${twoOps}\n`, 'h.edn');
    const asVector = readEdnHistory(`; a comment\n[${twoOps}]`, 'h.edn');
    const asList = readEdnHistory(`;; two\n;; comments\n(${twoOps})\n`, 'h.edn');
    expect(asStream).toEqual([
      { index: 0, process: 0, type: 'invoke', f: 'write', value: 3, time: 0 },
      { index: 1, process: 0, type: 'ok', f: 'write', value: 3, time: 1 },
    ]);
    expect(asVector).toEqual(asStream);
    expect(asList).toEqual(asStream);
  });

  it('maps keywords to strings, nil to null, vectors to arrays, and keeps :time, :index and other fields', () => {
    const history = readEdnHistory(
      `[{:type :invoke, :f :txn, :value [[:read :x nil] [:write :y 2]], :process 3, :time 7686455705, :index 10}
        {:type :info, :f :start, :process :nemesis, :time 7686455800, :index 11, :node "n1", :extra #{:a}}
        {:type :fail, :f :txn, :value [[:read :x nil] [:write :y 2]], :process 3, :time 7686456000, :index 12, :error [:timeout nil]}]`,
      'h.edn',
    );
    expect(history[0]).toEqual({ type: 'invoke', f: 'txn', value: [['read', 'x', null], ['write', 'y', 2]], process: 3, time: 7686455705, index: 10 });
    expect(history[1]).toEqual({ type: 'info', f: 'start', process: 'nemesis', time: 7686455800, index: 11, node: 'n1', extra: ['a'], value: null });
    expect(history[2].error).toBe('["timeout",null]');
  });

  it('turns big integers into numbers and nested maps into objects', () => {
    const history = readEdnHistory('{:process 2, :type :invoke, :f :read}\n{:process 2, :type :ok, :f :read, :time 12N, :value {:x 1, "y" [2N], 3 nil}}', 'h.edn');
    expect(history[1].time).toBe(12);
    expect(history[1].value).toEqual({ x: 1, y: [2], '3': null });
  });

  it('reads tagged jepsen.history.Op records', () => {
    const history = readEdnHistory('#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 1, :f :read, :value nil}', 'h.edn');
    expect(history).toEqual([{ index: 0, time: 5, type: 'invoke', process: 1, f: 'read', value: null }]);
  });

  describe('jepsen.independent tuples', () => {
    const independent = `[{:process 0, :type :invoke, :f :read, :value [:a nil]}
 {:process 0, :type :ok, :f :read, :value [:a 4]}
 {:process 1, :type :invoke, :f :cas, :value [7 [1 2]]}
 {:process 1, :type :fail, :f :cas, :value [7 [1 2]]}
 {:process :nemesis, :type :info, :f :start, :value nil}]`;

    it('are detected and split into key and value', () => {
      const history = readEdnHistory(independent, 'h.edn');
      expect(history.map((op) => [op.key, op.value])).toEqual([
        ['a', null],
        ['a', 4],
        [7, [1, 2]],
        [7, [1, 2]],
        [undefined, null],
      ]);
    });

    it('are left alone with independent: false', () => {
      const history = readEdnHistory(independent, 'h.edn', { independent: false });
      expect(history[1].key).toBeUndefined();
      expect(history[1].value).toEqual(['a', 4]);
    });

    it('are not detected in a plain cas register whose reads carry nil', () => {
      const history = readEdnHistory(
        `[{:process 7, :type :invoke, :f :cas, :value [2 3]} {:process 7, :type :fail, :f :cas, :value [2 3]}
          {:process 1, :type :invoke, :f :read, :value nil} {:process 1, :type :ok, :f :read, :value 2}]`,
        'h.edn',
      );
      expect(history[0].value).toEqual([2, 3]);
      expect(history[0].key).toBeUndefined();
    });

    it('forced on a history without tuples, name the first op that is not one', () => {
      const error = errorOf(() => readEdnHistory(`${twoOps}\n`, 'h.edn', { independent: true }));
      expect(error.message).toBe('h.edn:1: expected an independent [key value] tuple as "value", got 3');
    });
  });

  describe('malformed input', () => {
    it.each([
      [`[${twoOps}\n{:process 1, :type :ok, :f :read}`, "h.edn:1: expected ']' to close the '[' opened here before the file ends"],
      [`[${twoOps}\n{:process 1, :type :ok, :f :read}])`, "h.edn:3: expected an EDN form, got an unmatched ')'"],
      [`[${twoOps}\n{:process 1, :type :ok, :f :read]]`, "h.edn:3: expected '}' to close the '{' opened at line 3, got ']'"],
      [`[${twoOps}\n{:process 1, :type :ok, :f :read, :value "abc}]`, 'h.edn:3: expected a closing " for the string that starts here'],
      [`[${twoOps}\n 42]`, 'h.edn:3: expected an operation map {:process .. :type .. :f ..}, got "42"'],
      [`[${twoOps}\n{:process 1, :f :read}]`, 'h.edn:3: expected "type" to be invoke, ok, fail or info, got nothing'],
      [`${twoOps}\n\n{:process :client, :type :ok, :f :read}`, 'h.edn:4: expected "process" to be an integer or "nemesis", got "client"'],
    ])('%#: reports %1$s', (text, message) => {
      expect(errorOf(() => readEdnHistory(text, 'h.edn')).message).toBe(message);
    });
  });

  it('reads every EDN history under shared/histories', () => {
    const files = ednFilesUnder(historiesDirectory);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const history = readEdnHistory(readFileSync(file, 'utf8'), file);
      expect(history.length, file).toBeGreaterThan(0);
      const malformed = history.filter(
        (op) =>
          !['invoke', 'ok', 'fail', 'info'].includes(op.type) ||
          typeof op.f !== 'string' ||
          !(typeof op.process === 'number' || op.process === 'nemesis') ||
          !Number.isFinite(op.time),
      );
      expect(malformed, file).toEqual([]);
    }
  });
});

describe('process pairing in EDN', () => {
  it('a process invoking twice without a completion, or a completion with none open, names the line', () => {
    const doubled = `[{:process 0, :type :invoke, :f :write, :value 3}
 {:process :nemesis, :type :info, :f :start}
 {:process 0, :type :invoke, :f :read, :value nil}]`;
    expect(errorOf(() => readEdnHistory(doubled, 'h.edn')).message).toBe('h.edn:3: expected process 0 to complete its invocation of line 1 before invoking again');
    const orphan = `${twoOps}
{:process 1, :type :ok, :f :read, :value 3}`;
    expect(errorOf(() => readEdnHistory(orphan, 'h.edn')).message).toBe('h.edn:3: expected an open invocation by process 1 before this "ok" completion');
  });
});
