// Proves what `faultline run` hands each backend: the docker backend gets the target's image, the local backend
// a data volume etcd fits in, and the ssh backend every ssh flag and spec field. It drives the real commander
// `run` command (its action replaced, so nothing starts) and the real backend factories (no engine, no connection).
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../backends/index.js';
import { DockerBackend } from '../backends/docker.js';
import { LocalBackend } from '../backends/local.js';
import { sshOptionsFromRecord, createSshBackendFromOptions } from '../backends/ssh.js';
import { SSH_OPTION_FIELDS } from '../backends/ssh/flags.js';
import { register as registerRun } from '../cli/run.js';
import { loadSpec } from '../spec/index.js';
import { etcdTarget } from '../../targets/etcd/index.js';
import { backendOptionsFor } from './index.js';

/** The flags commander parses for `faultline run ARGS`, without running anything. */
async function parsedRunFlags(args: string[]): Promise<{ file: string | undefined; flags: Record<string, unknown> }> {
  const program = new Command().exitOverride();
  registerRun(program);
  const run = program.commands.find((command) => command.name() === 'run');
  if (!run) throw new Error('no run command registered');
  let parsed: { file: string | undefined; flags: Record<string, unknown> } | undefined;
  run.action((file: string | undefined, flags: Record<string, unknown>) => {
    parsed = { file, flags };
  });
  await program.parseAsync(['node', 'faultline', 'run', ...args]);
  if (!parsed) throw new Error('the run action did not run');
  return parsed;
}

/** A private field of a backend, read for the test only (the value it will use when provisioning). */
function field(backend: object, name: string): unknown {
  return (backend as Record<string, unknown>)[name];
}

const raftkvLike = { name: 'raftkv' } as const;

describe('the docker backend runs the target\'s image', () => {
  it('etcd and raftkv get their own images, and an image given in backend-options wins', async () => {
    const etcd = await createBackend('docker', backendOptionsFor(loadSpec({ flags: { backend: 'docker', target: 'etcd', seed: '1' } }), etcdTarget));
    expect(etcd).toBeInstanceOf(DockerBackend);
    expect((etcd as DockerBackend).image).toBe('faultline/etcd:latest');
    const raftkv = await createBackend('docker', backendOptionsFor(loadSpec({ flags: { backend: 'docker', seed: '1' } }), raftkvLike));
    expect((raftkv as DockerBackend).image).toBe('faultline/raftkv:latest');
    const spec = loadSpec({ flags: { backend: 'docker', target: 'etcd', seed: '1' } });
    spec.backendOptions = { image: 'mine/etcd:dev' };
    expect(((await createBackend('docker', backendOptionsFor(spec, etcdTarget))) as DockerBackend).image).toBe('mine/etcd:dev');
  });
});

describe('a data volume the target fits in', () => {
  it('etcd gets 256 MiB on the local backend (default 64); raftkv keeps the default; a size the user set wins', async () => {
    expect(etcdTarget.dataVolumeMb).toBe(256);
    const etcdSpec = loadSpec({ flags: { target: 'etcd', nodes: '3', timeLimit: '15', seed: '1' } });
    const etcdLocal = await createBackend('local', backendOptionsFor(etcdSpec, etcdTarget));
    expect(etcdLocal).toBeInstanceOf(LocalBackend);
    expect(field(etcdLocal, 'diskSizeMb')).toBe(256);
    const raftkvLocal = await createBackend('local', backendOptionsFor(loadSpec({ flags: { seed: '1' } }), raftkvLike));
    expect(field(raftkvLocal, 'diskSizeMb')).toBe(64);
    etcdSpec.backendOptions = { diskSizeMb: 512 };
    expect(field(await createBackend('local', backendOptionsFor(etcdSpec, etcdTarget)), 'diskSizeMb')).toBe(512);
  });

  it('the docker and ssh backends get it under their own option names, unless given', () => {
    expect(backendOptionsFor(loadSpec({ flags: { backend: 'docker', target: 'etcd', seed: '1' } }), etcdTarget).dataSizeMiB).toBe(256);
    const sshSpec = loadSpec({ flags: { backend: 'ssh', target: 'etcd', nodes: 'h1,h2,h3', seed: '1' } });
    expect(sshOptionsFromRecord(backendOptionsFor(sshSpec, etcdTarget), { runId: 'r' }).dataVolumeMb).toBe(256);
    const noTmpfs = loadSpec({ flags: { backend: 'ssh', target: 'etcd', nodes: 'h1,h2,h3', sshTmpfsMb: '0', seed: '1' } });
    expect(sshOptionsFromRecord(backendOptionsFor(noTmpfs, etcdTarget), { runId: 'r' }).dataVolumeMb).toBe(0);
  });
});

