// Proves `faultline run --target etcd --backend local` works as typed, with no volume size given: the runner
// asks the local backend for the data volume etcd declares (its WAL preallocation overflows the 64 MiB default),
// and the built CLI runs a real 3-node etcd in network namespaces under partitions and kills, judged valid,
// leaving nothing behind.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, describeRun, faultline, leftoversOf } from './e2e-support.js';
import { describeWhen } from '../testing/requirements.js';

const isRoot = process.getuid?.() === 0;
// CI runs as root with etcd installed by its set-up: there a missing piece is a failure, not a skip.
const runIt = describeWhen('the etcd local-backend run e2e', { root: isRoot, 'etcd (/usr/bin/etcd, apt-get install etcd-server)': existsSync('/usr/bin/etcd') });

const store = mkdtempSync(join(tmpdir(), 'flI-etcd-local-'));
afterAll(() => rmSync(store, { recursive: true, force: true }));

runIt('faultline run --target etcd --backend local', () => {
  beforeAll(buildOnce, 300_000);

  it('is valid under partitions and kills with the default volume flags', async () => {
    const run = await faultline([
      'run', '--name', 'etcd-local', '--target', 'etcd', '--backend', 'local', '--nodes', '3', '--time-limit', '10',
      '--nemesis', 'partition,kill', '--nemesis-interval', '2', '--concurrency', '4', '--rate', '40', '--recovery', '2', '--seed', '3', '--store', store,
    ], 300_000);
    try {
      expect(run.results?.errors, describeRun(run)).toEqual([]);
      expect(run.results?.valid, describeRun(run)).toBe(true);
      expect(run.exitCode, describeRun(run)).toBe(0);
    } finally {
      if (run.runId) expect(await leftoversOf(run.runId)).toEqual([]);
    }
  }, 400_000);
});
