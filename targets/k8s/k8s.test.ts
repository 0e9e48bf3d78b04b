// Proves the k8s target's pure parts: pinned versions agree with the build script, the PKI is real and names
// each node, argv wiring (stacked etcd over loopback), error classification, options, and the stale-read labeller.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/backends/types.js';
import type { Op } from '../../src/history/types.js';
import { ETCD36_VERSION, KUBERNETES_VERSION, k8sBinaries } from './binaries.js';
import { generatePki } from './certs.js';
import { apiserverArgv, classifyError, configMapName, etcdArgv, faultComponentOption, k8sTarget, linkChainName, registerValue } from './index.js';
import { leaderOverlaps } from './lease.js';
import { staleCacheReads } from './staleness.js';
import { judgeWatcher } from './watch.js';

const node = (name: string, host: string): Node => ({ name, host, dir: `/tmp/x/${name}`, clockFile: `/tmp/x/${name}/clock` });

describe('k8s build pins', () => {
  it('looks for the binaries where scripts/build-k8s.sh puts them, by the same versions', () => {
    const script = readFileSync(new URL('../../scripts/build-k8s.sh', import.meta.url), 'utf8');
    expect(script).toContain(`KUBERNETES_VERSION=\${FAULTLINE_KUBERNETES_VERSION:-${KUBERNETES_VERSION}}`);
    expect(script).toContain(`ETCD_VERSION=\${FAULTLINE_ETCD_VERSION:-${ETCD36_VERSION}}`);
    const binaries = k8sBinaries({ FAULTLINE_K8S_CACHE: '/c' });
    expect(binaries).toEqual({ kubeApiserver: `/c/kubernetes-${KUBERNETES_VERSION}/bin/kube-apiserver`, etcd: `/c/etcd-${ETCD36_VERSION}/bin/etcd` });
  });
});

describe('k8s PKI', () => {
  it('signs a serving certificate per node naming its address, and a system:masters client certificate', async () => {
    const pki = await generatePki([{ name: 'n1', host: '10.77.0.2' }, { name: 'n2', host: '10.77.0.3' }]);
    const ca = new X509Certificate(pki.caCertificate);
    for (const [name, host] of [['n1', '10.77.0.2'], ['n2', '10.77.0.3']]) {
      const serving = new X509Certificate(pki.serving[name].certificate);
      expect(serving.verify(ca.publicKey)).toBe(true);
      expect(serving.subjectAltName).toContain(`IP Address:${host}`);
      expect(serving.subjectAltName).toContain('IP Address:127.0.0.1');
    }
    const client = new X509Certificate(pki.clientCertificate);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.subject).toContain('O=system:masters');
    expect(pki.serviceAccountKey).toContain('PRIVATE KEY');
  }, 60_000);
});

describe('k8s argv', () => {
  const nodes = [node('n1', '10.1.0.2'), node('n2', '10.1.0.3'), node('n3', '10.1.0.4')];
  it('points each apiserver at its own etcd member over loopback (kubeadm stacked etcd)', () => {
    const argv = apiserverArgv('/bin/kube-apiserver', nodes[1]);
    expect(argv[argv.indexOf('--etcd-servers') + 1]).toBe('http://127.0.0.1:2379');
    expect(argv[argv.indexOf('--bind-address') + 1]).toBe('10.1.0.3');
  });
  it('bootstraps etcd with every member as a peer and serves clients on loopback too', () => {
    const argv = etcdArgv('/bin/etcd', nodes[0], nodes, 'token');
    expect(argv[argv.indexOf('--initial-cluster') + 1]).toBe('n1=http://10.1.0.2:2380,n2=http://10.1.0.3:2380,n3=http://10.1.0.4:2380');
    expect(argv[argv.indexOf('--listen-client-urls') + 1]).toContain('http://127.0.0.1:2379');
  });
  it('names its link-cut chain per run within iptables limits', () => {
    expect(linkChainName('run-a')).not.toBe(linkChainName('run-b'));
    expect(linkChainName('run-a').length).toBeLessThanOrEqual(28);
  });
});

describe('k8s options', () => {
  it('takes a known fault component and refuses others with the list', () => {
    expect(faultComponentOption({})).toBe('both');
    expect(faultComponentOption({ 'fault-component': 'apiserver-etcd-link' })).toBe('apiserver-etcd-link');
    expect(() => faultComponentOption({ 'fault-component': 'kubelet' })).toThrow(
      "k8s target: fault-component must be one of both, apiserver, etcd, apiserver-etcd-link, got 'kubelet'",
    );
    expect(() => k8sTarget.client('set', {})).toThrow('k8s target: workload set is not supported');
    expect(() => k8sTarget.client('lock', {})).not.toThrow();
  });
});

