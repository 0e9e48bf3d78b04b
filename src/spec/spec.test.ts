// Proves the spec loader fills the defaults, lets flags override a file, and refuses every bad field
// with one line naming the field (and file:line for files), by loading real temporary YAML/JSON files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpec, specToArgv } from './index.js';
import { errorOf } from '../testing/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-spec-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function specFile(name: string, content: string): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}


describe('spec defaults', () => {
  it('with nothing given, is the issue\'s default run: 5-node raftkv, local, register, four faults, 60 s', () => {
    const spec = loadSpec({});
    expect(spec).toMatchObject({
      name: 'raftkv-register',
      target: 'raftkv',
      backend: 'local',
      nodes: 5,
      workload: 'register',
      nemesis: ['partition', 'kill', 'pause', 'clock'],
      timeLimitSeconds: 60,
      leaveRunning: false,
    });
    expect(Number.isSafeInteger(spec.seed)).toBe(true);
  });
});

describe('spec files and flags', () => {
  it('reads YAML, and flags override it', () => {
    const file = specFile('a.yaml', [
      'target: raftkv', 'nodes: 3', 'workload: set', 'nemesis: [kill, pause]', 'time-limit: 20',
      'concurrency: 4', 'rate: 50', 'seed: 42', 'key-distribution: zipfian', 'bug: lazy-fsync', '',
    ].join('\n'));
    const spec = loadSpec({ file, flags: { nodes: '5', nemesis: 'partition', timeLimit: '30', leaveRunning: true } });
    expect(spec).toMatchObject({
      nodes: 5, workload: 'set', nemesis: ['partition'], timeLimitSeconds: 30, concurrency: 4, rate: 50, seed: 42,
      keyDistribution: 'zipfian', bug: 'lazy-fsync', targetOptions: { bug: 'lazy-fsync' }, leaveRunning: true, name: 'raftkv-set',
    });
  });

  it('reads JSON and camelCase keys, and a timeline with its own lines', () => {
    const file = specFile('b.json', JSON.stringify({ nodes: 3, nemesis: 'partition,kill', timeLimit: 10, seed: 1, nemesisTimeline: [{ at: 2, fault: 'kill', action: 'start' }, { at: 5, fault: 'kill', action: 'stop' }] }));
    const spec = loadSpec({ file });
    expect(spec.nemesisSchedule).toBe('timeline');
    expect(spec.nemesisTimeline).toEqual([
      { atSeconds: 2, fault: 'kill', action: 'start' },
      { atSeconds: 5, fault: 'kill', action: 'stop' },
    ]);
  });

  it('accepts none and an ssh host list', () => {
    expect(loadSpec({ flags: { nemesis: 'none' } }).nemesis).toEqual([]);
    const spec = loadSpec({ flags: { backend: 'ssh', nodes: 'db1,db2,root@db3' } });
    expect(spec.hosts).toEqual(['db1', 'db2', 'root@db3']);
    expect(spec.nodes).toBe(3);
  });

  it('round-trips through specToArgv', () => {
    const spec = loadSpec({ flags: { nodes: 'db1,db2,db3', backend: 'ssh', sshUser: 'admin', workload: 'set', seed: '9', bug: 'stale-read', nemesis: 'partition' } });
    expect(spec.backendOptions).toEqual({ 'ssh-user': 'admin' });
    const argv = specToArgv(spec);
    const flags: Record<string, unknown> = {};
    for (let index = 2; index < argv.length; index++) {
      const flag = argv[index].slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
      if (argv[index + 1] === undefined || argv[index + 1].startsWith('--')) flags[flag] = true;
      else flags[flag] = argv[++index];
    }
    expect(loadSpec({ flags })).toEqual(spec);
  });
});

