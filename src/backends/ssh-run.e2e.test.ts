// Proves a whole `faultline run` works over the ssh backend: the runner drives a real cluster on sshd nodes
// (network namespaces made here) through partitions, kills and a cut SSH connection, and judges it valid.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { runTest } from '../runner/index.js';
import { loadSpec } from '../spec/index.js';
import { loadTarget } from '../targets.js';
import { createSshBackend, DEFAULT_REMOTE_ROOT, type SshBackend, type SshConnectionEvent } from './ssh.js';
import { sshdAvailable, startSshdFixture, type SshdFixture } from './ssh/sshd-fixture.js';
import { describeWhen, itWhen } from '../testing/requirements.js';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const cliPath = path.join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const quietOutput = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

async function targetAvailable(name: string): Promise<boolean> {
  try {
    await loadTarget(name);
    return true;
  } catch {
    return false;
  }
}

const available = sshdAvailable();
// raftkv is the bundled store; etcd (Debian's etcd-server) is a second, unmodified one when installed.
const targets = [
  { name: 'raftkv', ready: available && (await targetAvailable('raftkv')) },
  { name: 'etcd', ready: available && existsSync('/usr/bin/etcd') && (await targetAvailable('etcd')) },
];
const sshd = { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': available };

describeWhen('the ssh full-run e2e', sshd)('faultline run over the ssh backend', () => {
  let fixture: SshdFixture;

  beforeAll(async () => {
    // The nodes must not see this checkout: on real machines a target has to bring its own files.
    fixture = await startSshdFixture({ count: 3, hiddenPaths: [repositoryRoot] });
    const seen = spawnSync('nsenter', ['--target', String(fixture.listenerPid(0)), '--mount', '--', 'test', '-e', path.join(repositoryRoot, 'package.json')], {
      timeout: 10_000,
    });
    expect(seen.status).toBe(1);
  });

  afterAll(async () => {
    await fixture?.close();
  });

  for (const target of targets) {
    itWhen(`the ssh full run of ${target.name}`, { ...sshd, [`the ${target.name} target${target.name === 'etcd' ? ' (/usr/bin/etcd)' : ''}`]: target.ready })(`runs ${target.name} with partitions, kills and a lost connection, and judges it valid`, async () => {
      const connectionEvents: SshConnectionEvent[] = [];
      const store = path.join(fixture.directory, `store-${target.name}`);
      let backend: SshBackend | undefined;
      try {
        backend = createSshBackend({
          runId: `flssh-run-${randomBytes(4).toString('hex')}`,
          hosts: fixture.hosts,
          privateKeyPath: fixture.userKeyFile,
          agent: false,
          knownHostsFiles: [fixture.knownHostsFile],
          remoteRoot: path.join(fixture.directory, 'remote'),
          onEvent: (event) => connectionEvents.push(event),
        });
        // A fixed timeline, so both faults happen whatever the seed picks: two partitions, two kills.
        const specFile = path.join(fixture.directory, `spec-${target.name}.yaml`);
        const events = [
          [3, 'partition', 'start'], [7, 'partition', 'stop'], [9, 'kill', 'start'], [12, 'kill', 'stop'],
          [14, 'partition', 'start'], [18, 'partition', 'stop'], [19, 'kill', 'start'], [22, 'kill', 'stop'],
        ];
        writeFileSync(specFile, `nemesis-timeline:\n${events.map(([at, fault, action]) => `  - {at: ${at}, fault: ${fault}, action: ${action}}\n`).join('')}`);
        const spec = loadSpec({
          file: specFile,
          flags: {
            name: `ssh-${target.name}`,
            target: target.name,
            backend: 'ssh',
            nodes: fixture.hosts.join(','),
            workload: 'register',
            nemesis: 'partition,kill',
            timeLimit: '24',
            concurrency: '6',
            rate: '40',
            recovery: '4',
            seed: '20261122',
            store,
          },
        });
        // Mid-run, once the first partition is in, cut every SSH session to n2: the run must notice, record
        // it in nemesis.jsonl, reconnect and carry on (faults still healed, verdict still valid).
        let runDirectory: string | undefined;
        let cut = false;
        const cutter = (async () => {
          const deadline = Date.now() + 90_000;
          while (!cut && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            const log = runDirectory ? path.join(runDirectory, 'nemesis.jsonl') : undefined;
            if (log && existsSync(log) && readFileSync(log, 'utf8').includes('"f":"start-partition"')) {
              cut = (await fixture.killSessions(1)) > 0;
            }
          }
        })();
        const outcome = await runTest(spec, { backend, output: quietOutput, onRunDirectory: (directory) => (runDirectory = directory) });
        cut = true;
        await cutter;
        const runLog = existsSync(path.join(outcome.runDir, 'run.log')) ? readFileSync(path.join(outcome.runDir, 'run.log'), 'utf8') : '';
        expect({ errors: outcome.results.errors, log: outcome.results.errors.length > 0 ? runLog.slice(-3000) : '' }).toEqual({ errors: [], log: '' });
        expect(outcome.results.valid).toBe(true);
        expect(outcome.exitCode).toBe(0);
        expect(outcome.results.stats.ops).toBeGreaterThan(100);

        // The faults really happened, over SSH: partitions started and healed, processes killed.
        const nemesisOps = readFileSync(path.join(outcome.runDir, 'nemesis.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { type: string; f: string; error?: unknown });
        // Nemesis completions are `info` (as in Jepsen); a failed one carries an error.
        const done = (f: string) => nemesisOps.filter((op) => op.f === f && op.type !== 'fail' && op.error === undefined).length;
        const summary = nemesisOps.map((op) => `${op.f}:${op.type}${op.error === undefined ? '' : `:${JSON.stringify(op.error)}`}`).join(' ');
        expect({ partitions: done('start-partition') > 0, heals: done('stop-partition') > 0, kills: done('kill') > 0, summary }).toEqual({
          partitions: true,
          heals: true,
          kills: true,
          summary,
        });
        // The cut was seen and logged with the faults, and n2 reconnected.
        const lost = nemesisOps.filter((op) => op.f === 'backend-ssh-connection-lost').map((op) => (op as { node?: string }).node);
        expect(lost.length).toBeGreaterThan(0);
        expect(new Set(lost)).toEqual(new Set(['n2']));
        const connected = (node: string) => connectionEvents.filter((event) => event.type === 'ssh-connected' && event.node === node).length;
        expect(connected('n2')).toBeGreaterThan(1);
        // Otherwise connections were reused, not opened per command: at most the pool's two per node.
        expect(connected('n1')).toBeLessThanOrEqual(2);
        expect(connected('n3')).toBeLessThanOrEqual(2);
        expect(connectionEvents.filter((event) => event.type === 'ssh-gave-up')).toEqual([]);
        // Teardown left nothing: no run directory on the nodes.
        expect(existsSync(path.join(fixture.directory, 'remote', backend.runId))).toBe(false);
      } finally {
        await backend?.teardown().catch(() => undefined);
      }
    });
  }

  // The command line end to end: --backend ssh through the registry, with OpenSSH's defaults (the key and
  // known_hosts under $HOME/.ssh, the remote root /var/lib/faultline), since run has no --ssh-* flags yet.
  const etcdReady = targets.find((target) => target.name === 'etcd')?.ready === true;
  itWhen('the ssh command-line run of etcd', { ...sshd, 'etcd (/usr/bin/etcd)': etcdReady, [`the build (${cliPath})`]: existsSync(cliPath) })('faultline run --backend ssh drives etcd on the nodes from the command line', async () => {
    const home = path.join(fixture.directory, 'home');
    mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    copyFileSync(fixture.userKeyFile, path.join(home, '.ssh', 'id_ed25519'));
    copyFileSync(fixture.knownHostsFile, path.join(home, '.ssh', 'known_hosts'));
    const store = path.join(fixture.directory, 'store-cli');
    const argv = [cliPath, 'run', '--backend', 'ssh', '--nodes', fixture.hosts.join(','), '--target', 'etcd', '--workload', 'register',
      '--nemesis', 'partition', '--nemesis-interval', '3', '--nemesis-schedule', 'periodic', '--time-limit', '12', '--concurrency', '4',
      '--rate', '20', '--recovery', '2', '--seed', '5', '--store', store];
    const remoteRootExisted = existsSync(DEFAULT_REMOTE_ROOT);
    const result = spawnSync(process.execPath, argv, { env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '' }, encoding: 'utf8', timeout: 240_000 });
    // The run removed its own directory; the parent it created on this shared filesystem goes too.
    if (!remoteRootExisted) {
      try {
        rmdirSync(DEFAULT_REMOTE_ROOT);
      } catch {
        // Not empty: something else is in it now; leave it.
      }
    }
    expect({ status: result.status, tail: result.status === 0 ? '' : `${result.stdout}\n${result.stderr}`.slice(-3000) }).toEqual({ status: 0, tail: '' });
    expect(result.stdout).toMatch(/verdict: valid/);
    const runDirectory = /results: (\S+)/.exec(result.stdout)?.[1];
    expect(runDirectory).toBeDefined();
    const results = JSON.parse(readFileSync(path.join(runDirectory!, 'results.json'), 'utf8')) as { backend: string; valid: unknown };
    expect(results).toMatchObject({ backend: 'ssh', valid: true });
    expect(readFileSync(path.join(runDirectory!, 'nemesis.jsonl'), 'utf8')).toContain('"f":"backend-ssh-connected"');
  });
});
