// Proves the ssh backend's option checks: host lists in every accepted spelling parse, and bad hosts, ports,
// remote roots and run ids are refused as one-line UserErrors before any connection is made.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../errors.js';
import { createSshBackendFromOptions } from '../ssh.js';
import { Command } from 'commander';
import { addSshFlags, sshOptionsIn } from './flags.js';
import { parseSshHost, sshOptionsFromRecord, validateRemoteRoot, validateSshRunId } from './options.js';

describe('ssh backend options', () => {
  it('parses host, port, user and IPv6 forms', () => {
    expect(parseSshHost('db1')).toEqual({ user: undefined, host: 'db1', port: undefined });
    expect(parseSshHost('db1.example.com:2222')).toEqual({ user: undefined, host: 'db1.example.com', port: 2222 });
    expect(parseSshHost('admin@10.0.0.5')).toEqual({ user: 'admin', host: '10.0.0.5', port: undefined });
    expect(parseSshHost('admin@[fd00::5]:22')).toEqual({ user: 'admin', host: 'fd00::5', port: 22 });
    for (const bad of ['', 'a:b:c', 'db1:0', 'db1:70000', 'db 1', 'bad user@db1', '-oProxyCommand=x', 'db1;rm']) {
      expect(() => parseSshHost(bad), bad).toThrow(UserError);
    }
  });

  it('reads flags as commander names them and as spec files spell them', () => {
    const fromFlags = sshOptionsFromRecord(
      { nodes: 'db1, db2:2200', sshUser: 'admin', sshKey: '/keys/id', sshPort: '2222', sudo: true, sshStrict: 'false', sshKnownHosts: '/k1,/k2' },
      { runId: 'r1' },
    );
    expect(fromFlags).toMatchObject({
      runId: 'r1',
      hosts: ['db1', 'db2:2200'],
      user: 'admin',
      privateKeyPath: '/keys/id',
      port: 2222,
      sudo: true,
      strictHostKeyChecking: false,
      knownHostsFiles: ['/k1', '/k2'],
    });
    const fromSpec = sshOptionsFromRecord({ hosts: ['db1'], 'ssh-user': 'ops', 'ssh-agent': '/run/agent.sock', 'ssh-root': '/srv/faultline' }, { runId: 'r2' }, 'spec.yaml');
    expect(fromSpec).toMatchObject({ hosts: ['db1'], user: 'ops', agent: '/run/agent.sock', remoteRoot: '/srv/faultline' });
    expect(() => sshOptionsFromRecord({ nodes: 'db1', sshPort: 'ssh' }, { runId: 'r' }, 'spec.yaml')).toThrow(/^spec\.yaml: ssh-port: expected a port/);
    expect(() => sshOptionsFromRecord({ nodes: 'db1', sshStrict: 'maybe' }, { runId: 'r' })).toThrow(/ssh-strict: expected true or false/);
    expect(() => sshOptionsFromRecord({}, { runId: 'r' })).toThrow(/nodes: expected a comma-separated list of hosts/);
  });

  it('refuses remote roots that teardown could not safely delete below, and odd run ids', () => {
    expect(validateRemoteRoot('/var/lib/faultline')).toBe('/var/lib/faultline');
    for (const bad of ['/', '/var', 'relative/path', '/var/../etc', "/tmp/it's", '/tmp/a b']) expect(() => validateRemoteRoot(bad), bad).toThrow(UserError);
    expect(validateSshRunId('raftkv-20261122.1')).toBe('raftkv-20261122.1');
    for (const bad of ['', '../x', 'a/b', 'a b', '-x']) expect(() => validateSshRunId(bad), bad).toThrow(UserError);
  });

  it('builds a backend from the registry options without connecting', () => {
    const backend = createSshBackendFromOptions({ hosts: ['10.0.0.1', 'root@10.0.0.2'], runId: 'unit-run' });
    expect(backend.name).toBe('ssh');
    expect(backend.runId).toBe('unit-run');
    expect(backend.runRoot).toBe('/var/lib/faultline/unit-run');
    expect(backend.warnings).toEqual([]);
    const lax = createSshBackendFromOptions({ hosts: ['10.0.0.1'], sshStrict: false });
    expect(lax.runId).toMatch(/^[0-9a-f]{16}$/);
    expect(lax.warnings[0]).toMatch(/host key checking is OFF/);
  });

  it('reads the flags commander parses from a command line', () => {
    const command = addSshFlags(new Command('run').exitOverride().option('--nodes <hosts>'));
    command.parse(['--nodes', 'db1,ops@db2:2200', '--ssh-user', 'admin', '--ssh-strict', 'false', '--ssh-agent', '--sudo', '--ssh-tmpfs-mb', '0'], { from: 'user' });
    const flags = command.opts();
    const picked = sshOptionsIn(flags);
    expect(picked).toEqual({ 'ssh-user': 'admin', sudo: true, 'ssh-agent': true, 'ssh-strict': 'false', 'ssh-tmpfs-mb': '0' });
    const options = sshOptionsFromRecord({ hosts: flags.nodes, ...picked }, { runId: 'r' });
    expect(options).toMatchObject({ hosts: ['db1', 'ops@db2:2200'], user: 'admin', sudo: true, agent: true, strictHostKeyChecking: false, dataVolumeMb: 0 });
  });
});
