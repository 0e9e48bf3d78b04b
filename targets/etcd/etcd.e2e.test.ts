// Proves the etcd target on real containers: a 3-node Debian etcd cluster serves register and set ops through
// the gRPC client, reports its leader, keeps data across a SIGKILL and restart, and keeps serving while one member is down.
import { expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { DockerBackend, cleanupDockerLeftovers } from '../../src/backends/docker.js';
import { clusterFixture, invocationMaker, invokeUntil } from '../../src/testing/cluster.js';
import { describeWithDockerEngine } from '../../src/testing/docker.js';
import { etcdTarget } from './index.js';

const runIt = await describeWithDockerEngine();
const invocation = invocationMaker();

runIt('etcd target on the docker backend', () => {
  const runId = `flg-etcd-e2e-${Date.now().toString(36)}`;
  const backend = new DockerBackend({ runId, image: 'faultline/etcd:latest' });
  const cluster = clusterFixture({
    name: 'etcd-e2e',
    runId,
    backend,
    target: etcdTarget,
    nodeCount: 3,
    clientOptions: { operationTimeoutMs: 3000 },
    prepare: () => buildImages({ images: ['etcd'], log: (line) => process.stdout.write(`images: ${line}\n`) }),
    cleanup: () => cleanupDockerLeftovers({ runId }),
  });

  it('serves reads, writes and compare-and-set on every node', async () => {
    const { nodes, test } = cluster;
    const first = await cluster.openClient(nodes[0]);
    const second = await cluster.openClient(nodes[1]);
    expect((await first.invoke(test, invocation(0, 'read', null))).value).toBe(null);
    expect((await first.invoke(test, invocation(0, 'write', 3))).type).toBe('ok');
    const read = await second.invoke(test, invocation(1, 'read', null));
    expect(read).toMatchObject({ type: 'ok', f: 'read', value: 3, process: 1 });
    expect((await second.invoke(test, invocation(1, 'cas', [3, 4]))).type).toBe('ok');
    const refused = await first.invoke(test, invocation(0, 'cas', [3, 5]));
    expect(refused).toMatchObject({ type: 'fail', value: [3, 5] });
    expect((await first.invoke(test, invocation(0, 'read', null))).value).toBe(4);
    // Keys are independent registers.
    expect((await first.invoke(test, invocation(0, 'read', null, 2))).value).toBe(null);
  });

  it('serves the set workload', async () => {
    const { nodes, test } = cluster;
    const client = await cluster.openClient(nodes[2], 'set');
    for (const value of [5, 1, 3]) expect((await client.invoke(test, invocation(2, 'add', value))).type).toBe('ok');
    const read = await client.invoke(test, invocation(2, 'read', null));
    expect(read).toMatchObject({ type: 'ok', value: [1, 3, 5] });
  });

  it('names exactly one leader', async () => {
    const primaries = await cluster.db.primaries!(cluster.test);
    expect(primaries).toHaveLength(1);
    expect(cluster.nodes.map((node) => node.name)).toContain(primaries[0]);
  });

  it('survives a killed member and keeps its data across the restart', async () => {
    const { db, nodes, test } = cluster;
    const [leader] = await db.primaries!(test);
    const victim = nodes.find((node) => node.name === leader)!;
    const survivor = nodes.find((node) => node.name !== leader)!;
    const client = await cluster.openClient(survivor);
    expect((await client.invoke(test, invocation(3, 'write', 10))).type).toBe('ok');
    await db.kill(test, victim);
    // The two remaining members elect a new leader and keep serving; bounded retries while they do.
    const written = await invokeUntil(client, test, () => invocation(3, 'write', 11), (op) => op.type === 'ok', { attempts: 20 });
    expect(written?.type).toBe('ok');
    const killedClient = await cluster.openClient(victim, 'register', { operationTimeoutMs: 1000 });
    const unreachable = await killedClient.invoke(test, invocation(4, 'read', null));
    expect(unreachable.type).toBe('fail');
    await db.start(test, victim);
    // Its data directory survived, so it rejoined the same cluster and catches up to 11.
    const restartedClient = await cluster.openClient(victim);
    const caughtUp = await invokeUntil(restartedClient, test, () => invocation(5, 'read', null), (op) => op.value === 11, { attempts: 40, pauseMs: 250 });
    expect(caughtUp).toMatchObject({ type: 'ok', value: 11 });
    const log = await backend.exec(victim, ['cat', db.logFiles(test, victim)[0]]);
    expect(log.stdout).toMatch(/restarting local member|recovered store from snapshot|restarting member/i);
  });

  it('refuses to pretend it can skew the clock of a Go binary', () => {
    expect(cluster.db.clockSkewable).toBe(false);
  });
});
