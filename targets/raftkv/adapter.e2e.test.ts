// Proves the Faultline adapter (raftkvTarget) drives a real raftkv cluster: Db setup/kill/start/pause/resume,
// primaries and dataFiles through a Backend, and the register, set and list-append clients' ops and error
// mapping (and counter). The in-test Backend runs processes directly on this host, each node on its own loopback address.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, DaemonOptions, ExecOptions, ExecResult, Node } from '../../src/backends/types.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { raftkvTarget, RaftkvDb, RaftkvHttpClient } from './index.js';
import { ensureBuilt, freePort } from './local-cluster.js';

/** Nodes as processes on this host; node i listens on its own loopback address 127.<run>.<run>.<i>. */
class HostProcessBackend implements Backend {
  readonly name = 'local' as const;
  readonly runId = `raftkv-adapter-${process.pid}`;
  readonly pids = new Set<number>();
  private readonly root = mkdtempSync(join(tmpdir(), 'raftkv-adapter-'));

  async provision(count: number): Promise<Node[]> {
    // A random 127.x.y prefix keeps these addresses apart from other tests running at the same time.
    const second = 100 + Math.floor(Math.random() * 100);
    const third = Math.floor(Math.random() * 250);
    return Array.from({ length: count }, (_, index) => {
      const dir = join(this.root, `n${index + 1}`);
      mkdirSync(dir, { recursive: true });
      const clockFile = join(dir, 'clock');
      writeFileSync(clockFile, '+0\n');
      return { name: `n${index + 1}`, host: `127.${second}.${third}.${index + 1}`, dir, clockFile };
    });
  }

