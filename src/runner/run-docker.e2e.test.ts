// Proves `faultline run --backend docker --target etcd` (the built CLI, as a user types it) runs every node in
// the target's own image, faultline/etcd:latest, not the base image, and is judged valid under partitions and
// kills: it watches the engine for the run's containers while the run goes on, then checks none remain.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RUN_LABEL, cleanupDockerLeftovers } from '../backends/docker.js';
import type { RunResults } from '../results.js';
import { buildOnce, cliPath, describeRun, repositoryRoot } from './e2e-support.js';
import { describeWhen } from '../testing/requirements.js';

const docker = new Docker();
const engineAnswers = await docker.ping().then(
  () => true,
  () => false,
);
const etcdImagePresent = engineAnswers && (await docker.getImage('faultline/etcd:latest').inspect().then(() => true, () => false));
// CI builds the images in its set-up: there a missing engine or image is a failure, not a skip.
const runIt = describeWhen('the faultline run --backend docker e2e', {
  'the docker engine': engineAnswers,
  'the faultline/etcd:latest image (faultline images build)': etcdImagePresent,
});

runIt('faultline run --backend docker', () => {
  let store = '';
  let runId: string | undefined;

  beforeAll(async () => {
    await buildOnce();
    store = await mkdtemp(join(tmpdir(), 'flI-docker-run-'));
  });

  afterAll(async () => {
    if (runId) await cleanupDockerLeftovers({ runId });
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('runs etcd nodes in the etcd image and judges the run valid', async () => {
    const child = execa('node', [
      cliPath, 'run', '--name', 'docker-etcd-image', '--backend', 'docker', '--target', 'etcd', '--nodes', '3', '--time-limit', '10',
      '--nemesis', 'partition,kill', '--nemesis-interval', '2', '--concurrency', '3', '--rate', '30', '--recovery', '2', '--seed', '77', '--store', store,
    ], { cwd: repositoryRoot, reject: false, timeout: 300_000, env: { FORCE_COLOR: '0' } });
    // Images of the run's containers, seen while they exist (bounded by the run itself and a poll count).
    const images = new Map<string, string>();
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let poll = 0; poll < 600 && child.exitCode === null && images.size < 3; poll++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      runId ??= /run id (\S+);/.exec(output)?.[1];
      if (!runId) continue;
      const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] }) });
      for (const container of containers) images.set(container.Names[0] ?? container.Id, container.Image);
    }
    const finished = await child;
    const runDir = /faultline: results in (.+)$/m.exec(finished.stdout)?.[1]?.trim();
    const results = runDir ? (JSON.parse(readFileSync(join(runDir, 'results.json'), 'utf8')) as RunResults) : undefined;
    const summary = describeRun({ exitCode: finished.exitCode ?? -1, stdout: finished.stdout, stderr: finished.stderr, runDir, results });

    expect(images.size, summary).toBe(3);
    expect([...new Set(images.values())]).toEqual(['faultline/etcd:latest']);
    expect(results?.errors, summary).toEqual([]);
    expect(results?.valid, summary).toBe(true);
    expect(finished.exitCode, summary).toBe(0);
    const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] }) });
    expect(left.map((container) => container.Names[0])).toEqual([]);
  }, 400_000);
});
