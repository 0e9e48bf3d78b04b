// Proves `version: 3.6` of the etcd target on the local backend: a 3-member cluster of the Go-built etcd 3.6
// serves register ops, reports 3.6 through its status API, and names one leader.
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createLocalBackend } from '../../src/backends/local.js';
import { clusterFixture, invocationMaker } from '../../src/testing/cluster.js';
import { etcdBinaryOf, etcdTarget } from './index.js';
import { describeWhen } from '../../src/testing/requirements.js';

const isRoot = process.getuid?.() === 0;
// CI builds etcd 3.6 in its set-up (scripts/build-k8s.sh) and installs Debian's etcdctl: a missing one fails there.
const runIt = describeWhen('the etcd 3.6 e2e', { root: isRoot, [`etcd 3.6 (${etcdBinaryOf('3.6')})`]: existsSync(etcdBinaryOf('3.6')), 'etcdctl (/usr/bin/etcdctl)': existsSync('/usr/bin/etcdctl') });

const invocation = invocationMaker();

runIt('etcd target, version 3.6, on the local backend', () => {
  const runId = `flg-etcd36-${Date.now().toString(36)}`;
  const cluster = clusterFixture({
    name: 'etcd36-local-e2e',
    runId,
    backend: createLocalBackend({ runId, diskSizeMb: 256 }),
    target: etcdTarget,
    nodeCount: 3,
    targetOptions: { version: '3.6' },
    clientOptions: { operationTimeoutMs: 3000 },
  });

  it('runs etcd 3.6 and serves register ops with one leader', async () => {
    const { db, nodes, test } = cluster;
    const status = await test.backend.exec(nodes[0], ['/usr/bin/etcdctl', '--endpoints', 'http://127.0.0.1:2379', 'endpoint', 'status', '--write-out', 'json']);
    expect(status.stdout).toMatch(/"version":"3\.6\./);
    const client = await cluster.openClient(nodes[1]);
    expect((await client.invoke(test, invocation(0, 'write', 1))).type).toBe('ok');
    expect(await client.invoke(test, invocation(0, 'cas', [1, 2]))).toMatchObject({ type: 'ok' });
    expect(await client.invoke(test, invocation(0, 'read', null))).toMatchObject({ type: 'ok', value: 2 });
    expect(await db.primaries!(test)).toHaveLength(1);
  });
});