describe('every ssh flag reaches the ssh backend from faultline run', () => {
  it('run declares each of SSH_OPTION_FIELDS as a flag', async () => {
    const program = new Command();
    registerRun(program);
    const flags = program.commands.find((command) => command.name() === 'run')!.options.map((option) => option.long);
    for (const name of SSH_OPTION_FIELDS) expect(flags).toContain(`--${name}`);
    expect(flags).toContain('--serializable-reads');
  });

  it('flags parsed by commander arrive in the backend\'s options, host list included', async () => {
    const { file, flags } = await parsedRunFlags([
      '--backend', 'ssh', '--nodes', 'db1,admin@db2:2200,db3', '--ssh-user', 'deploy', '--ssh-key', '/keys/id_ed25519', '--ssh-port', '2222',
      '--sudo', '--ssh-agent', '/run/agent.sock', '--ssh-strict', 'false', '--ssh-known-hosts', '/a/known_hosts,/b/known_hosts',
      '--ssh-root', '/srv/faultline', '--ssh-tmpfs-mb', '128', '--seed', '9',
    ]);
    const spec = loadSpec({ file, flags });
    const options = sshOptionsFromRecord(backendOptionsFor(spec, raftkvLike), { runId: 'r' }, 'flags');
    expect(options).toMatchObject({
      hosts: ['db1', 'admin@db2:2200', 'db3'],
      user: 'deploy',
      privateKeyPath: '/keys/id_ed25519',
      port: 2222,
      sudo: true,
      agent: '/run/agent.sock',
      strictHostKeyChecking: false,
      knownHostsFiles: ['/a/known_hosts', '/b/known_hosts'],
      remoteRoot: '/srv/faultline',
      dataVolumeMb: 128,
    });
    // The registry's factory builds the backend from the same options; no-strict is a warning from the start.
    const backend = createSshBackendFromOptions(backendOptionsFor(spec, raftkvLike));
    expect(backend.runRoot.startsWith('/srv/faultline/')).toBe(true);
    expect(backend.warnings.join()).toMatch(/host key checking is OFF/);
  });

  it('a bad ssh value is refused naming its field', async () => {
    const { file, flags } = await parsedRunFlags(['--backend', 'ssh', '--nodes', 'db1', '--ssh-tmpfs-mb', 'lots', '--seed', '1']);
    expect(() => createSshBackendFromOptions(backendOptionsFor(loadSpec({ file, flags }), raftkvLike))).toThrow(/ssh-tmpfs-mb: expected an integer number of MiB/);
  });
});

describe('--serializable-reads through the run command', () => {
  it('reaches the etcd client options and is refused for raftkv', async () => {
    const etcd = await parsedRunFlags(['--target', 'etcd', '--serializable-reads', '--seed', '1']);
    const spec = loadSpec(etcd);
    expect(spec.targetOptions).toMatchObject({ serializableReads: true });
    expect(field(etcdTarget.client('register', spec.targetOptions), 'options')).toMatchObject({ serializableReads: true });
    expect(field(etcdTarget.client('register', loadSpec({ flags: { target: 'etcd', seed: '1' } }).targetOptions), 'options')).toMatchObject({ serializableReads: false });
    const raftkv = await parsedRunFlags(['--serializable-reads', '--seed', '1']);
    expect(() => loadSpec(raftkv)).toThrow('--serializable-reads: only the etcd target supports serializable reads, not raftkv');
  });
});
