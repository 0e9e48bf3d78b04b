// Proves the etcd target on the local backend (network namespaces on this host, Debian's etcd from the host):
// a 3-node cluster serves register ops through the gRPC client, names its leader, and survives a killed member.
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createLocalBackend } from '../../src/backends/local.js';
import { clusterFixture, invocationMaker, invokeUntil } from '../../src/testing/cluster.js';
import { etcdTarget } from './index.js';
import { describeWhen } from '../../src/testing/requirements.js';

const isRoot = process.getuid?.() === 0;
// CI runs as root with etcd installed by scripts/setup-docker.sh: there a missing piece is a failure.
const runIt = describeWhen('the etcd local-backend e2e', { root: isRoot, 'etcd (/usr/bin/etcd, apt-get install etcd-server)': existsSync('/usr/bin/etcd') });

const invocation = invocationMaker();

runIt('etcd target on the local backend', () => {
  const runId = `flg-etcd-local-${Date.now().toString(36)}`;
  const cluster = clusterFixture({
    name: 'etcd-local-e2e',
    runId,
    // etcd preallocates a 64 MiB write-ahead log segment, so the data tmpfs needs room beyond that.
    backend: createLocalBackend({ runId, diskSizeMb: 256 }),
    target: etcdTarget,
    nodeCount: 3,
    clientOptions: { operationTimeoutMs: 3000 },
  });

  it('serves register ops on every node and names one leader', async () => {
    const { db, nodes, test } = cluster;
    const writer = await cluster.openClient(nodes[0]);
    expect((await writer.invoke(test, invocation(0, 'write', 1))).type).toBe('ok');
    for (const node of nodes) {
      const reader = await cluster.openClient(node);
      expect(await reader.invoke(test, invocation(1, 'read', null))).toMatchObject({ type: 'ok', value: 1 });
    }
    expect((await writer.invoke(test, invocation(0, 'cas', [1, 2]))).type).toBe('ok');
    expect((await writer.invoke(test, invocation(0, 'cas', [1, 3]))).type).toBe('fail');
    expect(await db.primaries!(test)).toHaveLength(1);
  });

  it('keeps serving with one member killed, and the member rejoins with its data', async () => {
    const { db, nodes, test } = cluster;
    const [leader] = await db.primaries!(test);
    const victim = nodes.find((node) => node.name === leader)!;
    const survivor = nodes.find((node) => node.name !== leader)!;
    await db.kill(test, victim);
    const client = await cluster.openClient(survivor);
    const written = await invokeUntil(client, test, () => invocation(2, 'write', 7), (op) => op.type === 'ok', { attempts: 20 });
    expect(written?.type).toBe('ok');
    await db.start(test, victim);
    const rejoined = await cluster.openClient(victim);
    const read = await invokeUntil(rejoined, test, () => invocation(3, 'read', null), (op) => op.value === 7, { attempts: 40, pauseMs: 250 });
    expect(read).toMatchObject({ type: 'ok', value: 7 });
  });
});
