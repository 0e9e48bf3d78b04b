// Proves `faultline cleanup`'s docker part on a real engine: resources of a run whose controller died are
// removed (container, network, volume), while a run whose controller still lives is left alone and reported.
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { describeWithDockerEngine, docker, expectNoLabelledResources } from '../testing/docker.js';
import { DockerBackend, RUN_LABEL, cleanupDockerLeftovers } from './docker.js';

const runIt = await describeWithDockerEngine();

runIt('docker leftovers cleanup', () => {
  const deadRunId = `flg-dead-run-${Date.now().toString(36)}`;
  const liveRunId = `flg-live-run-${Date.now().toString(36)}`;
  const live = new DockerBackend({ runId: liveRunId, image: 'faultline/base:latest', dataSizeMiB: 8 });

  beforeAll(async () => {
    await buildImages({ images: ['base'] });
    await live.provision(1);
    // A controller that is gone: a process that ran and exited, so its pid names no live process now.
    const exited = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
    const deadController = `${hostname()}/${exited.stdout.trim()}/1`;
    const labels = { [RUN_LABEL]: deadRunId, 'faultline.controller': deadController };
    await docker.createNetwork({ Name: `faultline-${deadRunId}-net`, Driver: 'bridge', Labels: labels });
    await docker.createVolume({ Name: `faultline-${deadRunId}-n1-data`, Labels: labels });
    const container = await docker.createContainer({
      name: `faultline-${deadRunId}-n1`,
      Image: 'faultline/base:latest',
      Cmd: ['sleep', 'infinity'],
      Labels: labels,
      HostConfig: { NetworkMode: `faultline-${deadRunId}-net`, Mounts: [{ Type: 'volume', Source: `faultline-${deadRunId}-n1-data`, Target: '/data' }] },
    });
    await container.start();
    await container.pause();
  });

  afterAll(async () => {
    await live.teardown();
    await cleanupDockerLeftovers({ runId: deadRunId });
  });

  it('lists in a dry run without removing anything', async () => {
    const report = await cleanupDockerLeftovers({ dryRun: true });
    expect(report.removed).toEqual(
      expect.arrayContaining([`container faultline-${deadRunId}-n1`, `network faultline-${deadRunId}-net`, `volume faultline-${deadRunId}-n1-data`]),
    );
    const filters = JSON.stringify({ label: [`${RUN_LABEL}=${deadRunId}`] });
    expect(await docker.listContainers({ all: true, filters })).toHaveLength(1);
  });

  it('removes a dead run, paused container included, and spares a live one', async () => {
    const report = await cleanupDockerLeftovers();
    expect(report.errors).toEqual([]);
    expect(report.removed).toEqual(
      expect.arrayContaining([`container faultline-${deadRunId}-n1`, `network faultline-${deadRunId}-net`, `volume faultline-${deadRunId}-n1-data`]),
    );
    expect(report.removed.some((line) => line.includes(liveRunId))).toBe(false);
    expect(report.skipped.some((line) => line.includes(liveRunId))).toBe(true);
    await expectNoLabelledResources(deadRunId);
    const alive = JSON.stringify({ label: [`${RUN_LABEL}=${liveRunId}`] });
    expect(await docker.listContainers({ filters: alive })).toHaveLength(1);
  });
});
