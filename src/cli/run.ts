// `faultline run [spec.yaml] [flags]`: one complete test (issue 4). Flags override the spec file; Ctrl-C, SIGTERM,
// SIGHUP and an uncaught error heal faults and tear nodes down before exiting; the exit code is the verdict (0, 1, 3) or 2.
import type { Command } from 'commander';
import { addSshFlags } from '../backends/ssh/flags.js';
import { loadSpec } from '../spec/index.js';
import { runTest } from '../runner/index.js';

export function register(program: Command): void {
  const runCommand = program
    .command('run')
    .description('run a test: a cluster, concurrent clients, a schedule of faults, a recorded history, a verdict')
    .argument('[spec]', 'YAML or JSON spec file (flags override its fields)')
    .option('--name <name>', 'test name (store folder); default <target>-<workload>')
    .option('--target <name>', 'system under test: raftkv or etcd (default raftkv)')
    .option('--backend <name>', 'where nodes live: local, docker or ssh (default local)')
    .option('--nodes <n>', 'node count 1-9 (default 5); for ssh a comma-separated host list')
    .option('--workload <name>', 'register or set (default register)')
    .option('--keys <n>', 'register: keys live at once (default 5)')
    .option('--key-distribution <kind>', 'register: uniform or zipfian (default uniform)')
    .option('--ops-per-key <n>', 'register: ops on a key before a fresh key replaces it (default 300)')
    .option('--nemesis <faults>', "partition,kill,pause,clock,disk,packet or 'none' (default partition,kill,pause,clock)")
    .option('--nemesis-interval <seconds>', 'mean length of quiet and faulty windows (default 5)')
    .option('--nemesis-schedule <kind>', 'periodic, random or timeline (default random)')
    .option('--time-limit <seconds>', 'length of the main phase (default 60)')
    .option('--concurrency <n>', 'client processes (default 10)')
    .option('--rate <ops-per-second>', 'client ops per second over all processes (default 100)')
    .option('--seed <n>', 'seed of every random choice; printed at the start of every run')
    .option('--store <dir>', 'results store (default store)')
    .option('--bug <name>', 'raftkv bug switch: stale-read, lazy-fsync, forget-vote, lease-read')
    .option('--consistency <model>', 'list-append, rw-register: model the transactions are checked against (default strict-serializable)')
    .option('--target-options <pairs>', 'options of the target as name=value pairs, comma-separated (e.g. isolation=serializable)')
    .option('--serializable-reads', "etcd: read with etcd's serializable (member-local, possibly stale) reads")
    .option('--recovery <seconds>', 'quiet time after healing, before the final reads (default 5)')
    .option('--client-timeout <seconds>', 'a client op unanswered this long is recorded as info (default 10)')
    .option('--leave-running', 'keep the cluster up after the run (faults healed) for inspection');
  // The ssh backend declares its flags once (src/backends/ssh/flags.ts), for run and cleanup alike.
  addSshFlags(runCommand).action(async (file: string | undefined, flags: Record<string, unknown>) => {
      const spec = loadSpec({ file, flags });
      const command = ['faultline', ...process.argv.slice(process.argv.indexOf('run'))];
      if (flags.seed === undefined) command.push('--seed', String(spec.seed));

      const interrupt = new AbortController();
      let signalsSeen = 0;
      let crashed = false;
      const interruptOnce = (reason: string) => {
        signalsSeen++;
        if (signalsSeen === 1) {
          process.stderr.write(`\nfaultline: ${reason}: healing every fault and tearing the nodes down before exiting\n`);
          interrupt.abort();
        } else {
          // Exiting now would leave faults in place; cleanup steps are bounded, so waiting always ends.
          process.stderr.write(`faultline: ${reason} again: still healing and tearing down; this finishes on its own (faultline cleanup removes leftovers of a killed run)\n`);
        }
      };
      const onSignal = (signal: NodeJS.Signals) => interruptOnce(signal);
      // A closed terminal (SIGHUP) or a bug in the controller must not leave faults in force either: they take
      // the same heal-and-teardown path as SIGTERM, and the run exits 2.
      const onCrash = (error: unknown) => {
        crashed = true;
        const text = error instanceof Error ? `${error.message}${error.stack ? `\n${error.stack}` : ''}` : String(error);
        process.stderr.write(`faultline: uncaught error in the controller: ${text}\n`);
        interruptOnce('uncaught error');
      };
      const handledSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const signal of handledSignals) process.on(signal, onSignal);
      process.on('uncaughtException', onCrash);
      process.on('unhandledRejection', onCrash);
      try {
        const outcome = await runTest(spec, { signal: interrupt.signal, command });
        const verdict = outcome.results.valid === true ? 'valid' : outcome.results.valid === false ? 'INVALID' : 'unknown';
        for (const error of outcome.results.errors) process.stdout.write(`faultline: problem: ${error}\n`);
        for (const warning of outcome.results.warnings ?? []) process.stdout.write(`faultline: warning: ${warning}\n`);
        process.stdout.write(`faultline: verdict: ${verdict} (exit ${outcome.exitCode})\n`);
        process.stdout.write(`faultline: results: ${outcome.runDir}\n`);
        process.exitCode = crashed ? 2 : outcome.exitCode;
      } finally {
        for (const signal of handledSignals) process.removeListener(signal, onSignal);
        process.removeListener('uncaughtException', onCrash);
        process.removeListener('unhandledRejection', onCrash);
      }
    });
}
