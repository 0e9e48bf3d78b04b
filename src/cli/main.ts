#!/usr/bin/env node
// The `faultline` command: each subcommand lives in its own module under src/cli/ and registers itself here.
import { Command, CommanderError } from 'commander';
import { UserError, ExitCode } from '../errors.js';

const program = new Command();
program
  .name('faultline')
  .description('Jepsen-style fault injection and linearizability checking')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError(false)
  .configureOutput({ outputError: (text, write) => write(text.trimEnd().split('\n')[0] + '\n') });

// Subcommand registrations (one line each; keep sorted).
const registrations: Array<() => Promise<{ register(program: Command): void }>> = [
  // REGISTRATIONS
];

async function main(): Promise<number> {
  for (const load of registrations) (await load()).register(program);
  try {
    await program.parseAsync(process.argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors exit 2 with commander's one-line message already printed.
      return error.exitCode === 0 ? 0 : ExitCode.badInput;
    }
    if (error instanceof UserError) {
      process.stderr.write(`faultline: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`faultline: internal error: ${message}\n`);
    if (process.env.FAULTLINE_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    return ExitCode.error;
  }
}

process.exitCode = await main();
