// Proves whole `faultline run`s of etcd on the docker backend: valid under partitions, kills and pauses; with
// serializable reads, a minority partition makes stale reads that the checker judges invalid within a few seeds.
// After each run no container, network, volume or host iptables rule of the run remains.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildImages } from '../../docker/builder.js';
import { DockerBackend, cleanupDockerLeftovers } from '../../src/backends/docker.js';
import { runTest, type RunOutcome } from '../../src/runner/index.js';
import { loadSpec } from '../../src/spec/load.js';
import type { TestSpec } from '../../src/spec/types.js';
import { describeWithDockerEngine, expectRunLeftNothing } from '../../src/testing/docker.js';

const runIt = await describeWithDockerEngine();

/** Seeds tried before the serializable-reads test gives up; each attempt is one ~30 s run. */
const SERIALIZABLE_ATTEMPTS_MAX = 3;

runIt('faultline run: etcd on docker', () => {
  let store = '';
  const runIds: string[] = [];

  beforeAll(async () => {
    await buildImages({ images: ['etcd'], log: (line) => process.stdout.write(`images: ${line}\n`) });
    store = await mkdtemp(join(tmpdir(), 'flg-etcd-run-'));
  });

  afterAll(async () => {
    for (const runId of runIds) await cleanupDockerLeftovers({ runId });
    if (store) await rm(store, { recursive: true, force: true });
  });

  async function run(spec: TestSpec): Promise<RunOutcome> {
    const runId = `flg-etcd-run-${Date.now().toString(36)}`;
    runIds.push(runId);
    const backend = new DockerBackend({ runId, image: 'faultline/etcd:latest' });
    // The runner tears the nodes down itself; the second teardown (idempotent) covers a runner that threw.
    const outcome = await runTest(spec, { backend, live: false }).finally(() => backend.teardown());
    await expectRunLeftNothing(backend, runId);
    return outcome;
  }

  function etcdSpec(flags: Record<string, unknown>): TestSpec {
    return loadSpec({
      flags: {
        target: 'etcd',
        backend: 'docker',
        nodes: '3',
        workload: 'register',
        keys: '3',
        concurrency: '6',
        rate: '40',
        recovery: '3',
        store,
        ...flags,
      },
    });
  }

  it('stays linearizable under partitions, kills and pauses', async () => {
    const spec = etcdSpec({ nemesis: 'partition,kill,pause', 'nemesis-interval': '3', 'time-limit': '24', seed: '7' });
    const outcome = await run(spec);
    expect(outcome.results.valid).toBe(true);
    expect(outcome.exitCode).toBe(0);
  });

  it('is judged invalid with serializable reads under a minority partition, within a few seeds', async () => {
    const verdicts: Array<boolean | 'unknown'> = [];
    for (let attempt = 1; attempt <= SERIALIZABLE_ATTEMPTS_MAX; attempt++) {
      const spec = etcdSpec({ nodes: '5', keys: '2', concurrency: '10', nemesis: 'partition', 'time-limit': '16', seed: String(attempt) });
      spec.targetOptions = { ...spec.targetOptions, serializableReads: true };
      // One node cut off for most of the run: its clients keep reading its frozen, member-local state.
      spec.nemesisSchedule = 'timeline';
      spec.nemesisTimeline = [
        { atSeconds: 2, fault: 'partition', action: 'start', value: { mode: 'one' } },
        { atSeconds: 14, fault: 'partition', action: 'stop' },
      ];
      const outcome = await run(spec);
      verdicts.push(outcome.results.valid);
      if (outcome.results.valid === false) break;
    }
    expect(verdicts).toContain(false);
  });
});
