// `faultline cleanup`: removes what killed runs left behind (namespaces, bridges, rules, mounts, processes).
import type { Command } from 'commander';
import { cleanupLocalLeftovers, type CleanupReport } from '../backends/local.js';

/** One source of leftovers; the docker backend adds its own line here. */
const cleaners: Array<{ name: string; run: (options: { dryRun: boolean }) => Promise<CleanupReport> }> = [
  { name: 'local', run: (options) => cleanupLocalLeftovers(options) },
  { name: 'docker', run: async (options) => (await import('../backends/docker.js')).cleanupDockerLeftovers(options) },
];

export function register(program: Command): void {
  program
    .command('cleanup')
    .description('remove the namespaces, bridges, iptables rules, mounts and processes that killed runs left behind')
    .option('--dry-run', 'only print what would be removed')
    .action(async (options: { dryRun?: boolean }) => {
      const dryRun = options.dryRun === true;
      const verb = dryRun ? 'would remove' : 'removed';
      let removed = 0;
      let errors = 0;
      for (const cleaner of cleaners) {
        let report: CleanupReport;
        try {
          report = await cleaner.run({ dryRun });
        } catch (error) {
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
