// Proves the etcd target on real containers: a 3-node Debian etcd cluster serves register and set ops through
// the gRPC client, reports its leader, keeps data across a SIGKILL and restart, and keeps serving while one member is down.
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { DockerBackend, cleanupDockerLeftovers } from '../../src/backends/docker.js';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import type { Op } from '../../src/history/types.js';
import type { TestContext } from '../../src/test-context.js';
import { etcdTarget } from './index.js';

const docker = new Docker();
const engineAnswers = await docker.ping().then(
  () => true,
  () => false,
);
const runIt = engineAnswers || process.env.CI ? describe : describe.skip;

let nextIndex = 0;
function invocation(process: number, f: string, value: unknown, key: number | null = 1): Op {
  return { index: nextIndex++, process, type: 'invoke', f, value, key, time: 0 };
}

runIt('etcd target on the docker backend', () => {
  const runId = `flg-etcd-e2e-${Date.now().toString(36)}`;
  const backend = new DockerBackend({ runId, image: 'faultline/etcd:latest' });
  const db = etcdTarget.db({});
  let nodes: Node[] = [];
  let test: TestContext;
  const clients: Client[] = [];

  async function openClient(node: Node, workload: 'register' | 'set' = 'register', options: Record<string, unknown> = {}): Promise<Client> {
    const client = await etcdTarget.client(workload, { operationTimeoutMs: 3000, ...options }).open(test, node);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    await buildImages({ images: ['etcd'], log: (line) => process.stdout.write(`images: ${line}\n`) });
    nodes = await backend.provision(3);
    test = {
      name: 'etcd-e2e',
      runId,
      runDir: '/nonexistent',
      backend,
      nodes,
      seed: 1,
      spec: {},
      log: (message) => process.stdout.write(`${message}\n`),
    };
    await Promise.all(nodes.map((node) => db.setup(test, node)));
  });

  afterAll(async () => {
    for (const client of clients) await client.close(test).catch(() => undefined);
    if (test) await Promise.all(nodes.map((node) => db.teardown(test, node).catch(() => undefined)));
    await backend.teardown();
    await cleanupDockerLeftovers({ runId });
  });

  it('serves reads, writes and compare-and-set on every node', async () => {
    const first = await openClient(nodes[0]);
    const second = await openClient(nodes[1]);
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
    const client = await openClient(nodes[2], 'set');
    for (const value of [5, 1, 3]) expect((await client.invoke(test, invocation(2, 'add', value))).type).toBe('ok');
    const read = await client.invoke(test, invocation(2, 'read', null));
    expect(read).toMatchObject({ type: 'ok', value: [1, 3, 5] });
  });

  it('names exactly one leader', async () => {
    const primaries = await db.primaries!(test);
    expect(primaries).toHaveLength(1);
    expect(nodes.map((node) => node.name)).toContain(primaries[0]);
  });

  it('survives a killed member and keeps its data across the restart', async () => {
    const [leader] = await db.primaries!(test);
    const victim = nodes.find((node) => node.name === leader)!;
    const survivor = nodes.find((node) => node.name !== leader)!;
    const client = await openClient(survivor);
    expect((await client.invoke(test, invocation(3, 'write', 10))).type).toBe('ok');
    await db.kill(test, victim);
    // The two remaining members elect a new leader and keep serving; bounded retries while they do.
    let written: Op | undefined;
    for (let attempt = 0; attempt < 20 && written?.type !== 'ok'; attempt++) {
      written = await client.invoke(test, invocation(3, 'write', 11));
    }
    expect(written?.type).toBe('ok');
    const killedClient = await openClient(victim, 'register', { operationTimeoutMs: 1000 });
    const unreachable = await killedClient.invoke(test, invocation(4, 'read', null));
    expect(unreachable.type).toBe('fail');
    await db.start(test, victim);
    // Its data directory survived, so it rejoined the same cluster and catches up to 11.
    let caughtUp: Op | undefined;
    const restartedClient = await openClient(victim);
    for (let attempt = 0; attempt < 40 && caughtUp?.value !== 11; attempt++) {
      caughtUp = await restartedClient.invoke(test, invocation(5, 'read', null));
      if (caughtUp.value !== 11) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(caughtUp).toMatchObject({ type: 'ok', value: 11 });
    const log = await backend.exec(victim, ['cat', db.logFiles(test, victim)[0]]);
    expect(log.stdout).toMatch(/restarting local member|recovered store from snapshot|restarting member/i);
  });

  it('refuses to pretend it can skew the clock of a Go binary', () => {
    expect(db.clockSkewable).toBe(false);
  });
});