describe('k8s client errors', () => {
  const apiError = (code: number) => new ApiException(code, 'x', '{"message":"m"}', {});
  it('fails writes only when the apiserver certainly wrote nothing', () => {
    expect(classifyError('cas', apiError(409))).toBe('fail');
    expect(classifyError('write', apiError(429))).toBe('fail');
    expect(classifyError('write', apiError(504))).toBe('info');
    expect(classifyError('write', apiError(500))).toBe('info');
    expect(classifyError('write', Object.assign(new Error('connect ECONNREFUSED 10.1.0.2:6443'), { code: 'ECONNREFUSED' }))).toBe('fail');
    expect(classifyError('write', new Error('socket hang up'))).toBe('info');
    expect(classifyError('read', apiError(504))).toBe('fail');
  });
  it('keeps the register value as JSON in the ConfigMap, null when absent', () => {
    expect(registerValue(undefined)).toBeNull();
    expect(registerValue({ data: { value: '7' } })).toBe(7);
    expect(configMapName(3)).toBe('faultline-register-3');
  });
});

describe('stale watch-cache reads', () => {
  let index = 0;
  const at = (time: number, process: number, type: Op['type'], f: string, extra: Record<string, unknown> = {}): Op =>
    ({ index: index++, process, type, f, value: null, time, key: 1, ...extra }) as Op;
  it('labels a cache read that missed a write acknowledged before it began, and only that one', () => {
    const history: Op[] = [
      at(1, 0, 'invoke', 'write'), at(2, 0, 'ok', 'write', { resourceVersion: '100' }),
      at(3, 0, 'invoke', 'write'), at(4, 0, 'ok', 'write', { resourceVersion: '105' }),
      // Began after 105 was acknowledged, saw 100: stale.
      at(5, 1, 'invoke', 'read'), at(6, 1, 'ok', 'read', { readFrom: 'watch-cache', resourceVersion: '100', node: 'n2' }),
      // Saw the newest: fresh.
      at(7, 2, 'invoke', 'read'), at(8, 2, 'ok', 'read', { readFrom: 'watch-cache', resourceVersion: '105' }),
      // A consistent read is not the labeller's business.
      at(9, 3, 'invoke', 'read'), at(10, 3, 'ok', 'read', { resourceVersion: '100' }),
      // Concurrent with the write it missed: not provably stale.
      at(11, 4, 'invoke', 'read'), at(12, 0, 'invoke', 'write'), at(13, 0, 'ok', 'write', { resourceVersion: '110' }),
      at(14, 4, 'ok', 'read', { readFrom: 'watch-cache', resourceVersion: '105' }),
    ];
    const report = staleCacheReads(history);
    expect(report.cacheReads).toBe(3);
    expect(report.staleReads).toHaveLength(1);
    expect(report.staleReads).toMatchObject([{ index: 5, key: 1, node: 'n2', readResourceVersion: '100', newerResourceVersion: '105', missedWrites: 1 }]);
  });
});

describe('watch judge', () => {
  it('flags events out of order and acknowledged writes a watcher skipped, within the window it saw', () => {
    expect(judgeWatcher('10', ['11', '12', '14'], ['11', '12', '14', '15'])).toEqual({ outOfOrder: [], missed: [] });
    expect(judgeWatcher('10', ['11', '14'], ['11', '12', '14'])).toEqual({ outOfOrder: [], missed: ['12'] });
    expect(judgeWatcher('10', ['12', '11', '14'], ['11', '12', '14'])).toEqual({ outOfOrder: [{ previous: '12', next: '11' }], missed: [] });
  });
});

describe('lease overlaps', () => {
  it('finds two candidates leading at once, never one candidate with itself', () => {
    const interval = (candidate: string, startMs: number, endMs: number) => ({ candidate, node: candidate, startMs, endMs, ended: 'stopped' as const });
    expect(leaderOverlaps([interval('a', 0, 10), interval('b', 10, 20), interval('a', 20, 30), interval('a', 25, 31)])).toEqual([]);
    const overlapping = leaderOverlaps([interval('a', 0, 10), interval('b', 8, 20)]);
    expect(overlapping).toHaveLength(1);
    expect(overlapping[0].overlapMs).toBe(2);
  });
});
