// Proves the etcd target's pure parts: the static-cluster flags, the leader parsing of etcdctl's status
// (uint64 ids beyond JSON numbers), and which errors may be reported as certainly-not-applied.
import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/backends/types.js';
import { classifyError, etcdArgv, etcdTarget, parseEndpointStatus, registerKey, setPrefix } from './index.js';
import { bankPrefix, counterKey, lockPrefix, lockResourceKey, queuePrefix, queueTakenPrefix } from './workloads.js';

const nodes: Node[] = [1, 2, 3].map((index) => ({ name: `n${index}`, host: `10.0.0.${index}`, dir: `/data/n${index}`, clockFile: '/tmp/c' }));

function flag(argv: string[], name: string): string | undefined {
  const position = argv.indexOf(name);
  return position < 0 ? undefined : argv[position + 1];
}

describe('etcd flags', () => {
  it('bootstraps a static cluster of every node, with the data dir under the node dir', () => {
    const argv = etcdArgv(nodes[1], nodes, 'faultline-run-1');
    expect(argv[0]).toBe('/usr/bin/etcd');
    expect(flag(argv, '--name')).toBe('n2');
    expect(flag(argv, '--data-dir')).toBe('/data/n2/etcd/data');
    expect(flag(argv, '--initial-cluster')).toBe('n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380,n3=http://10.0.0.3:2380');
    expect(flag(argv, '--initial-advertise-peer-urls')).toBe('http://10.0.0.2:2380');
    expect(flag(argv, '--advertise-client-urls')).toBe('http://10.0.0.2:2379');
    expect(flag(argv, '--listen-client-urls')).toBe('http://10.0.0.2:2379,http://127.0.0.1:2379');
    expect(flag(argv, '--initial-cluster-state')).toBe('new');
    expect(flag(argv, '--initial-cluster-token')).toBe('faultline-run-1');
    expect(flag(argv, '--election-timeout')).toBeUndefined();
    const tuned = etcdArgv(nodes[0], nodes, 't', { heartbeatIntervalMs: 50, electionTimeoutMs: 500, etcdBinary: '/opt/etcd' });
    expect([tuned[0], flag(tuned, '--heartbeat-interval'), flag(tuned, '--election-timeout')]).toEqual(['/opt/etcd', '50', '500']);
  });
});

describe('leader from endpoint status', () => {
  it('keeps uint64 member ids exact', () => {
    const json =
      '[{"Endpoint":"http://127.0.0.1:2379","Status":{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":5,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":10276657743932975437,"raftIndex":8,"raftTerm":2}}]';
    expect(parseEndpointStatus(json)).toEqual({ memberId: '10276657743932975437', leaderId: '10276657743932975437' });
    const follower = json.replace('"leader":10276657743932975437', '"leader":10276657743932975438');
    const status = parseEndpointStatus(follower)!;
    expect(status.memberId === status.leaderId).toBe(false);
  });

  it('has no leader when etcd reports none', () => {
    expect(parseEndpointStatus('[{"Status":{"header":{"member_id":12},"leader":0}}]')).toBeUndefined();
    expect(parseEndpointStatus('not json')).toBeUndefined();
  });
});

describe('error classification', () => {
  it('fails reads always, since a read changes nothing', () => {
    expect(classifyError('read', new GRPCDeadlineExceededError('deadline'))).toBe('fail');
  });

  it('fails writes only when no connection was made', () => {
    expect(classifyError('write', new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED'))).toBe('fail');
    expect(classifyError('cas', new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED'))).toBe('info');
    expect(classifyError('write', new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: leader changed'))).toBe('info');
    expect(classifyError('add', new Error('socket hang up'))).toBe('info');
  });
});

describe('target', () => {
  it('speaks register, set, counter, bank, queue and lock, refuses clock skew, and keeps keys apart', () => {
    expect(etcdTarget.name).toBe('etcd');
    expect([...etcdTarget.workloads]).toEqual(['register', 'set', 'counter', 'bank', 'queue', 'lock']);
    expect(etcdTarget.db({}).clockSkewable).toBe(false);
    expect(() => etcdTarget.client('list-append', {})).toThrow(/not supported/);
    expect(registerKey(3)).not.toBe(registerKey(4));
    expect(setPrefix(null).startsWith(registerKey(null))).toBe(false);
    // A lock's keys, its fenced resource and the counters live apart from one another and from the register.
    const keys = [counterKey(null), lockPrefix('lock-0'), lockResourceKey('lock-0'), registerKey(null), setPrefix(null), bankPrefix(null), queuePrefix(null), queueTakenPrefix(null)];
    for (const key of keys) for (const other of keys) if (key !== other) expect(other.startsWith(key)).toBe(false);
  });
});
