// `npm run bench:docker`: how long a 5-node cluster takes on the docker backend, from nothing (image build
// included, "cold") and with images cached ("warm"), for raftkv and etcd. Prints one JSON object.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerBackend, cleanupDockerLeftovers } from '../src/backends/docker.js';
import type { Node } from '../src/backends/types.js';
import type { Op } from '../src/history/types.js';
import { loadTarget } from '../src/targets.js';
import type { TestContext } from '../src/test-context.js';
import { buildImages, type ImageName } from './builder.js';

const NODE_COUNT = 5;
/** Bound on waiting for the first acknowledged write after setup. */
const FIRST_WRITE_ATTEMPTS_MAX = 40;

interface Measurement {
  imageBuildMs?: number;
  provisionMs: number;
  /** Db.setup on every node until it serves (etcd: cluster healthy). */
  setupMs: number;
  /** From the start of provisioning to the first acknowledged write through the target's client. */
  servingMs: number;
}

function since(startedMs: number): number {
  return Math.round(performance.now() - startedMs);
}

async function measureCluster(targetName: 'raftkv' | 'etcd', imageBuildMs?: number): Promise<Measurement> {
  const target = await loadTarget(targetName);
  const runId = `flg-bench-${targetName}-${Date.now().toString(36)}`;
  const backend = new DockerBackend({ runId, image: `faultline/${targetName}:latest` });
  let nodes: Node[] = [];
  const test: TestContext = {
    name: `bench-${targetName}`,
    runId,
    runDir: tmpdir(),
    backend,
    nodes,
    seed: 1,
    spec: {},
    log: () => undefined,
  };
  const db = target.db({});
  try {
    const started = performance.now();
    nodes = await backend.provision(NODE_COUNT);
    const provisionMs = since(started);
    test.nodes = nodes;
    const setupStarted = performance.now();
    await Promise.all(nodes.map((node) => db.setup(test, node)));
    const setupMs = since(setupStarted);
    const client = await target.client('register', {}).open(test, nodes[0]);
    let written: Op | undefined;
    for (let attempt = 0; attempt < FIRST_WRITE_ATTEMPTS_MAX && written?.type !== 'ok'; attempt++) {
      written = await client.invoke(test, { index: attempt, process: 0, type: 'invoke', f: 'write', value: 1, key: 1, time: 0 });
      if (written.type !== 'ok') await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await client.close(test);
    if (written?.type !== 'ok') throw new Error(`no write acknowledged: ${written?.error ?? 'unknown'}`);
    return { ...(imageBuildMs === undefined ? {} : { imageBuildMs }), provisionMs, setupMs, servingMs: since(started) };
  } finally {
    await Promise.all(nodes.map((node) => db.teardown(test, node).catch(() => undefined)));
    await backend.teardown().catch(() => undefined);
    await cleanupDockerLeftovers({ runId });
  }
}

async function main(): Promise<void> {
  const warmOnly = process.argv.includes('--warm-only');
  const report: Record<string, unknown> = { nodes: NODE_COUNT, unit: 'ms' };
  for (const targetName of ['etcd', 'raftkv'] as const) {
    const images: ImageName[] = [targetName];
    const entry: Record<string, unknown> = {};
    try {
      if (!warmOnly) {
        // Cold: a fresh cache directory, so debootstrap, the chroot installs and the import all run.
        const cacheDir = await mkdtemp(join(tmpdir(), 'flg-bench-cache-'));
        try {
          const buildStarted = performance.now();
          await buildImages({ images, force: true, cacheDir });
          const imageBuildMs = since(buildStarted);
          const cluster = await measureCluster(targetName, imageBuildMs);
          entry.cold = { ...cluster, totalMs: imageBuildMs + cluster.servingMs };
        } finally {
          await rm(cacheDir, { recursive: true, force: true });
        }
      }
      const cachedStarted = performance.now();
      await buildImages({ images });
      const cachedBuildMs = since(cachedStarted);
      const warm = await measureCluster(targetName, cachedBuildMs);
      entry.warm = { ...warm, totalMs: cachedBuildMs + warm.servingMs };
    } catch (error) {
      entry.error = (error as Error).message.split('\n')[0];
    }
    report[targetName] = entry;
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
