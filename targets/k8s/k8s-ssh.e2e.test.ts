// Proves the k8s target on the ssh backend: three sshd "machines" (network namespaces that cannot see this
// host's build cache) get the Go-built binaries copied over SFTP and run a control plane that serves the register.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { expect } from 'vitest';
import { createSshBackend } from '../../src/backends/ssh.js';
import { sshdAvailable, startSshdFixture } from '../../src/backends/ssh/sshd-fixture.js';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import type { TestContext } from '../../src/test-context.js';
import { invocationMaker } from '../../src/testing/cluster.js';
import { describeWhen, itWhen } from '../../src/testing/requirements.js';
import { k8sCacheDir, missingK8sBinaries } from './binaries.js';
import { k8sTarget } from './index.js';

const sshd = { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() };
const built = { 'the k8s binaries (bash scripts/build-k8s.sh)': missingK8sBinaries().length === 0 };
const invocation = invocationMaker();

describeWhen('the k8s target over ssh', sshd)('k8s target on the ssh backend', () => {
  itWhen('the k8s ssh run', { ...sshd, ...built })('copies the binaries to the nodes and serves the register through every apiserver', async () => {
    // The nodes must not see the controller's build cache: the Db has to bring the binaries itself.
    const fixture = await startSshdFixture({ count: 3, hiddenPaths: [k8sCacheDir()] });
    const runId = `flssh-k8s-${randomBytes(4).toString('hex')}`;
    const backend = createSshBackend({
      runId,
      hosts: fixture.hosts,
      privateKeyPath: fixture.userKeyFile,
      agent: false,
      knownHostsFiles: [fixture.knownHostsFile],
      remoteRoot: path.join(fixture.directory, 'remote'),
    });
    const db = k8sTarget.db({});
    const clients: Client[] = [];
    let nodes: Node[] = [];
    let test: TestContext | undefined;
    try {
      nodes = await backend.provision(3);
      test = { name: 'k8s-ssh-e2e', runId, runDir: '/nonexistent', backend, nodes, seed: 1, spec: { targetOptions: {} }, log: () => undefined };
      const context = test;
      await Promise.all(nodes.map((node) => db.setup(context, node)));
      const open = async (node: Node) => {
        const client = await k8sTarget.client('register', { operationTimeoutMs: 5000 }).open(context, node);
        clients.push(client);
        return client;
      };
      const writer = await open(nodes[0]);
      expect(await writer.invoke(context, invocation(0, 'cas', [null, 1]))).toMatchObject({ type: 'ok' });
      for (const node of nodes) expect(await (await open(node)).invoke(context, invocation(1, 'read', null))).toMatchObject({ type: 'ok', value: 1 });
    } finally {
      const context = test;
      if (context) {
        for (const client of clients) await client.close(context).catch(() => undefined);
        await Promise.all(nodes.map((node) => db.teardown(context, node).catch(() => undefined)));
      }
      await backend.teardown().catch(() => undefined);
      await fixture.close();
    }
  }, 400_000);
});