  exec(_node: Node, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(argv[0], argv.slice(1), { timeout: options.timeoutMs ?? 30_000, env: { ...process.env, ...options.env } }, (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (exitCode !== 0 && !options.allowFailure) reject(new Error(`${argv.join(' ')} exited ${exitCode}: ${stderr}`));
        else resolve({ exitCode, stdout, stderr });
      });
      if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    });
  }

  async startDaemon(_node: Node, argv: readonly string[], options: DaemonOptions): Promise<number> {
    const output = openSync(options.logFile, 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', output, output], env: { ...process.env, ...options.env }, cwd: options.cwd });
    closeSync(output);
    child.unref();
    const pid = child.pid!;
    this.pids.add(pid);
    writeFileSync(options.pidFile, `${pid}\n`);
    return pid;
  }

  async upload(_node: Node, localPath: string, remotePath: string): Promise<void> {
    copyFileSync(localPath, remotePath);
  }
  async download(_node: Node, remotePath: string, localPath: string): Promise<void> {
    copyFileSync(remotePath, localPath);
  }
  async writeFile(_node: Node, remotePath: string, content: string | Buffer): Promise<void> {
    writeFileSync(remotePath, content);
  }
  async teardown(): Promise<void> {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

const backend = new HostProcessBackend();
let nodes: Node[] = [];
let test: TestContext;
let db: RaftkvDb;
let port = 0;
let nextIndex = 0;

function invocation(process: number, f: string, value: unknown, key?: number): Op {
  return { index: nextIndex++, process, type: 'invoke', f, value, time: 0, ...(key === undefined ? {} : { key }) };
}

beforeAll(async () => {
  ensureBuilt();
  nodes = await backend.provision(3);
  test = { name: 'raftkv-adapter', runId: backend.runId, runDir: tmpdir(), backend, nodes, seed: 1, spec: {}, log: () => {} };
  // One port for all nodes (each has its own address).
  port = await freePort();
  db = raftkvTarget.db({ port, serverArguments: ['--tick-ms', '20', '--election-ticks', '25', '--heartbeat-ticks', '3', '--snapshot-threshold', '200'] }) as RaftkvDb;
  await Promise.all(nodes.map((node) => db.setup(test, node)));
}, 120_000);

afterAll(async () => {
  for (const node of nodes) await db.teardown(test, node).catch(() => {});
  await backend.teardown();
});

describe('raftkvTarget against a real cluster', () => {
  it('starts every node under the Backend, reports one primary and its data files', async () => {
    const primaries = await db.primaries!(test);
    expect(primaries).toHaveLength(1);
    const files = await db.dataFiles!(test, nodes[0]);
    expect(files.some((file) => file.endsWith('/wal.log'))).toBe(true);
    expect(db.logFiles(test, nodes[0])[0]).toMatch(/raftkv\.log$/);
    expect(db.clockSkewable).toBe(true);
  });

  it('speaks the register ops: write, read, cas that swaps and cas that fails', async () => {
    const client = await raftkvTarget.client('register', { port }).open(test, nodes[1]);
    try {
      expect(await client.invoke(test, invocation(0, 'write', 5, 1))).toMatchObject({ type: 'ok', f: 'write', value: 5, key: 1 });
      expect(await client.invoke(test, invocation(0, 'read', null, 1))).toMatchObject({ type: 'ok', value: 5 });
      expect(await client.invoke(test, invocation(0, 'cas', [5, 6], 1))).toMatchObject({ type: 'ok', value: [5, 6] });
      expect(await client.invoke(test, invocation(0, 'cas', [5, 7], 1))).toMatchObject({ type: 'fail', value: [5, 7] });
      expect(await client.invoke(test, invocation(0, 'read', null, 1))).toMatchObject({ type: 'ok', value: 6 });
      expect(await client.invoke(test, invocation(0, 'read', null, 2))).toMatchObject({ type: 'ok', value: null });
    } finally {
      await client.close(test);
    }
  });

  it('speaks the set ops from every node at once, and list-append transactions', async () => {
    const clients = await Promise.all(nodes.map((node) => raftkvTarget.client('set', { port }).open(test, node)));
    try {
      const adds = await Promise.all(
        clients.map(async (client, worker) => {
          const results: Op[] = [];
          for (let element = worker; element < 60; element += clients.length) results.push(await client.invoke(test, invocation(worker, 'add', element)));
          return results;
        }),
      );
      expect(adds.flat().every((op) => op.type === 'ok')).toBe(true);
      const read = await clients[2].invoke(test, invocation(9, 'read', null));
      expect(read).toMatchObject({ type: 'ok', value: Array.from({ length: 60 }, (_, element) => element) });
    } finally {
      for (const client of clients) await client.close(test);
    }
    const lists = await raftkvTarget.client('list-append', { port }).open(test, nodes[0]);
    try {
      const first = await lists.invoke(test, invocation(0, 'txn', [['append', 1, 10], ['append', 2, 20], ['r', 1, null]]));
      expect(first).toMatchObject({ type: 'ok', value: [['append', 1, 10], ['append', 2, 20], ['r', 1, [10]]] });
      const second = await lists.invoke(test, invocation(0, 'txn', [['r', 2, null], ['append', 1, 11], ['r', 1, null], ['r', 3, null]]));
      expect(second).toMatchObject({ type: 'ok', value: [['r', 2, [20]], ['append', 1, 11], ['r', 1, [10, 11]], ['r', 3, []]] });
    } finally {
      await lists.close(test);
    }
  });

  it('speaks the counter ops: concurrent adds from every node sum up exactly', async () => {
    const clients = await Promise.all(nodes.map((node) => raftkvTarget.client('counter', { port }).open(test, node)));
    try {
      const adds = await Promise.all(clients.map(async (client, worker) => {
        const results: Op[] = [];
        for (let round = 0; round < 10; round++) results.push(await client.invoke(test, invocation(20 + worker, 'add', worker + 1)));
        return results;
      }));
      expect(adds.flat().every((op) => op.type === 'ok')).toBe(true);
      // 10 rounds of 1 + 2 + 3.
      expect(await clients[0].invoke(test, invocation(29, 'read', null))).toMatchObject({ type: 'ok', value: 60 });
    } finally {
      for (const client of clients) await client.close(test);
    }
  });

  it('kills, restarts, pauses and resumes nodes; a dead node\'s ops fail definitely, and no acknowledged write is lost', async () => {
    const [leaderName] = await db.primaries!(test);
    const leader = nodes.find((node) => node.name === leaderName)!;
    const survivor = nodes.find((node) => node !== leader)!;
    const toLeader = await raftkvTarget.client('register', { port }).open(test, leader);
    const toSurvivor = await raftkvTarget.client('register', { port }).open(test, survivor);
    try {
      expect(await toLeader.invoke(test, invocation(1, 'write', 'before-kill', 7))).toMatchObject({ type: 'ok' });
      await db.kill(test, leader);
      // A new connection to the killed node is refused, so even a write certainly did not apply. (An op on a
      // kept-alive connection that breaks may have reached the server: that one is info, by design.)
      // Right after SIGKILL a connection can still race the dying listener and be reset, and then nobody can
      // know whether the write was read: info is the honest answer. Never ok; once refused, always fail.
      const toDead = await raftkvTarget.client('register', { port }).open(test, leader);
      try {
        let refused: Op | null = null;
        for (let attempt = 0; attempt < 20 && refused?.type !== 'fail'; attempt++) {
          refused = await toDead.invoke(test, invocation(4 + attempt * 100, 'write', 'never', 7));
          expect(refused.type, JSON.stringify(refused)).not.toBe('ok');
          if (refused.type !== 'fail') await new Promise((wait) => setTimeout(wait, 100));
        }
        expect(refused, JSON.stringify(refused)).toMatchObject({ type: 'fail' });
        expect(await toDead.invoke(test, invocation(4, 'read', null, 7))).toMatchObject({ type: 'fail' });
      } finally {
        await toDead.close(test);
      }

      // The survivors elect a new leader; writes through a survivor succeed once it has (bounded retries).
      let written: Op | null = null;
      for (let attempt = 0; attempt < 60 && written?.type !== 'ok'; attempt++) {
        written = await toSurvivor.invoke(test, invocation(2, 'write', 'after-kill', 8));
        if (written.type !== 'ok') await new Promise((wait) => setTimeout(wait, 200));
      }
      expect(written?.type).toBe('ok');
      const newPrimaries = await db.primaries!(test);
      expect(newPrimaries).toHaveLength(1);
      expect(newPrimaries[0]).not.toBe(leader.name);

      await db.start(test, leader);
      // Freeze a node that is neither the leader nor the one this client talks to.
      const follower = nodes.find((node) => node.name !== newPrimaries[0] && node !== survivor)!;
      await db.pause(test, follower);
      // A majority remains: writes still commit while one follower is frozen.
      const whilePaused = await toSurvivor.invoke(test, invocation(2, 'write', 'while-paused', 9));
      expect(whilePaused, JSON.stringify(whilePaused)).toMatchObject({ type: 'ok' });
      await db.resume(test, follower);

      const fromRestarted = await raftkvTarget.client('register', { port }).open(test, leader);
      try {
        let read: Op | null = null;
        for (let attempt = 0; attempt < 60 && read?.type !== 'ok'; attempt++) {
          read = await fromRestarted.invoke(test, invocation(3, 'read', null, 7));
          if (read.type !== 'ok') await new Promise((wait) => setTimeout(wait, 200));
        }
        expect(read).toMatchObject({ type: 'ok', value: 'before-kill' });
        expect(await fromRestarted.invoke(test, invocation(3, 'read', null, 9))).toMatchObject({ type: 'ok', value: 'while-paused' });
      } finally {
        await fromRestarted.close(test);
      }
    } finally {
      await toLeader.close(test);
      await toSurvivor.close(test);
      // Leave a whole, running cluster for the next test whatever happened here.
      for (const node of nodes) {
        await db.resume(test, node);
        await db.start(test, node);
      }
    }
  });

  it('runs the server under libfaketime: a skewed clock file moves its wall clock, not its election timers', async () => {
    const node = nodes[0];
    const statusClient = new RaftkvHttpClient(node.host, port);
    try {
      await db.waitForLeader(test);
      const before = await statusClient.status();
      await backend.writeFile(node, node.clockFile, '+3600\n');
      const skewed = await statusClient.status();
      const offsetMs = (skewed.wallClockMs as number) - Date.now();
      expect(Math.abs(offsetMs - 3_600_000)).toBeLessThan(60_000);
      // Election timers run on the monotonic clock: an hour's wall-clock jump must not start an election.
      await new Promise((wait) => setTimeout(wait, 1500));
      expect((await statusClient.status()).term).toBe(before.term);
    } finally {
      await backend.writeFile(node, node.clockFile, '+0\n');
      statusClient.close();
    }
  });

  it('tears a node down: its process is gone and its directory removed', async () => {
    const node = nodes[2];
    const pidText = (await backend.exec(node, ['cat', `${node.dir}/raftkv/raftkv.pid`])).stdout.trim();
    await db.teardown(test, node);
    expect((await backend.exec(node, ['kill', '-0', pidText], { allowFailure: true })).exitCode).not.toBe(0);
    expect((await backend.exec(node, ['ls', `${node.dir}/raftkv`], { allowFailure: true })).exitCode).not.toBe(0);
  });
});
