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

// Subcommands by name, each in its own module. Only the one asked for is loaded (a `faultline check` should
// not pay for dockerode and ssh2); help, or an unknown name, loads them all so commander can list them.
const commands: Record<string, () => Promise<{ register(program: Command): void }>> = {
  check: () => import('./check.js'),
  cleanup: () => import('./cleanup.js'),
  doctor: () => import('./doctor.js'),
  images: () => import('./images.js'),
  raftkv: () => import('./raftkv.js'),
  report: () => import('./report.js'),
  run: () => import('./run.js'),
  serve: () => import('./serve.js'),
  shrink: () => import('./shrink.js'),
};

async function main(): Promise<number> {
  const asked = process.argv[2];
  const names = asked !== undefined && asked in commands ? [asked] : Object.keys(commands);
  try {
    for (const name of names) (await commands[name]()).register(program);
  } catch (error) {
    // A module that fails to load must not exit 1, which `check` means as "invalid".
    process.stderr.write(`faultline: could not load a command: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.error;
  }
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
