// `faultline cleanup`: removes what killed runs left behind (namespaces, bridges, rules, mounts, processes,
// containers), on this host by default, or with `--backend ssh --nodes h1,h2` on the remote machines
// (processes, run directories, iptables chains and jumps).
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { cleanupLocalLeftovers, type CleanupReport } from '../backends/local.js';
import { addSshFlags, sshOptionsIn } from '../backends/ssh/flags.js';

export interface CleanupFlags {
  dryRun?: boolean;
  backend?: string;
  nodes?: string;
  runId?: string;
  [sshFlag: string]: unknown;
}

interface Cleaner {
  name: string;
  run(options: { dryRun: boolean; runId?: string }): Promise<CleanupReport>;
}

const localCleaner: Cleaner = { name: 'local', run: (options) => cleanupLocalLeftovers({ dryRun: options.dryRun }) };
const dockerCleaner: Cleaner = {
  name: 'docker',
  run: async (options) => (await import('../backends/docker.js')).cleanupDockerLeftovers({ dryRun: options.dryRun, runId: options.runId }),
};

/**
 * The ssh cleaner for the hosts and ssh flags given: it connects to every host and runs the backend's cleanup
 * script (processes, run directories, and the run's iptables chains with their jumps from INPUT/OUTPUT).
 */
function sshCleaner(flags: CleanupFlags): Cleaner {
  return {
    name: 'ssh',
    run: async (options) => {
      const ssh = await import('../backends/ssh.js');
      // Validated as `faultline run` validates them (the same names, the same messages).
      const { runId: _placeholder, ...sshOptions } = ssh.sshOptionsFromRecord({ ...sshOptionsIn(flags), hosts: flags.nodes }, { runId: 'cleanup' }, 'flags');
      const report = await ssh.cleanupSshLeftovers({ ...sshOptions, ...(options.runId !== undefined ? { runId: options.runId } : {}) });
      const what = options.runId === undefined ? 'every faultline run directory and process' : `run ${options.runId}`;
      return { removed: [...report.cleaned.map((host) => `${what} on ${host}`), ...report.chains], skipped: [], errors: report.errors };
    },
  };
}

/**
 * Which cleaners a cleanup runs: without --backend, this host's (local and docker); with one, only it. Bad
 * combinations are refused before anything is touched.
 */
export function cleanersFor(flags: CleanupFlags): Cleaner[] {
  const backend = flags.backend;
  if (backend !== undefined && !['local', 'docker', 'ssh'].includes(backend)) {
    throw new UserError(`--backend: expected one of local, docker, ssh, got '${backend}'`);
  }
  const sshFlagsGiven = Object.keys(sshOptionsIn(flags));
  if (backend === 'ssh') {
    if (typeof flags.nodes !== 'string' || flags.nodes.trim() === '') {
      throw new UserError('--nodes: expected the hosts to clean up for --backend ssh (e.g. --nodes db1,db2,db3)');
    }
    if (flags.dryRun) throw new UserError('--dry-run: the ssh backend cleans up in one step on each host and cannot list first; run without --dry-run');
    return [sshCleaner(flags)];
  }
  if (flags.nodes !== undefined) throw new UserError('--nodes: a host list is only for --backend ssh');
  if (sshFlagsGiven.length > 0) throw new UserError(`--${sshFlagsGiven[0]}: ssh flags are only for --backend ssh`);
  if (backend === 'local') {
    if (flags.runId !== undefined) throw new UserError('--run-id: the local backend removes the leftovers of every run whose controller is gone; run without --run-id');
    return [localCleaner];
  }
  if (backend === 'docker') return [dockerCleaner];
  if (flags.runId !== undefined) throw new UserError('--run-id: name the backend too (--backend docker or --backend ssh)');
  return [localCleaner, dockerCleaner];
}

export function register(program: Command): void {
  const command = program
    .command('cleanup')
    .description('remove the namespaces, bridges, iptables rules, mounts, processes and containers that killed runs left behind')
    .option('--dry-run', 'only print what would be removed (local and docker)')
    .option('--backend <name>', 'local, docker or ssh (default: local and docker, the ones on this host)')
    .option('--nodes <hosts>', 'ssh: the machines to clean up, comma-separated (as given to faultline run)')
    .option('--run-id <id>', 'docker, ssh: only this run (default docker: every run whose controller is gone; ssh: every faultline run on the hosts)');
  addSshFlags(command).action(async (flags: CleanupFlags) => {
    const cleaners = cleanersFor(flags);
    const dryRun = flags.dryRun === true;
    const verb = dryRun ? 'would remove' : 'removed';
    let removed = 0;
    let errors = 0;
    for (const cleaner of cleaners) {
      let report: CleanupReport;
      try {
        report = await cleaner.run({ dryRun, runId: flags.runId });
      } catch (error) {
        if (error instanceof UserError) throw error;
        process.stderr.write(`${cleaner.name}: cleanup failed: ${(error as Error).message}\n`);
        errors++;
        continue;
      }
      for (const line of report.removed) process.stdout.write(`${cleaner.name}: ${verb} ${line}\n`);
      for (const line of report.skipped) process.stdout.write(`${cleaner.name}: skipped ${line}\n`);
      for (const line of report.errors) process.stderr.write(`${cleaner.name}: could not remove ${line}\n`);
      removed += report.removed.length;
      errors += report.errors.length;
    }
    if (removed === 0 && errors === 0) process.stdout.write('nothing to clean up\n');
    else process.stdout.write(`${verb} ${removed} leftover${removed === 1 ? '' : 's'}${errors > 0 ? `, ${errors} could not be removed` : ''}\n`);
  });
}
