// Proves a whole `faultline run` of the bundled raftkv on the docker backend: built into its image, it stays
// linearizable under partitions, kills, pauses and clock skew, and the run leaves no container, network or rule.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { runTest } from '../runner/index.js';
import { loadSpec } from '../spec/load.js';
import { DockerBackend, RUN_LABEL, bridgeInterfaceName, cleanupDockerLeftovers } from './docker.js';

const docker = new Docker();
const engineAnswers = await docker.ping().then(
  () => true,
  () => false,
);
const runIt = engineAnswers || process.env.CI ? describe : describe.skip;

runIt('faultline run: raftkv on docker', () => {
  const runId = `flg-raftkv-run-${Date.now().toString(36)}`;
  let store = '';

  beforeAll(async () => {
    // raftkv's image carries dist/targets/raftkv, so `npm run build` (done by `npm test`'s setup) comes first.
    await buildImages({ images: ['raftkv'], log: (line) => process.stdout.write(`images: ${line}\n`) });
    store = await mkdtemp(join(tmpdir(), 'flg-raftkv-run-'));
  });

  afterAll(async () => {
    await cleanupDockerLeftovers({ runId });
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('stays linearizable under partitions, kills, pauses and clock skew', async () => {
    const spec = loadSpec({
      flags: {
        target: 'raftkv',
        backend: 'docker',
        nodes: '3',
        workload: 'register',
        keys: '3',
        nemesis: 'partition,kill,pause,clock',
        'nemesis-interval': '3',
        'time-limit': '24',
        concurrency: '6',
        rate: '40',
        recovery: '3',
        seed: '7',
        store,
      },
    });
    const backend = new DockerBackend({ runId, image: 'faultline/raftkv:latest' });
    const outcome = await runTest(spec, { backend, live: false }).finally(() => backend.teardown());
    expect(outcome.results.valid).toBe(true);
    expect(outcome.exitCode).toBe(0);
    const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
    expect(await docker.listContainers({ all: true, filters })).toEqual([]);
    expect(await docker.listNetworks({ filters })).toEqual([]);
    expect((await docker.listVolumes({ filters })).Volumes ?? []).toEqual([]);
    // The run's bridge existed (its rules named it) and neither it nor any rule naming it is left.
    expect(backend.createdNetworkIds).toHaveLength(1);
    const bridge = bridgeInterfaceName(backend.createdNetworkIds[0]);
    expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(bridge);
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(bridge);
  });
});