describe('spec validation', () => {
  it('names the file, line and field of a bad value', () => {
    const file = specFile('spec.yaml', 'target: raftkv\nnodes: five\n');
    expect(errorOf(() => loadSpec({ file })).message).toBe(`${file}:2: nodes: expected an integer from 1 to 9, got 'five'`);
  });

  it('names the flag of a bad flag value', () => {
    expect(errorOf(() => loadSpec({ flags: { nodes: '12' } })).message).toBe("--nodes: expected an integer from 1 to 9, got '12'");
    expect(errorOf(() => loadSpec({ flags: { target: 'mongo' } })).message).toMatch(/^--target: expected one of raftkv, etcd(, [a-z0-9]+)*, or a path to your own target module \(e\.g\. \.\/my-target\.js\), got 'mongo'$/);
    expect(errorOf(() => loadSpec({ flags: { nemesis: 'partition,flood' } })).message).toMatch(/^--nemesis: expected 'none' or a comma-separated list/);
    expect(errorOf(() => loadSpec({ flags: { rate: 'fast' } })).message).toMatch(/^--rate: expected a number of ops per second/);
    expect(errorOf(() => loadSpec({ flags: { bug: 'typo' } })).message).toMatch(/^--bug: expected one of stale-read, lazy-fsync, forget-vote, lease-read/);
    expect(errorOf(() => loadSpec({ flags: { target: 'etcd', bug: 'stale-read' } })).message).toMatch(/^--bug: expected no bug switch/);
    expect(errorOf(() => loadSpec({ flags: { nodes: 'a,b' } })).message).toMatch(/host list needs --backend ssh/);
    expect(errorOf(() => loadSpec({ flags: { backend: 'ssh' } })).message).toMatch(/^nodes: expected a list of hosts/);
    expect(errorOf(() => loadSpec({ flags: { seed: '-1' } })).message).toMatch(/^--seed: expected an integer/);
  });

  it('resolves YAML anchors and aliases, so a repeated timeline value is the value, not a reference', () => {
    const file = specFile('alias.yaml', [
      'nemesis: [kill]',
      'nemesis-timeline:',
      '  - {at: 1, fault: kill, action: start, value: &all {targets: all}}',
      '  - {at: 2, fault: kill, action: stop}',
      '  - {at: 3, fault: kill, action: start, value: *all}',
      '  - {at: 4, fault: kill, action: stop}',
      '',
    ].join('\n'));
    const spec = loadSpec({ file });
    const starts = spec.nemesisTimeline!.filter((event) => event.action === 'start');
    expect(starts.map((event) => event.value)).toEqual([{ targets: 'all' }, { targets: 'all' }]);
  });

  it('refuses unknown fields, broken YAML, non-maps and bad timeline events with their lines', () => {
    expect(errorOf(() => loadSpec({ file: specFile('c.yaml', 'nodes: 3\nnodez: 4\n') })).message).toMatch(/c\.yaml:2: unknown field 'nodez'/);
    expect(errorOf(() => loadSpec({ file: specFile('d.yaml', 'nodes: [1, 2\n') })).message).toMatch(/d\.yaml:\d+: expected a YAML or JSON map/);
    expect(errorOf(() => loadSpec({ file: specFile('e.yaml', '- 1\n- 2\n') })).message).toMatch(/e\.yaml:1: expected a map/);
    const timelineFile = specFile('f.yaml', 'nemesis: partition\nnemesis-timeline:\n  - {at: 1, fault: partition}\n  - {at: 2, fault: kill}\n');
    expect(errorOf(() => loadSpec({ file: timelineFile })).message).toMatch(/f\.yaml:4: nemesis-timeline\[1\]\.fault: expected a fault listed in nemesis/);
    expect(errorOf(() => loadSpec({ file: join(directory, 'missing.yaml') })).message).toMatch(/missing\.yaml: cannot read the spec file \(ENOENT\)/);
    expect(errorOf(() => loadSpec({ flags: { nemesisSchedule: 'timeline' } })).message).toMatch(/timeline needs a nemesis-timeline/);
  });
});

describe('etcd serializable reads (--serializable-reads)', () => {
  it('reaches the target options from a flag or a file, and replays', () => {
    const fromFlag = loadSpec({ flags: { target: 'etcd', serializableReads: true, seed: '3' } });
    expect(fromFlag.serializableReads).toBe(true);
    expect(fromFlag.targetOptions.serializableReads).toBe(true);
    const fromFile = loadSpec({ file: specFile('sr.yaml', 'target: etcd\nserializable-reads: true\n') });
    expect(fromFile.targetOptions.serializableReads).toBe(true);
    const off = loadSpec({ file: specFile('sr-off.yaml', 'target: etcd\nserializableReads: false\n') });
    expect(off.targetOptions.serializableReads).toBeUndefined();
    expect(specToArgv(fromFlag)).toContain('--serializable-reads');
    expect(specToArgv(off)).not.toContain('--serializable-reads');
  });

  it('is refused, naming the flag or the file line, for a target without them, and checked as a boolean', () => {
    expect(errorOf(() => loadSpec({ flags: { serializableReads: true } })).message).toBe(
      '--serializable-reads: only the etcd target supports serializable reads, not raftkv',
    );
    const file = specFile('sr-raftkv.yaml', 'target: raftkv\nnodes: 3\nserializable-reads: true\n');
    expect(errorOf(() => loadSpec({ file })).message).toBe(`${file}:3: serializable-reads: only the etcd target supports serializable reads, not raftkv`);
    const notBoolean = specFile('sr-bad.yaml', 'target: etcd\nserializable-reads: sometimes\n');
    expect(errorOf(() => loadSpec({ file: notBoolean })).message).toBe(`${notBoolean}:2: serializable-reads: expected true or false, got 'sometimes'`);
  });
});

describe('ssh fields', () => {
  it('every ssh field of a spec file (and its camelCase) lands in backendOptions, and replays as flags', () => {
    const file = specFile('ssh.yaml', [
      'backend: ssh', 'nodes: [db1, admin@db2:2200]', 'ssh-user: admin', 'sshKey: /keys/id', 'ssh-port: 2222', 'sudo: true',
      'ssh-agent: /run/agent.sock', 'ssh-strict: false', 'ssh-known-hosts: [/a, /b]', 'ssh-root: /srv/faultline', 'sshTmpfsMb: 128', '',
    ].join('\n'));
    const spec = loadSpec({ file });
    expect(spec.backendOptions).toEqual({
      'ssh-user': 'admin', 'ssh-key': '/keys/id', 'ssh-port': 2222, sudo: true, 'ssh-agent': '/run/agent.sock', 'ssh-strict': false,
      'ssh-known-hosts': ['/a', '/b'], 'ssh-root': '/srv/faultline', 'ssh-tmpfs-mb': 128,
    });
    const argv = specToArgv(spec);
    for (const expected of [['--ssh-user', 'admin'], ['--ssh-strict', 'false'], ['--ssh-known-hosts', '/a,/b'], ['--ssh-agent', '/run/agent.sock'], ['--ssh-tmpfs-mb', '128']]) {
      expect(argv.slice(argv.indexOf(expected[0]), argv.indexOf(expected[0]) + 2)).toEqual(expected);
    }
    expect(argv).toContain('--sudo');
  });
});
