// Proves the docker backend on a real engine: provisioned containers reach each other by name and address,
// exec/upload/download/startDaemon work, iptables partitions and libfaketime skew act inside, teardown leaves nothing.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { LIBFAKETIME_PATH, faketimeEnv } from '../clock.js';
import { describeWithDockerEngine, expectNoLabelledResources } from '../testing/docker.js';
import { DockerBackend, cleanupDockerLeftovers } from './docker.js';
import type { Node } from './types.js';

// CI installs the engine (scripts/setup-docker.sh), so there a missing engine is a failure, not a skip.
const runIt = await describeWithDockerEngine();

runIt('docker backend', () => {
  const runId = `flg-docker-e2e-${Date.now().toString(36)}`;
  const backend = new DockerBackend({ runId, image: 'faultline/base:latest', dataSizeMiB: 16 });
  let nodes: Node[] = [];
  let scratch = '';

  beforeAll(async () => {
    await buildImages({ images: ['base'], log: (line) => process.stdout.write(`images: ${line}\n`) });
    scratch = await mkdtemp(join(tmpdir(), 'flg-docker-e2e-'));
    nodes = await backend.provision(3);
  });

  afterAll(async () => {
    await backend.teardown();
    await cleanupDockerLeftovers({ runId });
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('gives each node its own name, address and data directory', async () => {
    expect(nodes.map((node) => node.name)).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(nodes.map((node) => node.host)).size).toBe(3);
    for (const node of nodes) {
      expect(node.host).toMatch(/^10\.242\.\d+\.\d+$/);
      const hostname = await backend.exec(node, ['hostname']);
      expect(hostname.stdout.trim()).toBe(node.name);
    }
    const disk = await backend.exec(nodes[0], ['df', '-k', nodes[0].dir]);
    // The data directory is a tmpfs of the requested 16 MiB, so a disk-filling fault is bounded.
    const sizeKiB = Number(disk.stdout.trim().split('\n')[1].split(/\s+/)[1]);
    expect(sizeKiB).toBe(16 * 1024);
  });

  it('lets nodes reach each other over the private network', async () => {
    // bash's /dev/tcp is not in minbase's dash, so probe with node, which every image carries.
    const server = await backend.startDaemon(nodes[1], ['node', '-e', "require('net').createServer((s)=>s.end('pong\\n')).listen(7000)"], {
      logFile: `${nodes[1].dir}/server.log`,
      pidFile: `${nodes[1].dir}/server.pid`,
    });
    expect(server).toBeGreaterThan(1);
    const probe = ['node', '-e', "const s=require('net').connect(7000,process.argv[1]);s.on('data',d=>{process.stdout.write(d);process.exit(0)});s.on('error',e=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(2),3000)"];
    let reply = { exitCode: -1, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 20 && reply.exitCode !== 0; attempt++) {
      reply = await backend.exec(nodes[0], [...probe, 'n2'], { allowFailure: true });
      if (reply.exitCode !== 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(reply.stdout).toBe('pong\n');
    const byAddress = await backend.exec(nodes[2], [...probe, nodes[1].host], { allowFailure: true });
    expect(byAddress.stdout).toBe('pong\n');

    // A partition made with iptables inside n1 cuts it off from n2 and only from n2.
    await backend.exec(nodes[0], ['iptables', '-A', 'OUTPUT', '-d', nodes[1].host, '-j', 'DROP']);
    const cut = await backend.exec(nodes[0], [...probe, nodes[1].host], { allowFailure: true });
    expect(cut.exitCode).not.toBe(0);
    const stillUp = await backend.exec(nodes[2], [...probe, nodes[1].host], { allowFailure: true });
    expect(stillUp.stdout).toBe('pong\n');
    await backend.exec(nodes[0], ['iptables', '-F', 'OUTPUT']);
    const healed = await backend.exec(nodes[0], [...probe, nodes[1].host], { allowFailure: true });
    expect(healed.stdout).toBe('pong\n');
  });

  it('runs commands with exit codes, separate streams, stdin, env and a time bound', async () => {
    const result = await backend.exec(nodes[0], ['sh', '-c', 'echo out; echo err >&2; echo "$GREETING"; exit 3'], {
      allowFailure: true,
      env: { GREETING: 'hello there' },
    });
    expect(result).toEqual({ exitCode: 3, stdout: 'out\nhello there\n', stderr: 'err\n' });
    await expect(backend.exec(nodes[0], ['false'])).rejects.toThrow(/exited 1/);
    const echoed = await backend.exec(nodes[0], ['wc', '-c'], { stdin: Buffer.alloc(100_000, 'x') });
    expect(echoed.stdout.trim()).toBe('100000');
    await expect(backend.exec(nodes[0], ['sleep', '30'], { timeoutMs: 500 })).rejects.toThrow(/timed out/);
    // The timed-out command was killed, not left behind.
    const sleepers = await backend.exec(nodes[0], ['sh', '-c', 'ps -eo args | grep -c "^sleep 30" || true']);
    expect(sleepers.stdout.trim()).toBe('0');
  });

  it('uploads, writes and downloads files byte for byte', async () => {
    const local = join(scratch, 'upload.bin');
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, index) => (index * 7) % 256));
    await writeFile(local, content, { mode: 0o755 });
    await backend.upload(nodes[2], local, `${nodes[2].dir}/deep/dir/upload.bin`);
    const mode = await backend.exec(nodes[2], ['stat', '-c', '%a %s', `${nodes[2].dir}/deep/dir/upload.bin`]);
    expect(mode.stdout.trim()).toBe('755 70000');
    await backend.download(nodes[2], `${nodes[2].dir}/deep/dir/upload.bin`, join(scratch, 'back.bin'));
    expect((await readFile(join(scratch, 'back.bin'))).equals(content)).toBe(true);
    await backend.writeFile(nodes[2], '/tmp/written.txt', 'written text\n');
    const read = await backend.exec(nodes[2], ['cat', '/tmp/written.txt']);
    expect(read.stdout).toBe('written text\n');
  });

  it('uploads a directory tree, merging it into the destination', async () => {
    const tree = join(scratch, 'tree');
    await mkdir(join(tree, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(tree, 'top.txt'), 'top\n');
    await writeFile(join(tree, 'sub', 'deeper', 'leaf.js'), 'export const leaf = 1;\n');
    await backend.writeFile(nodes[1], `${nodes[1].dir}/merged/kept.txt`, 'kept\n');
    await backend.upload(nodes[1], tree, `${nodes[1].dir}/merged`);
    const listing = await backend.exec(nodes[1], ['sh', '-c', `cd ${nodes[1].dir}/merged && find . -type f | sort && cat sub/deeper/leaf.js`]);
    expect(listing.stdout).toBe('./kept.txt\n./sub/deeper/leaf.js\n./top.txt\nexport const leaf = 1;\n');
  });

  it('shifts a process clock through libfaketime and the node clock file', async () => {
    const node = nodes[0];
    expect((await backend.exec(node, ['test', '-e', LIBFAKETIME_PATH], { allowFailure: true })).exitCode).toBe(0);
    const printYear = ['node', '-e', 'console.log(new Date().getUTCFullYear())'];
    const realYear = Number((await backend.exec(node, printYear)).stdout.trim());
    await backend.writeFile(node, node.clockFile, '+3650d\n');
    const skewedYear = Number((await backend.exec(node, printYear, { env: faketimeEnv(node) })).stdout.trim());
    expect(skewedYear - realYear).toBeGreaterThanOrEqual(9);
    await backend.writeFile(node, node.clockFile, '+0s\n');
  });

  it('starts daemons detached, with a pid file, that kill -STOP and -KILL act on', async () => {
    const node = nodes[2];
    const pid = await backend.startDaemon(node, ['sh', '-c', 'while true; do date +%s%N; sleep 0.05; done'], {
      logFile: `${node.dir}/ticker.log`,
      pidFile: `${node.dir}/ticker.pid`,
    });
    const pidFile = await backend.exec(node, ['cat', `${node.dir}/ticker.pid`]);
    expect(Number(pidFile.stdout.trim())).toBe(pid);
    await backend.exec(node, ['kill', '-STOP', String(pid)]);
    const state = await backend.exec(node, ['ps', '-o', 'stat=', '-p', String(pid)]);
    expect(state.stdout.trim()).toMatch(/^T/);
    await backend.exec(node, ['kill', '-CONT', String(pid)]);
    await backend.exec(node, ['kill', '-KILL', String(pid)]);
    // The container's init reaps it: no zombie stays behind for `kill -0` to mistake as alive.
    let gone = false;
    for (let attempt = 0; attempt < 20 && !gone; attempt++) {
      gone = (await backend.exec(node, ['ps', '-p', String(pid)], { allowFailure: true })).exitCode !== 0;
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(gone).toBe(true);
  });

  it('fills the data directory only up to its size limit', async () => {
    const node = nodes[1];
    const fill = await backend.exec(node, ['sh', '-c', `dd if=/dev/zero of=${node.dir}/fill bs=1M count=64 2>&1; true`]);
    expect(fill.stdout).toMatch(/No space left on device/);
    await backend.exec(node, ['rm', '-f', `${node.dir}/fill`]);
  });

  it('removes its containers, network and volumes at teardown', async () => {
    await backend.teardown();
    await expectNoLabelledResources(runId);
  });
});
