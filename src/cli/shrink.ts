// `faultline shrink <run-dir>`: the smallest fault schedule under which a failing run still fails (issue 13),
// found by rerunning it in-process with the same seed; written as <run-dir>/shrunk.yaml for `faultline run`.
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { shrinkRun } from '../shrink/index.js';
import { describeWindows } from '../shrink/windows.js';
import { interruptOnTrouble } from './run.js';

function positiveInteger(value: string, flag: string, most: number): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > most) throw new UserError(`${flag}: expected an integer from 1 to ${most}, got '${value}'`);
  return Number(value);
}

export function register(program: Command): void {
  program
    .command('shrink')
    .description('rerun a failing run with ever smaller fault schedules (same seed) and keep the smallest that still fails')
    .argument('<run-dir>', 'the results folder of an invalid run (store/<name>/<timestamp>)')
    .option('--attempts <n>', 'runs of each candidate schedule; it still fails if one of them is invalid (default 3)', '3')
    .option('--max-runs <n>', 'reruns allowed in all (default 30)', '30')
    .action(async (runDir: string, flags: { attempts: string; maxRuns: string }) => {
      const attempts = positiveInteger(flags.attempts, '--attempts', 100);
      const runsMax = positiveInteger(flags.maxRuns, '--max-runs', 10_000);
      const trouble = interruptOnTrouble(process.stderr);
      try {
        const outcome = await shrinkRun(runDir, { attempts, runsMax, signal: trouble.signal, log: (line) => process.stdout.write(`faultline: ${line}\n`) });
        const { original, smallest } = outcome;
        process.stdout.write(`faultline: smallest failing schedule: ${smallest.length} of ${original.length} fault windows: ${describeWindows(smallest)}\n`);
        process.stdout.write(`faultline: reproduced in ${outcome.reproduced} of ${outcome.attemptsRun} attempts; ${outcome.runs} reruns\n`);
        process.stdout.write(`faultline: replay with: faultline run ${outcome.specPath}\n`);
        if (outcome.interrupted) process.stdout.write('faultline: interrupted: the schedule above is the smallest found so far\n');
        process.exitCode = outcome.interrupted || trouble.crashed() ? 2 : 0;
      } finally {
        trouble.dispose();
      }
    });
}
