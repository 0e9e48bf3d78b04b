// `faultline run [spec.yaml] [flags]`: one complete test (issue 4). Flags override the spec file; Ctrl-C, SIGTERM,
// SIGHUP and an uncaught error heal faults and tear nodes down before exiting; the exit code is the verdict (0, 1, 3) or 2.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { addSshFlags } from '../backends/ssh/flags.js';
import { loadSpec } from '../spec/index.js';
import { runTest } from '../runner/index.js';
import { targetNames } from '../targets.js';
import { workloadNames } from '../../workloads/index.js';
import { FAULT_NAMES } from '../../nemeses/index.js';

export function register(program: Command): void {
  const runCommand = program
    .command('run')
    .description('run a test: a cluster, concurrent clients, a schedule of faults, a recorded history, a verdict')
    .argument('[spec]', 'YAML or JSON spec file (flags override its fields)')
    .option('--name <name>', 'test name (store folder); default <target>-<workload>')
    .option('--target <name>', `system under test: ${targetNames().join(', ')}, or a path to your own target module (default raftkv)`)
    .option('--backend <name>', 'where nodes live: local, docker or ssh (default local)')
    .option('--nodes <n>', 'node count 1-9 (default 5); for ssh a comma-separated host list')
    .option('--workload <name>', `${workloadNames().join(', ')}, or a path to your own workload module (default register)`)
    .option('--keys <n>', 'register: keys live at once (default 5)')
    .option('--key-distribution <kind>', 'register: uniform or zipfian (default uniform)')
    .option('--ops-per-key <n>', 'register: ops on a key before a fresh key replaces it (default 300)')
    .option('--nemesis <faults>', `${FAULT_NAMES.join(',')}, paths to your own nemesis modules, or 'none' (default partition,kill,pause,clock)`)
    .option('--nemesis-interval <seconds>', 'mean length of quiet and faulty windows (default 5)')
    .option('--nemesis-schedule <kind>', 'periodic, random or timeline (default random)')
    .option('--nemesis-concurrent-faults <n>', 'periodic, random: faults a window may hold at once, composed (default 1: never overlapping)')
    .option('--time-limit <seconds>', 'length of the main phase (default 60)')
    .option('--concurrency <n>', 'client processes (default 10)')
    .option('--rate <ops-per-second>', 'client ops per second over all processes (default 100)')
    .option('--seed <n>', 'seed of every random choice; printed at the start of every run')
    .option('--store <dir>', 'results store (default store)')
    .option('--bug <name>', 'raftkv bug switch: stale-read, lazy-fsync, forget-vote, lease-read, split-txn, lock-wall-clock')
    .option('--consistency <model>', 'list-append, rw-register: model the transactions are checked against (default strict-serializable)')
    .option('--target-options <pairs>', 'options of the target as name=value pairs, comma-separated (e.g. isolation=serializable)')
    .option('--serializable-reads', "etcd: read with etcd's serializable (member-local, possibly stale) reads")
    .option('--recovery <seconds>', 'quiet time after healing, before the final reads (default 5)')
    .option('--client-timeout <seconds>', 'a client op unanswered this long is recorded as info (default 10)')
    .option('--leave-running', 'keep the cluster up after the run (faults healed) for inspection')
    .option('--junit <file>', "also copy the run's junit.xml to FILE (every run writes it in its results folder)")
    .option('--summary-json <file>', "also copy the run's summary.json to FILE");
  // The ssh backend declares its flags once (src/backends/ssh/flags.ts), for run and cleanup alike.
  addSshFlags(runCommand).action(async (file: string | undefined, flags: Record<string, unknown>) => {
      const spec = loadSpec({ file, flags });
      const command = ['faultline', ...process.argv.slice(process.argv.indexOf('run'))];
      if (flags.seed === undefined) command.push('--seed', String(spec.seed));

      const trouble = interruptOnTrouble(process.stderr);
      try {
        const outcome = await runTest(spec, { signal: trouble.signal, command });
        const verdict = outcome.results.valid === true ? 'valid' : outcome.results.valid === false ? 'INVALID' : 'unknown';
        for (const error of outcome.results.errors) process.stdout.write(`faultline: problem: ${error}\n`);
        for (const warning of outcome.results.warnings ?? []) process.stdout.write(`faultline: warning: ${warning}\n`);
        // Why a verdict is not valid (the same lines as the report's banner).
        const { verdictReasons } = await import('../../reports/html.js');
        for (const reason of verdictReasons(outcome.results)) process.stdout.write(`faultline: why: ${reason}\n`);
        process.stdout.write(`faultline: verdict: ${verdict} (exit ${outcome.exitCode})\n`);
        process.stdout.write(`faultline: results: ${outcome.runDir}\n`);
        copyCiOutputs(outcome.runDir, flags);
        process.exitCode = trouble.crashed() ? 2 : outcome.exitCode;
      } finally {
        trouble.dispose();
      }
    });
}

/**
 * Turns Ctrl-C, SIGTERM, SIGHUP (a closed terminal or ssh session), an uncaught exception and an unhandled
 * rejection into one abort of the run, so each takes the same heal-and-teardown path; a second one only says
 * that the teardown is still going (it is bounded and finishes on its own).
 */
export function interruptOnTrouble(stderr: NodeJS.WritableStream): { signal: AbortSignal; crashed(): boolean; dispose(): void } {
  const interrupt = new AbortController();
  let seen = 0;
  let crashed = false;
  const interruptOnce = (reason: string) => {
    seen++;
    if (seen === 1) {
      stderr.write(`\nfaultline: ${reason}: healing every fault and tearing the nodes down before exiting\n`);
      interrupt.abort();
    } else {
      stderr.write(`faultline: ${reason} again: still healing and tearing down; this finishes on its own (faultline cleanup removes leftovers of a killed run)\n`);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => interruptOnce(signal);
  const onCrash = (error: unknown) => {
    crashed = true;
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    stderr.write(`faultline: uncaught error in the controller: ${text}\n`);
    interruptOnce('uncaught error');
  };
  // After SIGHUP the terminal may be gone: a failed write to it must not become an uncaught error of its own.
  const ignoreWriteError = () => {};
  process.stdout.on('error', ignoreWriteError);
  process.stderr.on('error', ignoreWriteError);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  return {
    signal: interrupt.signal,
    crashed: () => crashed,
    dispose() {
      for (const signal of signals) process.removeListener(signal, onSignal);
      process.removeListener('uncaughtException', onCrash);
      process.removeListener('unhandledRejection', onCrash);
      process.stdout.removeListener('error', ignoreWriteError);
      process.stderr.removeListener('error', ignoreWriteError);
    },
  };
}

/** --junit FILE and --summary-json FILE: copies of the run's junit.xml and summary.json where CI looks for them. */
function copyCiOutputs(runDir: string, flags: Record<string, unknown>): void {
  const copies: Array<[string, unknown]> = [['junit.xml', flags.junit], ['summary.json', flags.summaryJson]];
  for (const [name, destination] of copies) {
    if (typeof destination !== 'string') continue;
    try {
      copyFileSync(join(runDir, name), destination);
    } catch (error) {
      process.stderr.write(`faultline: could not copy ${name} to ${destination}: ${(error as NodeJS.ErrnoException).code ?? String(error)}\n`);
    }
  }
}
