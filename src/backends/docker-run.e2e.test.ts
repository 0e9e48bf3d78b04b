// Proves a whole `faultline run` of the bundled raftkv on the docker backend: built into its image, it stays
// linearizable under partitions, kills, pauses and clock skew, and the run leaves no container, network or rule.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { runTest } from '../runner/index.js';
import { loadSpec } from '../spec/load.js';
import { describeWithDockerEngine, expectRunLeftNothing } from '../testing/docker.js';
import { DockerBackend, cleanupDockerLeftovers } from './docker.js';

const runIt = await describeWithDockerEngine();

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
    // Nothing of the run is left: no labelled resource, no bridge, no host iptables rule naming it.
    await expectRunLeftNothing(backend, runId);
  });
});
