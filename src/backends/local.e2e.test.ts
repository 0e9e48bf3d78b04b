// Proves the local backend builds real namespaces on a bridge (node-to-node and controller-to-node traffic,
// tmpfs volumes, daemons, exec bounds) and that teardown, or `faultline cleanup` after a SIGKILLed controller,
// leaves no namespace, link, FORWARD rule, mount, process, manifest or directory behind.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, expect, it } from 'vitest';
import { register as registerCleanup } from '../cli/cleanup.js';
import { LOCAL_STATE_DIR, LocalBackend, cleanupLocalLeftovers, isRoot, runTag } from './local.js';
import type { Node } from './types.js';
import { describeWhen } from '../testing/requirements.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repository = path.resolve(here, '../..');

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const SERVER = `require('node:http').createServer((q, s) => s.end('hello ' + process.argv[2])).listen(8080, process.argv[1])`;
const FETCH = `fetch('http://' + process.argv[1] + ':8080', { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).then(console.log, () => console.log('unreachable'))`;

async function processGone(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** Everything on the host that still carries the run's tag, as lines; empty means nothing is left. */
async function leftovers(runId: string, runDir: string, pids: number[]): Promise<string[]> {
  const tag = runTag(runId);
  const found: string[] = [];
  const namespaces = execFileSync('ip', ['netns', 'list']).toString();
  if (namespaces.includes(`fl-${tag}-`)) found.push(`namespace: ${namespaces}`);
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').filter((line) => line.includes(`fl-${tag}-`));
  found.push(...links.map((line) => `link: ${line}`));
  const forward = execFileSync('iptables', ['-S', 'FORWARD']).toString().split('\n').filter((line) => line.includes(`fl-${tag}-`));
  found.push(...forward.map((line) => `rule: ${line}`));
  const mounts = (await fs.readFile('/proc/mounts', 'utf8')).split('\n').filter((line) => line.includes(`fl-${tag}-`));
  found.push(...mounts.map((line) => `mount: ${line}`));
  for (const pid of pids) if (!(await processGone(pid))) found.push(`process ${pid}`);
  for (const file of [path.join(LOCAL_STATE_DIR, `${runId}.json`), runDir]) {
    if (await fs.access(file).then(() => true, () => false)) found.push(`file: ${file}`);
  }
  return found;
}

const backends: LocalBackend[] = [];
const scratchDirectories: string[] = [];

describeWhen('the local backend e2e', { root: isRoot(), iptables: hasCommand('iptables') })('local backend', () => {
  afterAll(async () => {
    for (const backend of backends) await backend.teardown().catch(() => undefined);
    for (const directory of scratchDirectories) await fs.rm(directory, { recursive: true, force: true });
  });

  it('provisions namespaces that reach each other and the controller, with bounded exec, daemons and volumes', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'fl-local-test-'));
    scratchDirectories.push(root);
    const backend = new LocalBackend({ nodeRoot: root, diskSizeMb: 8 });
    backends.push(backend);
    const nodes = await backend.provision(2);
    expect(nodes.map((node) => node.name)).toEqual(['n1', 'n2']);
    const network = backend.network!;
    expect(network.subnet).toMatch(/^10\.240\.\d+\.0\/24$/);
    expect(nodes[0].host).toBe(network.subnet.replace('.0/24', '.1'));
    expect(await fs.readFile(nodes[0].clockFile, 'utf8')).toBe('+0\n');

    // Each node is its own namespace: its own interfaces, its own address.
    const addresses = await backend.exec(nodes[1], ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    expect(addresses.stdout).toContain(`${nodes[1].host}/24`);
    const mounts = await fs.readFile('/proc/mounts', 'utf8');
    expect(mounts).toContain(`fl-${backend.tag}-n1 ${nodes[0].dir} tmpfs`);
    const full = await backend.exec(nodes[0], ['dd', 'if=/dev/zero', `of=${nodes[0].dir}/big`, 'bs=1M', 'count=64'], { allowFailure: true });
    expect(full.stderr).toMatch(/No space left on device/);
    await backend.exec(nodes[0], ['rm', `${nodes[0].dir}/big`]);

    const pids: number[] = [];
    for (const node of nodes) {
      pids.push(await backend.startDaemon(node, [process.execPath, '-e', SERVER, node.host, node.name], {
        logFile: `${node.dir}/server.log`,
        pidFile: `${node.dir}/server.pid`,
      }));
    }
    // The pid is the daemon's own (not a wrapper's), in a session of its own, inside the node's namespace.
    expect(Number(await fs.readFile(`${nodes[0].dir}/server.pid`, 'utf8'))).toBe(pids[0]);
    // `ip netns exec` and `env` exec() in place: the same pid soon runs the daemon itself.
    let command = '';
    for (let attempt = 0; attempt < 50 && command !== process.execPath; attempt++) {
      command = (await fs.readFile(`/proc/${pids[0]}/cmdline`, 'utf8')).split('\0')[0];
      if (command !== process.execPath) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(command).toBe(process.execPath);
    expect(execFileSync('ip', ['netns', 'identify', String(pids[0])]).toString().trim()).toBe(`fl-${backend.tag}-n1`);

    let answer = '';
    for (let attempt = 0; attempt < 50 && !answer.startsWith('hello'); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = (await backend.exec(nodes[0], [process.execPath, '-e', FETCH, nodes[1].host])).stdout.trim();
    }
    expect(answer).toBe('hello n2');
    const direct = await fetch(`http://${nodes[0].host}:8080`, { signal: AbortSignal.timeout(2000) });
    expect(await direct.text()).toBe('hello n1');

    // Exec: stdin, env, exit codes, and its bound.
    const echoed = await backend.exec(nodes[0], ['sh', '-c', 'cat; echo " $GREETING"'], { stdin: 'piped', env: { GREETING: 'hi' } });
    expect(echoed.stdout).toBe('piped hi\n');
    expect((await backend.exec(nodes[0], ['false'], { allowFailure: true })).exitCode).toBe(1);
    await expect(backend.exec(nodes[0], ['false'])).rejects.toThrow(/exited 1/);
    await expect(backend.exec(nodes[0], ['sleep', '5'], { timeoutMs: 200 })).rejects.toThrow(/timed out/);

    // Files: the node's filesystem is this host's.
    const local = path.join(root, 'upload.txt');
    await fs.writeFile(local, 'payload');
    await backend.upload(nodes[1], local, `${nodes[1].dir}/in/upload.txt`);
    await backend.download(nodes[1], `${nodes[1].dir}/in/upload.txt`, path.join(root, 'back', 'copy.txt'));
    expect(await fs.readFile(path.join(root, 'back', 'copy.txt'), 'utf8')).toBe('payload');
    await backend.writeFile(nodes[1], nodes[1].clockFile, '+5\n');
    expect(await fs.readFile(nodes[1].clockFile, 'utf8')).toBe('+5\n');

    // A stopped daemon must die too.
    process.kill(pids[1], 'SIGSTOP');
    const runDir = path.dirname(nodes[0].dir);
    await backend.teardown();
    await backend.teardown();
    expect(await leftovers(backend.runId, runDir, pids)).toEqual([]);
  });

  it('refuses bad input with a clear message', async () => {
    expect(() => new LocalBackend({ runId: '../escape' })).toThrow(/run id/);
    expect(() => new LocalBackend({ diskSizeMb: 0 })).toThrow(/diskSizeMb/);
    await expect(new LocalBackend().provision(0)).rejects.toThrow(/nodes: expected an integer/);
  });

  it('faultline cleanup removes what a SIGKILLed controller left, and leaves live runs alone', async () => {
    const live = new LocalBackend({ diskSizeMb: 4 });
    backends.push(live);
    const liveNodes = await live.provision(1);

    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'fl-local-child-'));
    scratchDirectories.push(scratch);
    const script = path.join(scratch, 'controller.ts');
    await fs.writeFile(
      script,
      `import { LocalBackend } from ${JSON.stringify(path.join(repository, 'src/backends/local.ts'))};
const backend = new LocalBackend({ diskSizeMb: 4 });
const nodes = await backend.provision(2);
const pids = [];
for (const node of nodes) {
  pids.push(await backend.startDaemon(node, [process.execPath, '-e', 'setInterval(() => {}, 1000)'], { logFile: node.dir + '/d.log', pidFile: node.dir + '/d.pid' }));
}
process.kill(pids[0], 'SIGSTOP');
await backend.writeFile(nodes[1], nodes[1].clockFile, '+3600\\n');
console.log(JSON.stringify({ runId: backend.runId, runDir: nodes[0].dir.replace(/\\/n1$/, ''), pids }));
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(path.join(repository, 'node_modules/.bin/vite-node'), [script], { cwd: repository, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (errors += chunk));
    const deadline = Date.now() + 60_000;
    while (!output.includes('\n') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    expect(output, errors).toContain('runId');
    const { runId, runDir, pids } = JSON.parse(output.trim().split('\n').pop()!) as { runId: string; runDir: string; pids: number[] };
    expect(await leftovers(runId, runDir, pids)).not.toEqual([]);

    // Dry run: reports, removes nothing.
    const dry = await cleanupLocalLeftovers({ dryRun: true });
    expect(dry.removed.join('\n')).toContain(`fl-${runTag(runId)}-n1`);
    expect((await leftovers(runId, runDir, pids)).length).toBeGreaterThan(0);

    // The real command, as a person runs it.
    const program = new Command().exitOverride();
    registerCleanup(program);
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'faultline', 'cleanup']);
    } finally {
      process.stdout.write = write;
    }
    const text = printed.join('');
    expect(text).toContain(`removed namespace fl-${runTag(runId)}-n1`);
    expect(text).toContain(`skipped run ${live.runId}`);
    expect(await leftovers(runId, runDir, pids)).toEqual([]);

    // The live run was untouched.
    expect((await live.exec(liveNodes[0], ['true'])).exitCode).toBe(0);
    const liveDir = path.dirname(liveNodes[0].dir);
    await live.teardown();
    expect(await leftovers(live.runId, liveDir, [])).toEqual([]);
  });

  it('cleanup finds resources named like a run even when the manifest is gone', async () => {
    const backend = new LocalBackend({ diskSizeMb: 4 });
    backends.push(backend);
    const [node] = await backend.provision(1);
    const pid = await backend.startDaemon(node, ['sleep', '300'], { logFile: `${node.dir}/s.log`, pidFile: `${node.dir}/s.pid` });
    const runDir = path.dirname(node.dir);
    // Simulate a lost manifest, and a controller that can no longer clean up.
    await fs.rm(path.join(LOCAL_STATE_DIR, `${backend.runId}.json`));
    const report = await cleanupLocalLeftovers();
    expect(report.errors).toEqual([]);
    expect(report.removed).toContain(`namespace fl-${backend.tag}-n1`);
    expect(report.removed.some((line) => line.includes(`fl-${backend.tag}-br`))).toBe(true);
    expect(await processGone(pid)).toBe(true);
    // The directory is not named by any resource; the backend's own teardown still removes it.
    await backend.teardown();
    expect(await leftovers(backend.runId, runDir, [pid])).toEqual([]);
  });
});
