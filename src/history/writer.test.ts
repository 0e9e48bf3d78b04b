// Proves HistoryWriter's durability promises on a real file: appended ops reach disk within a second
// without close, flushSync and close lose nothing, a killed writer (SIGKILL) keeps every op flushed before
// the kill, and a torn file reads back minus its torn line. Round trips are property-tested (fast-check).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonlHistoryFile } from './jsonl.js';
import { HistoryWriter, type AppendableOp } from './writer.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-writer-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let fileCounter = 0;
function freshPath(): string {
  fileCounter++;
  return join(directory, `history-${fileCounter}.jsonl`);
}

function registerOp(position: number): AppendableOp {
  return {
    // Each process invokes, then completes (the reader holds histories to Jepsen's pairing).
    process: Math.floor(position / 2) % 5,
    type: position % 2 === 0 ? 'invoke' : 'ok',
    f: 'write',
    key: `k${position % 3}`,
    value: position,
    time: position * 1000,
  };
}

describe('HistoryWriter', () => {
  it('round-trips any ops through the JSONL reader, assigning indexes in order', async () => {
    const opArbitrary = fc.record({
      process: fc.oneof(fc.nat({ max: 20 }), fc.constant('nemesis' as const)),
      type: fc.constantFrom('invoke' as const, 'ok' as const, 'fail' as const, 'info' as const),
      f: fc.constantFrom('read', 'write', 'cas', 'añadir'),
      value: fc.jsonValue(),
      time: fc.nat(),
      note: fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { maxLength: 40 }), async (ops) => {
        // Jepsen's pairing, which the reader checks: a client process alternates invocation and completion.
        const open = new Set<number>();
        for (const op of ops) {
          if (typeof op.process !== 'number') continue;
          if (open.has(op.process) === (op.type === 'invoke')) op.type = open.has(op.process) ? 'ok' : 'invoke';
          if (op.type === 'invoke') open.add(op.process);
          else open.delete(op.process);
        }
        const path = freshPath();
        const writer = new HistoryWriter(path);
        const indexes = ops.map((op) => writer.append({ ...op }));
        await writer.close();
        expect(indexes).toEqual(ops.map((_, position) => position));
        const { history, warnings } = readJsonlHistoryFile(path);
        expect(warnings).toEqual([]);
        // JSON round trip is the reference: -0 becomes 0 and undefined fields vanish.
        const expected = ops.map((op, index) => ({ ...JSON.parse(JSON.stringify(op)), index, value: JSON.parse(JSON.stringify(op.value ?? null)) }));
        expect(history).toEqual(expected);
        rmSync(path);
      }),
      { numRuns: 60 },
    );
  });

  it('puts appended ops on disk within a second, without close', async () => {
    const path = freshPath();
    const writer = new HistoryWriter(path);
    try {
      for (let position = 0; position < 1000; position++) writer.append(registerOp(position));
      await new Promise((done) => setTimeout(done, 1000));
      const { history } = readJsonlHistoryFile(path);
      expect(history).toHaveLength(1000);
      expect(history[999]).toMatchObject({ index: 999, value: 999 });
    } finally {
      await writer.close();
    }
  });

  it('flushSync writes everything appended so far, even with an asynchronous flush in flight', async () => {
    const path = freshPath();
    const writer = new HistoryWriter(path, { flushIntervalMs: 1000 });
    try {
      for (let position = 0; position < 500; position++) writer.append(registerOp(position));
      const inFlight = writer.flush();
      for (let position = 500; position < 800; position++) writer.append(registerOp(position));
      writer.flushSync();
      expect(readJsonlHistoryFile(path).history.map((op) => op.index)).toEqual(Array.from({ length: 800 }, (_, index) => index));
      await inFlight;
      expect(readJsonlHistoryFile(path).history).toHaveLength(800);
    } finally {
      await writer.close();
    }
  });

  it('keeps indexes given by the caller, sets missing ones on the op, and refuses appends after close', async () => {
    const path = freshPath();
    const writer = new HistoryWriter(path, { firstIndex: 10 });
    const op = registerOp(0);
    expect(writer.append(op)).toBe(10);
    expect(op.index).toBe(10);
    expect(writer.append({ ...registerOp(1), index: 20 })).toBe(20);
    expect(writer.append(registerOp(2))).toBe(21);
    await writer.close();
    expect(() => writer.append(registerOp(3))).toThrow(/closed/);
    expect(readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line).index)).toEqual([10, 20, 21]);
  });

  it('leaves a torn file that reads back minus the torn line', async () => {
    const path = freshPath();
    const writer = new HistoryWriter(path);
    for (let position = 0; position < 100; position++) writer.append(registerOp(position));
    await writer.close();
    truncateSync(path, statSync(path).size - 10);
    const { history, warnings } = readJsonlHistoryFile(path, 'history.jsonl');
    expect(history).toHaveLength(99);
    expect(history[98].index).toBe(98);
    expect(warnings).toEqual(['history.jsonl:100: ignored a torn last line (the history was cut off mid-write)']);
  });

  it('keeps every op flushed before the process is killed with SIGKILL', () => {
    const compiledWriter = join(repositoryRoot, 'dist', 'src', 'history', 'writer.js');
    expect(existsSync(compiledWriter), `${compiledWriter} missing: run npm run build first`).toBe(true);
    const path = freshPath();
    // The child appends and flushes 2000 ops, reports, then appends more without waiting and kills itself.
    const child = `
      import { HistoryWriter } from ${JSON.stringify(compiledWriter)};
      const writer = new HistoryWriter(${JSON.stringify(path)}, { flushIntervalMs: 50 });
      for (let i = 0; i < 2000; i++) writer.append({ process: i, type: 'invoke', f: 'write', value: i, time: i });
      await writer.flush();
      process.stdout.write('flushed\\n');
      for (let i = 2000; i < 50000; i++) writer.append({ process: i, type: 'invoke', f: 'write', value: i, time: i });
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 60);
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 30_000 });
    expect(result.signal).toBe('SIGKILL');
    expect(result.stdout).toBe('flushed\n');
    const { history } = readJsonlHistoryFile(path);
    expect(history.length).toBeGreaterThanOrEqual(2000);
    expect(history.every((op, position) => op.index === position && op.value === position)).toBe(true);
  });
});
