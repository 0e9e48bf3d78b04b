// Proves `faultline cleanup --backend ssh --run-id R` removes the iptables chains and jumps a killed run's
// partition, packet and flap nemeses left on real OpenSSH nodes (each its own network namespace), and only run R's:
// two controllers set their faults up over ssh and exit without healing, then the built CLI cleans one run.
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildOnce, cliPath, repositoryRoot } from '../../runner/e2e-support.js';
import { describeWhen } from '../../testing/requirements.js';
import { runChains } from '../ssh.js';
import { sshdAvailable, startSshdFixture, type SshdFixture } from './sshd-fixture.js';

/** iptables -S inside a fixture node's namespace: what that "machine" has. */
async function rulesOn(fixture: SshdFixture, index: number): Promise<string> {
  const result = await execa('ip', ['netns', 'exec', fixture.nodes[index].namespace, 'iptables', '-w', '5', '-S'], { timeout: 20_000 });
  return result.stdout;
}

describeWhen('the ssh iptables cleanup e2e', { 'root with openssh-server (/usr/sbin/sshd) and ssh-keygen': sshdAvailable() })(
  'faultline cleanup --backend ssh: iptables chains of a killed run',
  () => {
    let fixture: SshdFixture;
    let remoteRoot: string;

    /** A controller that sets up partition, packet and flap faults on both nodes, cuts them apart, and dies. */
    async function abandonFaults(runId: string): Promise<void> {
      const script = [
        `import { createSshBackend } from ${JSON.stringify(path.join(repositoryRoot, 'dist/src/backends/ssh.js'))};`,
        `import { composeNemeses, createNemesisPackages } from ${JSON.stringify(path.join(repositoryRoot, 'dist/nemeses/index.js'))};`,
        'const options = JSON.parse(process.argv[1]);',
        'const backend = createSshBackend(options);',
        'const nodes = await backend.provision(2);',
        "const test = { name: 'abandoned', runId: options.runId, runDir: '/nonexistent', backend, nodes, seed: 1, spec: {}, log: () => {} };",
        // The partition, packet and flap nemeses never ask the Db anything for these ops (flap's chain is made at setup).
        'const db = {};',
        "const nemesis = composeNemeses(createNemesisPackages(['partition', 'packet', 'flap']));",
        'await nemesis.setup(test, db);',
        "const cut = await nemesis.invoke(test, db, { index: 0, process: 'nemesis', type: 'invoke', f: 'start-partition', value: { mode: 'halves', seed: 1 }, time: 0 });",
        "if (cut.type !== 'info') throw new Error(JSON.stringify(cut));",
        'process.exit(0);',
      ].join('\n');
      const options = { runId, hosts: fixture.hosts, privateKeyPath: fixture.userKeyFile, agent: false, knownHostsFiles: [fixture.knownHostsFile], remoteRoot };
      const child = await execa('node', ['--input-type=module', '-e', script, JSON.stringify(options)], { timeout: 120_000, reject: false });
      expect(child.exitCode, child.stderr).toBe(0);
    }

    function cleanup(runId: string) {
      return execa(
        'node',
        [
          cliPath, 'cleanup', '--backend', 'ssh', '--nodes', fixture.hosts.join(','), '--ssh-key', fixture.userKeyFile,
          '--ssh-known-hosts', fixture.knownHostsFile, '--ssh-root', remoteRoot, '--run-id', runId,
        ],
        { cwd: repositoryRoot, timeout: 120_000, reject: false, env: { FORCE_COLOR: '0', SSH_AUTH_SOCK: '' } },
      );
    }

    beforeAll(async () => {
      await buildOnce();
      fixture = await startSshdFixture({ count: 2 });
      // A root of this test's own: cleanup deletes marked run directories below it, never anyone else's.
      remoteRoot = path.join(fixture.directory, 'remote');
    });

    // The nodes' namespaces go with the fixture, and every rule in them.
    afterAll(async () => fixture?.close());

    it('removes the named run\'s chains and their jumps from INPUT and OUTPUT on every node, and only that run\'s', async () => {
      const killed = `flchains-a-${process.pid}`;
      const other = `flchains-b-${process.pid}`;
      await abandonFaults(killed);
      await abandonFaults(other);
      const [partition, loss, flap] = runChains(killed);
      for (const index of [0, 1]) {
        const rules = await rulesOn(fixture, index);
        for (const chain of [partition, loss, flap]) {
          expect(rules, `node ${index}`).toContain(`-N ${chain}`);
          expect(rules).toContain(`-A INPUT -j ${chain}`);
        }
        // Partitions cut both directions; packet loss drops on the way in only.
        expect(rules).toContain(`-A OUTPUT -j ${partition}`);
        // The partition's DROP rules are in place: the killed run left the nodes cut apart.
        expect(rules).toMatch(new RegExp(`-A ${partition} .*-j DROP`));
        for (const chain of runChains(other)) expect(rules).toContain(`-N ${chain}`);
      }

      const cleaned = await cleanup(killed);
      expect(cleaned.exitCode, cleaned.stderr).toBe(0);
      for (const host of fixture.hosts) {
        for (const chain of [partition, loss, flap]) expect(cleaned.stdout).toContain(`ssh: removed iptables chain ${chain} and its jumps on ${host}`);
      }
      for (const index of [0, 1]) {
        const rules = await rulesOn(fixture, index);
        expect(rules).not.toContain(partition);
        expect(rules).not.toContain(loss);
        expect(rules).not.toContain(flap);
        for (const chain of runChains(other)) {
          expect(rules).toContain(`-N ${chain}`);
          expect(rules).toContain(`-A INPUT -j ${chain}`);
        }
      }

      // A second cleanup of the same run finds nothing of it and still succeeds.
      const again = await cleanup(killed);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).not.toContain('iptables chain');
      const otherCleaned = await cleanup(other);
      expect(otherCleaned.exitCode, otherCleaned.stderr).toBe(0);
      for (const index of [0, 1]) expect(await rulesOn(fixture, index)).not.toMatch(/FL-(PART|LOSS|FLAP)-/);
    }, 300_000);
  },
);
