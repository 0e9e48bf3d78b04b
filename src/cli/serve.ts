// `faultline serve`: a local web page over the results store (every run, its verdict and report), bound to 127.0.0.1.
import type { Command } from 'commander';
import { startStoreServer } from '../../reports/serve.js';
import { UserError } from '../errors.js';
import { existsSync, statSync } from 'node:fs';

interface ServeCommandOptions {
  store: string;
  port: string;
  host: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a page listing every run in the store (newest first, filterable by verdict) and their reports')
    .option('--store <dir>', 'the results store', 'store')
    .option('--port <number>', 'port to listen on (0: any free port)', '8080')
    .option('--host <address>', 'address to bind; anything but loopback exposes the store to the network', '127.0.0.1')
    .action(async (options: ServeCommandOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port: expected a whole number from 0 to 65535, got '${options.port}'`);
      if (!existsSync(options.store) || !statSync(options.store).isDirectory()) throw new UserError(`${options.store}: expected a results store folder (--store)`);
      let server;
      try {
        server = await startStoreServer({ store: options.store, port, host: options.host });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new UserError(`--host ${options.host} --port ${options.port}: cannot listen (${code})`);
        throw error;
      }
      process.stdout.write(`faultline: serving ${options.store} at ${server.url} (Ctrl-C to stop)\n`);
      if (!['127.0.0.1', 'localhost', '::1'].includes(options.host)) process.stderr.write(`faultline: warning: bound to ${options.host}, not loopback: anyone who can reach it can read the store\n`);
      // Runs until interrupted; close the listener so the exit is clean.
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
