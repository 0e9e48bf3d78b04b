// Proves the k8s target on the local backend with the real Go-built etcd 3.6 and kube-apiserver: a 3-node control
// plane serves the ConfigMap register, survives an apiserver and an etcd member killed separately, serves stale
// watch-cache reads (labelled and detected) when an apiserver is cut off from etcd, and elects one Lease leader.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { createLocalBackend } from '../../src/backends/local.js';
import { clusterFixture, invocationMaker, invokeUntil } from '../../src/testing/cluster.js';
import type { Op } from '../../src/history/types.js';
import { missingK8sBinaries } from './binaries.js';
import { K8sDb, k8sTarget, kubeConfigFor } from './index.js';
import { runLeaseElection } from './lease.js';
import { runWatchCheck } from './watch.js';
import { staleCacheReads } from './staleness.js';
import { describeWhen } from '../../src/testing/requirements.js';

const isRoot = process.getuid?.() === 0;
const missing = missingK8sBinaries();
// CI builds the binaries in its set-up (scripts/build-k8s.sh): there a missing build is a failure, not a skip.
const runIt = describeWhen('the k8s local-backend e2e', { root: isRoot, [`the k8s binaries (${missing.join(', ') || 'all present'}; scripts/build-k8s.sh)`]: missing.length === 0 });

const invocation = invocationMaker();

