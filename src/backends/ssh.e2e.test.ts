// Proves the ssh backend against real OpenSSH servers (Debian's sshd in network namespaces made here, with
// generated keys and a hashed known_hosts): quoting, timeouts, files, daemons, host keys, lost connections.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node } from './types.js';
import {
  cleanupSshLeftovers,
  createSshBackend,
  RUN_ENVIRONMENT_NAME,
  SshBackend,
  SshCommandTimeoutError,
  SshHostKeyError,
  type SshBackendOptions,
  type SshConnectionEvent,
} from './ssh.js';
import { ALTERNATE_PORT, sshdAvailable, startSshdFixture, type SshdFixture } from './ssh/sshd-fixture.js';
import { describeWhen, skipOrFailNow } from '../testing/requirements.js';


/** Whether a process is alive; the namespaces share this host's pid namespace, so we can look directly. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

describeWhen('the ssh backend e2e', { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() })('ssh backend against real sshd', () => {
  let fixture: SshdFixture;
  let remoteRoot: string;
  const backends: SshBackend[] = [];

  function backend(overrides: Partial<SshBackendOptions> = {}): SshBackend {
    const created = createSshBackend({
      runId: `flssh-${randomBytes(4).toString('hex')}`,
      hosts: fixture.hosts,
      user: 'root',
      privateKeyPath: fixture.userKeyFile,
      agent: false,
      knownHostsFiles: [fixture.knownHostsFile],
      remoteRoot,
      ...overrides,
    });
    backends.push(created);
    return created;
  }

  beforeAll(async () => {
    fixture = await startSshdFixture({ count: 3, sudoUser: true });
    remoteRoot = path.join(fixture.directory, 'remote');
  });

  afterAll(async () => {
    for (const created of backends) await created.teardown().catch(() => undefined);
    await fixture?.close();
  });

  describe('one provisioned run', () => {
    let ssh: SshBackend;
    let nodes: Node[];
    const events: SshConnectionEvent[] = [];

    beforeAll(async () => {
      ssh = backend({ onEvent: (event) => events.push(event) });
      nodes = await ssh.provision(3);
    });

    it('provisions one node per host with its directory and a neutral clock file', async () => {
      expect(nodes.map((node) => [node.name, node.host])).toEqual(fixture.hosts.map((host, index) => [`n${index + 1}`, host]));
      for (const node of nodes) {
        expect(node.dir).toBe(`${remoteRoot}/${ssh.runId}/${node.name}`);
        expect(node.clockFile).toBe(`${node.dir}/faketime`);
        const clock = await ssh.exec(node, ['cat', node.clockFile]);
        expect(clock.stdout).toBe('+0\n');
        // A bounded tmpfs, so a fill-disk fault fills it and not the machine's disk.
        expect((await ssh.exec(node, ['stat', '-f', '-c', '%T', node.dir])).stdout).toBe('tmpfs\n');
        expect((await ssh.exec(node, ['df', '--output=size', '-m', node.dir])).stdout).toMatch(/\b256\n$/);
        const index = nodes.indexOf(node);
        expect(await fs.readFile(`/proc/${fixture.listenerPid(index)}/mounts`, 'utf8')).toContain(` ${node.dir} tmpfs `);
        // The command really ran on that node: its address is on the namespace's eth0.
        const addresses = await ssh.exec(node, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
        expect(addresses.stdout).toContain(`${node.host}/24`);
      }
      expect(ssh.warnings).toEqual([]);
    });

    it('delivers hostile argument values intact and never executes them', async () => {
      const marker = path.join(fixture.directory, `flssh-executed-${randomBytes(3).toString('hex')}`);
      const values = [
        'two words',
        "it's 'quoted'",
        '"double" quotes',
        'semi;colon && echo pwned',
        `$(touch ${marker})`,
        `\`touch ${marker}\``,
        '$HOME ${PATH}',
        'multi\nline\n',
        '',
        '\\backslash\\',
        '*',
        '|&<>',
        'FOO=bar',
        '-n',
      ];
      const result = await ssh.exec(nodes[0], ['printf', '%s\\0', ...values]);
      const echoed = result.stdout.split('\0');
      echoed.pop();
      expect(echoed).toEqual(values);
      // The nodes share this host's filesystem, so a file a command created would be visible here.
      expect(existsSync(marker)).toBe(false);
      const check = await ssh.exec(nodes[0], ['test', '-e', marker], { allowFailure: true });
      expect(check.exitCode).toBe(1);
    });

    it('passes environment and stdin through, and reports exit codes', async () => {
      const value = `a 'b' "c" $(d) \`e\` ;f\ng`;
      const environment = await ssh.exec(nodes[1], ['sh', '-c', 'printf %s "$FLSSH_VALUE"'], { env: { FLSSH_VALUE: value } });
      expect(environment.stdout).toBe(value);
      const input = `line one\n'line' "two" $(three)\n`;
      const echoed = await ssh.exec(nodes[1], ['cat'], { stdin: input });
      expect(echoed.stdout).toBe(input);
      await expect(ssh.exec(nodes[1], ['sh', '-c', 'echo oops >&2; exit 3'])).rejects.toThrow(/exited 3.*oops/);
      const allowed = await ssh.exec(nodes[1], ['sh', '-c', 'echo out; echo err >&2; exit 4'], { allowFailure: true });
      expect(allowed).toEqual({ exitCode: 4, stdout: 'out\n', stderr: 'err\n' });
    });

    it('kills a command that outlives its timeout', async () => {
      const pidFile = path.join(fixture.directory, `sleep-${randomBytes(3).toString('hex')}.pid`);
      const running = ssh.exec(nodes[2], ['sh', '-c', 'echo $$ > "$1"; exec sleep 100', 'sh', pidFile], { timeoutMs: 1_500 });
      await expect(running).rejects.toBeInstanceOf(SshCommandTimeoutError);
      const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
      expect(pid).toBeGreaterThan(1);
      expect(await waitUntil(() => !alive(pid), 10_000)).toBe(true);
      // The connection stays usable after a timed-out command.
      expect((await ssh.exec(nodes[2], ['echo', 'still here'])).stdout).toBe('still here\n');
    });

    it('runs many commands at once over the pool', async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, index) => ssh.exec(nodes[index % 3], ['sh', '-c', 'sleep 0.2; echo "$1"', 'sh', `job ${index}`])),
      );
      expect(results.map((result) => result.stdout)).toEqual(Array.from({ length: 40 }, (_, index) => `job ${index}\n`));
      // Reused, not reopened: at most the pool's two connections per node over every command so far.
      for (const node of nodes) {
        const opened = events.filter((event) => event.type === 'ssh-connected' && event.node === node.name).length;
        expect(opened).toBeGreaterThanOrEqual(1);
        expect(opened).toBeLessThanOrEqual(2);
      }
      expect(events.filter((event) => event.type !== 'ssh-connected')).toEqual([]);
    });

    it('round-trips files and directory trees over SFTP, keeping modes', async () => {
      const local = path.join(fixture.directory, `local-${randomBytes(3).toString('hex')}`);
      const payload = randomBytes(1_500_000);
      await fs.mkdir(path.join(local, 'tree', 'bin'), { recursive: true });
      await fs.writeFile(path.join(local, 'blob'), payload);
      await fs.writeFile(path.join(local, 'tree', 'bin', 'server'), '#!/bin/sh\necho served "$@"\n', { mode: 0o755 });
      await fs.writeFile(path.join(local, 'tree', 'config.json'), '{"a": 1}\n');
      const node = nodes[0];

      await ssh.upload(node, path.join(local, 'blob'), `${node.dir}/files/blob`);
      await ssh.upload(node, path.join(local, 'tree'), `${node.dir}/files/tree`);
      const served = await ssh.exec(node, [`${node.dir}/files/tree/bin/server`, 'with args']);
      expect(served.stdout).toBe('served with args\n');

      await ssh.download(node, `${node.dir}/files/blob`, path.join(local, 'back', 'blob'));
      expect((await fs.readFile(path.join(local, 'back', 'blob'))).equals(payload)).toBe(true);
      await ssh.download(node, `${node.dir}/files/tree`, path.join(local, 'back', 'tree'));
      expect(await fs.readFile(path.join(local, 'back', 'tree', 'config.json'), 'utf8')).toBe('{"a": 1}\n');
      expect((await fs.stat(path.join(local, 'back', 'tree', 'bin', 'server'))).mode & 0o111).not.toBe(0);

      // A directory merges into what is there: uploading into the node's own directory keeps its files.
      await ssh.upload(node, path.join(local, 'tree'), node.dir);
      expect((await ssh.exec(node, ['cat', node.clockFile, `${node.dir}/config.json`])).stdout).toBe('+0\n{"a": 1}\n');

      await ssh.writeFile(node, node.clockFile, '+30s\n');
      await ssh.writeFile(node, node.clockFile, Buffer.from('-2h\n'));
      expect((await ssh.exec(node, ['cat', node.clockFile])).stdout).toBe('-2h\n');
      const leftovers = await ssh.exec(node, ['sh', '-c', 'ls -a "$1"', 'sh', node.dir]);
      expect(leftovers.stdout).not.toMatch(/\.tmp/);
    });

    it('starts a detached daemon with a pid file, which teardown kills', async () => {
      const node = nodes[1];
      const pidFile = `${node.dir}/daemon/sleeper.pid`;
      const logFile = `${node.dir}/logs/sleeper.log`;
      const pid = await ssh.startDaemon(node, ['sh', '-c', 'echo "started $FLSSH_NAME in $(pwd)"; exec sleep 1000'], {
        pidFile,
        logFile,
        env: { FLSSH_NAME: 'the sleeper' },
      });
      expect(Number((await ssh.exec(node, ['cat', pidFile])).stdout.trim())).toBe(pid);
      expect(alive(pid)).toBe(true);
      expect(await waitUntil(async () => (await ssh.exec(node, ['cat', logFile])).stdout.includes('started'), 5_000)).toBe(true);
      expect((await ssh.exec(node, ['cat', logFile])).stdout).toBe(`started the sleeper in ${node.dir}\n`);
      // Its own session, detached from the SSH session that started it, and tagged with the run.
      const session = await ssh.exec(node, ['ps', '-o', 'sid=', '-p', String(pid)]);
      expect(Number(session.stdout.trim())).toBe(pid);
      const environ = await fs.readFile(`/proc/${pid}/environ`, 'utf8');
      expect(environ.split('\0')).toContain(`${RUN_ENVIRONMENT_NAME}=${ssh.runId}`);

      // Its SSH session is long gone; the daemon outlives it. Teardown then kills it and removes the run.
      await ssh.teardown();
      expect(await waitUntil(() => !alive(pid), 10_000)).toBe(true);
      expect(existsSync(`${remoteRoot}/${ssh.runId}`)).toBe(false);
      // `ip netns exec` gave each sshd its own mount namespace; the node's mounts are seen through its sshd.
      expect(await fs.readFile(`/proc/${fixture.listenerPid(1)}/mounts`, 'utf8')).not.toContain(`${remoteRoot}/${ssh.runId}/`);
      await ssh.teardown();
      await expect(ssh.exec(node, ['true'])).rejects.toThrow(/unknown node/);
    });
  });

  it('refuses a changed host key with a clear error', async () => {
    const changed = path.join(fixture.directory, 'known_hosts_changed');
    const otherKey = path.join(fixture.directory, `other-${randomBytes(3).toString('hex')}`);
    const { execFileSync } = await import('node:child_process');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey], { timeout: 10_000 });
    const otherPublic = (await fs.readFile(`${otherKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    await fs.writeFile(changed, `${fixture.hosts[0]} ${otherPublic}\n`);
    const events: SshConnectionEvent[] = [];
    const ssh = backend({ hosts: [fixture.hosts[0]], knownHostsFiles: [changed], onEvent: (event) => events.push(event) });
    const failure = await ssh.provision(1).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SshHostKeyError);
    expect(String((failure as Error).message)).toMatch(new RegExp(`${changed}:1: host key of n1 \\(${fixture.hosts[0].replace(/\./g, '\\.')}\\) CHANGED`));
    // Not retried: a refused key is final.
    expect(events.filter((event) => event.type === 'ssh-connect-failed')).toEqual([]);

    const unknown = path.join(fixture.directory, 'known_hosts_empty');
    await fs.writeFile(unknown, '');
    const stranger = backend({ hosts: [fixture.hosts[1]], knownHostsFiles: [unknown] });
    await expect(stranger.provision(1)).rejects.toThrow(/no host key listed for .*ssh-keyscan/);
  });

  it('connects with strict checking off only when asked, and says so', async () => {
    const empty = path.join(fixture.directory, 'known_hosts_none');
    await fs.writeFile(empty, '');
    const ssh = backend({ hosts: fixture.hosts.slice(0, 2), knownHostsFiles: [empty], strictHostKeyChecking: false });
    const nodes = await ssh.provision(2);
    expect((await ssh.exec(nodes[0], ['echo', 'ok'])).stdout).toBe('ok\n');
    expect(ssh.warnings[0]).toMatch(/host key checking is OFF/);
    for (const host of fixture.hosts.slice(0, 2)) {
      expect(ssh.warnings.some((warning) => warning.includes(`(${host})`) && /SHA256:/.test(warning))).toBe(true);
    }
    await ssh.teardown();
  });

  it('retries a command whose connection is lost, and records it', async () => {
    const events: SshConnectionEvent[] = [];
    const ssh = backend({ hosts: [fixture.hosts[2]], onEvent: (event) => events.push(event) });
    const [node] = await ssh.provision(1);
    // Outside the node's tmpfs (which only the node's mount namespace sees), so this process can watch it.
    const started = path.join(fixture.directory, `started-${randomBytes(3).toString('hex')}`);
    const running = ssh.exec(node, ['sh', '-c', 'echo run >> "$1"; sleep 1; echo finished', 'sh', started], { timeoutMs: 20_000 });
    expect(await waitUntil(() => existsSync(started), 10_000)).toBe(true);
    expect(await fixture.killSessions(2)).toBeGreaterThan(0);
    const result = await running;
    expect(result.stdout).toBe('finished\n');
    const types = events.map((event) => event.type);
    expect(types).toContain('ssh-connection-lost');
    expect(types).toContain('ssh-retry');
    expect(events.find((event) => event.type === 'ssh-retry')).toMatchObject({ node: 'n1', host: fixture.hosts[2], attempt: 2 });
    // It ran twice: once cut off, once to completion. Callers keep their commands idempotent.
    expect((await fs.readFile(started, 'utf8')).split('\n').filter(Boolean).length).toBe(2);
    await ssh.teardown();
  });

  it('gives up after bounded retries when a node stays down, rejecting rather than dropping the command', async () => {
    const events: SshConnectionEvent[] = [];
    const ssh = backend({ hosts: [fixture.hosts[0]], connectAttemptsMax: 2, onEvent: (event) => events.push(event) });
    const [node] = await ssh.provision(1);
    await fixture.stopSshd(0);
    try {
      await expect(ssh.exec(node, ['iptables', '-D', 'INPUT', '-s', '10.0.0.9', '-j', 'DROP'])).rejects.toThrow(/cannot connect after 2 attempts/);
      const types = events.map((event) => event.type);
      expect(types).toContain('ssh-connection-lost');
      expect(types).toContain('ssh-connect-failed');
      expect(types[types.length - 1]).toBe('ssh-gave-up');
    } finally {
      await fixture.startSshd(0);
    }
    // Back up: the same backend reconnects and tears down cleanly.
    expect((await ssh.exec(node, ['echo', 'back'])).stdout).toBe('back\n');
    await ssh.teardown();
  });

  it('runs every command through sudo -n for a non-root user', async (context) => {
    skipOrFailNow(context, 'the sudo test', { 'sudo (/usr/bin/sudo, for a non-root user with passwordless sudo)': fixture.sudoUser !== undefined });
    const user = fixture.sudoUser!;
    // The user's own authorized_keys is the fixture's shared file (sshd_config names it), so the same key works.
    const ssh = backend({ hosts: [fixture.hosts[1]], user });
    const [node] = await ssh.provision(1);
    expect((await ssh.exec(node, ['id', '-u'])).stdout).toBe('0\n');
    const local = path.join(fixture.directory, `sudo-${randomBytes(3).toString('hex')}`);
    await fs.writeFile(local, 'root-owned\n');
    await ssh.upload(node, local, `${node.dir}/uploaded`);
    await fs.mkdir(`${local}.tree/bin`, { recursive: true });
    await fs.writeFile(`${local}.tree/bin/tool`, '#!/bin/sh\necho tool ran as $(id -u)\n', { mode: 0o755 });
    await ssh.upload(node, `${local}.tree`, node.dir);
    expect((await ssh.exec(node, [`${node.dir}/bin/tool`])).stdout).toBe('tool ran as 0\n');
    expect((await ssh.exec(node, ['cat', `${node.dir}/uploaded`, node.clockFile])).stdout).toBe('root-owned\n+0\n');
    await ssh.writeFile(node, `${node.dir}/written`, "it's written\n");
    expect((await ssh.exec(node, ['stat', '-c', '%U', node.dir])).stdout).toBe('root\n');
    await ssh.download(node, `${node.dir}/written`, `${local}.back`);
    expect(await fs.readFile(`${local}.back`, 'utf8')).toBe("it's written\n");
    const pid = await ssh.startDaemon(node, ['sleep', '1000'], { pidFile: `${node.dir}/s.pid`, logFile: `${node.dir}/s.log` });
    expect((await ssh.exec(node, ['ps', '-o', 'user=', '-p', String(pid)])).stdout.trim()).toBe('root');
    await ssh.teardown();
    expect(await waitUntil(() => !alive(pid), 10_000)).toBe(true);
    expect(existsSync(`${remoteRoot}/${ssh.runId}`)).toBe(false);
  });

  it('reaches a node on another port, named in the host or by option', async () => {
    const named = backend({ hosts: [`${fixture.hosts[0]}:${ALTERNATE_PORT}`] });
    const [first] = await named.provision(1);
    expect(first.host).toBe(fixture.hosts[0]);
    const byOption = backend({ hosts: [fixture.hosts[1]], port: ALTERNATE_PORT });
    const [second] = await byOption.provision(1);
    // The server saw the connection arrive on the other port.
    for (const [ssh, node] of [[named, first], [byOption, second]] as const) {
      const connection = await ssh.exec(node, ['sh', '-c', 'echo "$SSH_CONNECTION"']);
      expect(connection.stdout.trim().split(' ')[3]).toBe(String(ALTERNATE_PORT));
      await ssh.teardown();
    }
  });

  it('authenticates through ssh-agent when no key is given', async () => {
    const socket = path.join(fixture.directory, `agent-${randomBytes(3).toString('hex')}.sock`);
    const { execFileSync } = await import('node:child_process');
    const started = execFileSync('ssh-agent', ['-s', '-a', socket], { encoding: 'utf8', timeout: 10_000 });
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(started)?.[1]);
    try {
      execFileSync('ssh-add', ['-q', fixture.userKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore', timeout: 10_000 });
      const ssh = backend({ hosts: [fixture.hosts[2]], privateKeyPath: undefined, agent: socket });
      const [node] = await ssh.provision(1);
      expect((await ssh.exec(node, ['echo', 'via agent'])).stdout).toBe('via agent\n');
      await ssh.teardown();
      // And with an empty agent, the refusal names what was offered.
      execFileSync('ssh-add', ['-D'], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore', timeout: 10_000 });
      const refused = backend({ hosts: [fixture.hosts[2]], privateKeyPath: undefined, agent: socket });
      await expect(refused.provision(1)).rejects.toThrow(/authentication as "root" failed \(offered: agent /);
    } finally {
      if (Number.isInteger(agentPid) && agentPid > 1) process.kill(agentPid, 'SIGTERM');
    }
  });

  it('cleans up a crashed run given its hosts', async () => {
    const ssh = backend({ hosts: fixture.hosts.slice(0, 2) });
    const nodes = await ssh.provision(2);
    const pids = await Promise.all(
      nodes.map((node) => ssh.startDaemon(node, ['sleep', '1000'], { pidFile: `${node.dir}/s.pid`, logFile: `${node.dir}/s.log` })),
    );
    // A crashed controller leaves everything behind; cleanup knows only the hosts and the run id.
    const report = await cleanupSshLeftovers({
      hosts: fixture.hosts.slice(0, 2),
      runId: ssh.runId,
      privateKeyPath: fixture.userKeyFile,
      agent: false,
      knownHostsFiles: [fixture.knownHostsFile],
      remoteRoot,
    });
    expect({ cleaned: [...report.cleaned].sort(), errors: report.errors }).toEqual({ cleaned: fixture.hosts.slice(0, 2).sort(), errors: [] });
    expect(await waitUntil(() => pids.every((pid) => !alive(pid)), 10_000)).toBe(true);
    expect(existsSync(`${remoteRoot}/${ssh.runId}`)).toBe(false);
  });
});
