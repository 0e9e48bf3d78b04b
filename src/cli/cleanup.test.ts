// Proves `faultline cleanup` picks its cleaners from --backend and refuses contradictory flags before touching
// anything, through the real commander command (ssh cleanup against real machines: cleanup-ssh.e2e.test.ts).
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import { cleanersFor, register } from './cleanup.js';

async function runCleanup(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  register(program);
  await program.parseAsync(['node', 'faultline', 'cleanup', ...args]);
}

describe('faultline cleanup: which backends', () => {
  it('cleans this host (local, docker) by default, one backend when named', () => {
    expect(cleanersFor({}).map((cleaner) => cleaner.name)).toEqual(['local', 'docker']);
    expect(cleanersFor({ backend: 'docker', runId: 'r1' }).map((cleaner) => cleaner.name)).toEqual(['docker']);
    expect(cleanersFor({ backend: 'local' }).map((cleaner) => cleaner.name)).toEqual(['local']);
    expect(cleanersFor({ backend: 'ssh', nodes: 'h1,h2', sshUser: 'admin' }).map((cleaner) => cleaner.name)).toEqual(['ssh']);
  });

  it('refuses, with one line naming the flag, what cannot be done', async () => {
    const refusals: Array<[string[], RegExp]> = [
      [['--backend', 'ssh'], /^--nodes: expected the hosts to clean up for --backend ssh/],
      [['--backend', 'ssh', '--nodes', 'h1', '--dry-run'], /^--dry-run: the ssh backend/],
      [['--nodes', 'h1,h2'], /^--nodes: a host list is only for --backend ssh/],
      [['--ssh-user', 'admin'], /^--ssh-user: ssh flags are only for --backend ssh/],
      [['--backend', 'local', '--run-id', 'abc'], /^--run-id: the local backend/],
      [['--run-id', 'abc'], /^--run-id: name the backend too/],
      [['--backend', 'k8s'], /^--backend: expected one of local, docker, ssh, got 'k8s'/],
    ];
    for (const [args, message] of refusals) {
      const error = await runCleanup(args).then(() => undefined, (caught: unknown) => caught);
      expect(error, args.join(' ')).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('validates ssh values as faultline run does, before connecting', async () => {
    const error = await runCleanup(['--backend', 'ssh', '--nodes', 'h1', '--ssh-port', '99999']).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe('flags: ssh-port: expected a port from 1 to 65535, got "99999"');
  });
});