runIt('k8s target on the local backend', () => {
  it('has its binaries built (scripts/build-k8s.sh)', () => {
    expect(missing).toEqual([]);
  });

  const runId = `flg-k8s-local-${Date.now().toString(36)}`;
  const cluster = clusterFixture({
    name: 'k8s-local-e2e',
    runId,
    backend: createLocalBackend({ runId, diskSizeMb: 256 }),
    target: k8sTarget,
    nodeCount: 3,
    clientOptions: { operationTimeoutMs: 5000 },
  });

  it('serves the ConfigMap register through every apiserver, with cas by resourceVersion', async () => {
    const { nodes, test } = cluster;
    const writer = await cluster.openClient(nodes[0]);
    expect(await writer.invoke(test, invocation(0, 'read', null))).toMatchObject({ type: 'ok', value: null });
    expect(await writer.invoke(test, invocation(0, 'cas', [null, 1]))).toMatchObject({ type: 'ok' });
    expect(await writer.invoke(test, invocation(0, 'cas', [null, 5]))).toMatchObject({ type: 'fail', error: 'value differed' });
    for (const node of nodes) {
      const reader = await cluster.openClient(node);
      expect(await reader.invoke(test, invocation(1, 'read', null))).toMatchObject({ type: 'ok', value: 1 });
    }
    expect(await writer.invoke(test, invocation(0, 'write', 2))).toMatchObject({ type: 'ok', value: 2 });
    expect(await writer.invoke(test, invocation(0, 'cas', [2, 3]))).toMatchObject({ type: 'ok' });
    expect(await writer.invoke(test, invocation(0, 'cas', [2, 4]))).toMatchObject({ type: 'fail' });
  });

  it('kills an apiserver and an etcd member separately; the rest serves, and both come back', async () => {
    const { nodes, test } = cluster;
    const apiserverOnly = new K8sDb({ faultComponent: 'apiserver' });
    const etcdOnly = new K8sDb({ faultComponent: 'etcd' });
    await apiserverOnly.kill(test, nodes[1]);
    await etcdOnly.kill(test, nodes[2]);
    const survivor = await cluster.openClient(nodes[0]);
    expect(await invokeUntil(survivor, test, () => invocation(2, 'write', 10), (op) => op.type === 'ok', { attempts: 20, pauseMs: 500 })).toMatchObject({ type: 'ok' });
    // No apiserver: the connection is refused, so a write is a certain fail.
    const deadApiserver = await cluster.openClient(nodes[1]);
    expect(await deadApiserver.invoke(test, invocation(3, 'write', 11))).toMatchObject({ type: 'fail' });
    // The apiserver runs but its etcd member is dead: a consistent read cannot be served.
    const noEtcd = await cluster.openClient(nodes[2]);
    expect((await noEtcd.invoke(test, invocation(4, 'read', null))).type).toBe('fail');
    await cluster.db.start(test, nodes[1]);
    await cluster.db.start(test, nodes[2]);
    for (const node of [nodes[1], nodes[2]]) {
      const client = await cluster.openClient(node);
      const read = await invokeUntil(client, test, () => invocation(5, 'read', null), (op) => op.type === 'ok' && op.value === 10, { attempts: 60, pauseMs: 500 });
      expect(read).toMatchObject({ type: 'ok', value: 10 });
    }
  });

  it('serves stale watch-cache reads from an apiserver cut off from etcd, and the labeller finds them', async () => {
    const { nodes, test } = cluster;
    // Its own Db only cuts the link (no PKI needed); healing goes through the cluster's Db, whose restart
    // probes the apiserver with the run's certificates.
    const link = new K8sDb({ faultComponent: 'apiserver-etcd-link' });
    const writer = await cluster.openClient(nodes[0]);
    const cacheReader = await cluster.openClient(nodes[1], 'register', { cacheReads: true });
    const consistentReader = await cluster.openClient(nodes[1]);
    const history: Op[] = [];
    let time = 0;
    // Records invoke and completion with increasing times, as the runner's history would.
    const record = async (client: typeof writer, process: number, f: string, value: unknown) => {
      const invoke = { ...invocation(process, f, value, 7), time: ++time };
      history.push({ ...invoke, index: history.length });
      const completion = await client.invoke(test, invoke);
      history.push({ ...completion, time: ++time, index: history.length, node: process === 0 ? nodes[0].name : nodes[1].name });
      return completion;
    };
    expect(await record(writer, 0, 'write', 100)).toMatchObject({ type: 'ok' });
    // The cache catches up with the write (bounded), before the cut.
    for (let attempt = 0; attempt < 40 && (await record(cacheReader, 1, 'read', null)).value !== 100; attempt++) await new Promise((r) => setTimeout(r, 250));
    await link.kill(test, nodes[1]);
    try {
      expect(await record(writer, 0, 'write', 101)).toMatchObject({ type: 'ok' });
      const cached = await record(cacheReader, 1, 'read', null);
      expect(cached).toMatchObject({ type: 'ok', value: 100, readFrom: 'watch-cache' });
      // A consistent read through the same apiserver needs etcd: it cannot answer.
      expect((await record(consistentReader, 2, 'read', null)).type).toBe('fail');
    } finally {
      await cluster.db.start(test, nodes[1]);
    }
    const report = staleCacheReads(history);
    expect(report.staleReads.length).toBeGreaterThanOrEqual(1);
    expect(report.staleReads[0]).toMatchObject({ key: 7, node: nodes[1].name, missedWrites: 1 });
    process.stdout.write(`k8s cache reads: ${JSON.stringify(report)}\n`);
    const healed = await invokeUntil(cacheReader, test, () => invocation(1, 'read', null, 7), (op) => op.value === 101, { attempts: 60, pauseMs: 500 });
    expect(healed).toMatchObject({ type: 'ok', value: 101 });
  });

  it('elects one Lease leader at a time, and a new one when the leader is cut off from etcd', async () => {
    const { nodes, test } = cluster;
    const db = cluster.db as K8sDb;
    const link = new K8sDb({ faultComponent: 'apiserver-etcd-link' });
    const controller = new AbortController();
    const election = runLeaseElection(nodes, await db.pki(test), controller.signal, { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 800 });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // The first leader is found through the Lease itself, a few retry periods in.
    await sleep(5000);
    let cut: string | undefined;
    try {
      const api = kubeConfigFor(nodes[0], await db.pki(test)).makeApiClient(CoordinationV1Api);
      const lease = await api.readNamespacedLease({ name: 'faultline-leader', namespace: 'default' });
      cut = lease.spec?.holderIdentity?.replace('candidate-', '');
      const leaderNode = nodes.find((node) => node.name === cut);
      expect(leaderNode).toBeDefined();
      await link.kill(test, leaderNode!);
      await sleep(14_000);
      await cluster.db.start(test, leaderNode!);
      await sleep(4000);
    } finally {
      controller.abort();
    }
    const report = await election;
    process.stdout.write(`k8s lease election: ${JSON.stringify({ ...report, errors: report.errors.slice(0, 5) })}\n`);
    const leaders = new Set(report.intervals.map((interval) => interval.node));
    expect(leaders.size).toBeGreaterThanOrEqual(2);
    expect(report.intervals.find((interval) => interval.node === cut)?.ended).toBe('renew-deadline');
    expect(report.overlaps).toEqual([]);
  });

  it('delivers every watcher ordered, gap-free events across resumes, with one apiserver cut off from etcd for a while', async () => {
    const { nodes, test } = cluster;
    const db = cluster.db as K8sDb;
    const link = new K8sDb({ faultComponent: 'apiserver-etcd-link' });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const report = await runWatchCheck(nodes, await db.pki(test), { writes: 50, writeIntervalMs: 150, watchSpanMs: 2500 }, async () => {
      await sleep(2000);
      await link.kill(test, nodes[2]);
      await sleep(3000);
      await cluster.db.start(test, nodes[2]);
    });
    process.stdout.write(`k8s watch: ${JSON.stringify({ ...report, acknowledged: report.acknowledged.length, watchers: report.watchers.map((w) => ({ ...w, seen: w.seen.length })) })}\n`);
    expect(report.acknowledged.length).toBeGreaterThan(40);
    for (const watcher of report.watchers) {
      expect(watcher.resumes, watcher.node).toBeGreaterThan(0);
      expect(watcher.outOfOrder, watcher.node).toEqual([]);
      expect(watcher.missed, watcher.node).toEqual([]);
      expect(watcher.caughtUp, watcher.node).toBe(true);
    }
    expect(report.valid).toBe(true);
  });
});
