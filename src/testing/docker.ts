// Shared setup of the end-to-end tests that need the docker engine: whether they run, and proof a run left nothing behind.
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { expect } from 'vitest';
import { RUN_LABEL, bridgeInterfaceName, type DockerBackend } from '../backends/docker.js';
import { describeWhen } from './requirements.js';

/** The engine on /var/run/docker.sock, for tests that look at what a run created. */
export const docker = new Docker();

/** `describe` when the engine answers; otherwise skipped, or failed under CI (src/testing/requirements.ts). */
export async function describeWithDockerEngine(what = 'this docker e2e'): Promise<(title: string, body: () => void) => void> {
  const engineAnswers = await docker.ping().then(
    () => true,
    () => false,
  );
  return describeWhen(what, { 'the docker engine (answering on /var/run/docker.sock)': engineAnswers });
}

/** No container, network or volume labelled with the run remains. */
export async function expectNoLabelledResources(runId: string): Promise<void> {
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  expect(await docker.listContainers({ all: true, filters })).toEqual([]);
  expect(await docker.listNetworks({ filters })).toEqual([]);
  expect((await docker.listVolumes({ filters })).Volumes ?? []).toEqual([]);
}

/**
 * Nothing of a finished run is left: no labelled resource, and the run's one bridge (it existed: its rules
 * named it) is gone, with no host iptables rule still naming it.
 */
export async function expectRunLeftNothing(backend: DockerBackend, runId: string): Promise<void> {
  await expectNoLabelledResources(runId);
  expect(backend.createdNetworkIds).toHaveLength(1);
  const bridge = bridgeInterfaceName(backend.createdNetworkIds[0]);
  expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(bridge);
  expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(bridge);
}
