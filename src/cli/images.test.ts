// Proves `faultline images` and `faultline doctor` at their edges: a bad --only is one UserError line naming
// the flag, and doctor reports every item it promises, one line each, without throwing.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import { runDoctor } from './doctor.js';
import { register } from './images.js';

function program(): Command {
  const root = new Command().exitOverride();
  register(root);
  return root;
}

describe('faultline images build', () => {
  it('rejects an unknown image name with one line naming the flag and the choices', async () => {
    const error = await program()
      .parseAsync(['node', 'faultline', 'images', 'build', '--only', 'base,postgres'])
      .then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe("--only: expected a comma-separated list of base, raftkv, etcd, got 'postgres'");
    expect((error as UserError).exitCode).toBe(2);
  });
});

describe('faultline doctor', () => {
  it('checks engine, images, root, iptables, libfaketime, netns, etcd and chromium', async () => {
    const checks = await runDoctor();
    const names = checks.map((check) => check.name);
    for (const expected of ['root', 'docker engine', 'image faultline/base', 'image faultline/raftkv', 'image faultline/etcd', 'iptables', 'libfaketime', 'network namespaces', 'chromium']) {
      expect(names).toContain(expected);
    }
    for (const check of checks) {
      expect(check.detail).not.toContain('\n');
      if (!check.ok) expect(check.fix).toBeTruthy();
    }
    // Root is judged from the process itself, so this line cannot disagree with the machine.
    expect(checks.find((check) => check.name === 'root')!.ok).toBe(process.getuid?.() === 0);
  });
});
