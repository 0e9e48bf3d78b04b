// Proves the k8s target on the docker backend: the Go-built binaries are copied into plain base containers and a
// 3-node control plane serves the ConfigMap register through every apiserver, and after an apiserver is killed.
import { expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { DockerBackend, cleanupDockerLeftovers } from '../../src/backends/docker.js';
import { clusterFixture, invocationMaker, invokeUntil } from '../../src/testing/cluster.js';
import { describeWithDockerEngine } from '../../src/testing/docker.js';
import { missingK8sBinaries } from './binaries.js';
import { K8sDb, k8sTarget } from './index.js';

const runIt = await describeWithDockerEngine();
const invocation = invocationMaker();

runIt('k8s target on the docker backend', () => {
  it('has its binaries built (scripts/build-k8s.sh)', () => {
    expect(missingK8sBinaries()).toEqual([]);
  });

  const runId = `flg-k8s-docker-${Date.now().toString(36)}`;
  const cluster = clusterFixture({
    name: 'k8s-docker-e2e',
    runId,
    backend: new DockerBackend({ runId, image: 'faultline/base:latest' }),
    target: k8sTarget,
    nodeCount: 3,
    clientOptions: { operationTimeoutMs: 5000 },
    prepare: () => buildImages({ images: ['base'], log: (line) => process.stdout.write(`images: ${line}\n`) }),
    cleanup: () => cleanupDockerLeftovers({ runId }),
  });

  it('serves the register on every node, and again after an apiserver is killed and restarted', async () => {
    const { nodes, test } = cluster;
    const writer = await cluster.openClient(nodes[0]);
    expect(await writer.invoke(test, invocation(0, 'cas', [null, 1]))).toMatchObject({ type: 'ok' });
    for (const node of nodes) {
      const reader = await cluster.openClient(node);
      expect(await reader.invoke(test, invocation(1, 'read', null))).toMatchObject({ type: 'ok', value: 1 });
    }
    const apiserverOnly = new K8sDb({ faultComponent: 'apiserver' });
    await apiserverOnly.kill(test, nodes[1]);
    const dead = await cluster.openClient(nodes[1]);
    expect((await dead.invoke(test, invocation(2, 'write', 2))).type).toBe('fail');
    await cluster.db.start(test, nodes[1]);
    const back = await invokeUntil(dead, test, () => invocation(2, 'cas', [1, 3]), (op) => op.type === 'ok', { attempts: 40, pauseMs: 500 });
    expect(back).toMatchObject({ type: 'ok' });
  });
});
