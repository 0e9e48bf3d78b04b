// Proves how corrupt-file judges a node that will not start on its corrupted data: recorded as taken out by
// the fault (op value, run log), left down, never aimed at again, never more than a minority, and teardown
// does not call it an error. Real files changed by real od/dd on this host; the Db is a stand-in that refuses
// to start on any changed byte, as raftkv does on mid-log damage.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, ExecOptions, Node } from '../../src/backends/types.js';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { diskPackage } from './index.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** Runs each command on this host: the nodes are directories here. */
const hostBackend = {
  async exec(_node: Node, argv: readonly string[], options: ExecOptions = {}) {
    const result = await execa(argv[0], argv.slice(1), { input: options.stdin, reject: false, timeout: 10_000, encoding: 'utf8' });
    if (result.exitCode !== 0 && !options.allowFailure) throw new Error(`${argv.join(' ')}: ${result.stderr}`);
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
  },
} as unknown as Backend;

interface Cluster {
  test: TestContext;
  db: Db;
  logs: string[];
  starts: string[];
}

/** `count` nodes each holding a 4 KiB data file; the Db refuses to start a node whose file changed when `strict`. */
function cluster(count: number, strict: boolean): Cluster {
  const root = mkdtempSync(join(tmpdir(), 'faultline-disk-'));
  directories.push(root);
  const original = Buffer.alloc(4096, 0x61);
  const nodes: Node[] = Array.from({ length: count }, (_, index) => {
    const dir = join(root, `n${index + 1}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data.bin'), original);
    return { name: `n${index + 1}`, host: '127.0.0.1', dir, clockFile: join(dir, 'clock') };
  });
  const logs: string[] = [];
  const starts: string[] = [];
  const db = {
    async kill() {},
    async start(_test: TestContext, node: Node) {
      starts.push(node.name);
      if (strict && !readFileSync(join(node.dir, 'data.bin')).equals(original)) {
        throw new Error(`${node.name} exited 1: fatal: refusing to start: ${node.dir}/data.bin: corrupt at byte 0`);
      }
    },
    async dataFiles(_test: TestContext, node: Node) {
      return [join(node.dir, 'data.bin')];
    },
  } as unknown as Db;
  const test = { name: 'disk', runId: 'disk-unit', runDir: root, backend: hostBackend, nodes, seed: 1, spec: {}, log: (line: string) => logs.push(line) } as TestContext;
  return { test, db, logs, starts };
}

let opIndex = 0;
function corruptOp(seed: number): Op {
  return { index: opIndex++, process: 'nemesis', type: 'invoke', f: 'corrupt-file', value: { targets: 'one', mode: 'bitflip', seed }, time: 0 };
}

interface Corruption {
  takenOut?: string[];
  files: Array<{ node: string; restart?: string; restartError?: string; flips?: unknown[] }>;
}

describe('corrupt-file and a node that refuses to start', () => {
  it('records the refusal as the fault taking the node out, never aims at it again, and stops at a minority', async () => {
    const { test, db, logs, starts } = cluster(5, true);
    const nemesis = diskPackage().nemesis;
    const takenOut: string[] = [];
    for (const seed of [1, 2]) {
      const completion = await nemesis.invoke(test, db, corruptOp(seed));
      expect(completion.type, JSON.stringify(completion)).toBe('info');
      const value = completion.value as Corruption;
      const [record] = value.files;
      expect(record.restart).toBe('refused');
      expect(record.restartError).toContain('refusing to start');
      expect(value.takenOut).toEqual([record.node]);
      expect(takenOut).not.toContain(record.node);
      takenOut.push(record.node);
      expect(logs.at(-1)).toContain(`faultline: disk: ${record.node} did not start again after corrupt-file (bitflip of `);
    }
    // Two of five are out: a third could leave no majority, so the fault is refused with the reason.
    const third = await nemesis.invoke(test, db, corruptOp(3));
    expect(third.type).toBe('fail');
    expect(third.error).toBe(`corrupt-file: not injected: 2 of 5 nodes may be taken out, and ${takenOut.join(', ')} already refused to start after corruption`);

    // Teardown leaves them down (no restart attempt), says so once, and does not throw.
    const startsBefore = starts.length;
    await nemesis.teardown(test, db);
    expect(starts.length).toBe(startsBefore);
    expect(logs.at(-1)).toBe(`faultline: disk: left down, taken out by corrupt-file (they refused to start on corrupted data): ${takenOut.join(', ')}`);
  });

  it('records a clean restart when the node starts on its corrupted data', async () => {
    const { test, db, logs } = cluster(3, false);
    const nemesis = diskPackage().nemesis;
    for (const seed of [1, 2, 3]) {
      const completion = await nemesis.invoke(test, db, corruptOp(seed));
      expect(completion.type).toBe('info');
      const value = completion.value as Corruption;
      expect(value.files[0].restart).toBe('ok');
      expect(value.files[0].flips!.length).toBeGreaterThan(0);
      expect(value.takenOut).toBeUndefined();
    }
    await nemesis.teardown(test, db);
    expect(logs).toEqual([]);
  });
});
