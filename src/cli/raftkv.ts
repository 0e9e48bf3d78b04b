// `faultline raftkv`: runs the bundled Raft key-value store by hand: one server process (`serve`, the same
// flags as dist/targets/raftkv/server.js) or a whole loopback cluster in the foreground (`cluster`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.js';

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

function integerOption(value: string, name: string, low: number, high: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < low || parsed > high) throw new UserError(`--${name}: expected an integer from ${low} to ${high}, got '${value}'`);
  return parsed;
}

export function register(program: Command): void {
  const raftkv = program.command('raftkv').description('the bundled Raft key-value store (a real system under test)');

  raftkv
    .command('serve')
    .description('run one raftkv server in the foreground (Ctrl-C stops it)')
    .requiredOption('--id <id>', 'this node\'s id, e.g. n1')
    .requiredOption('--listen <host:port>', 'address for clients (HTTP) and peers')
    .requiredOption('--peers <list>', 'every member: n1=HOST:PORT,n2=HOST:PORT,...')
    .requiredOption('--data <dir>', 'directory for the WAL and snapshots')
    .option('--bug <name>', 'a deliberate bug: stale-read, lazy-fsync, forget-vote or lease-read')
    .option('--tick-ms <ms>', 'Raft tick')
    .option('--election-ticks <n>', 'minimum election timeout in ticks')
    .option('--heartbeat-ticks <n>', 'heartbeat interval in ticks')
    .option('--snapshot-threshold <n>', 'applied entries between snapshots')
    .option('--request-timeout-ms <ms>', 'bound on one client request')
    .action(async (options: Record<string, string | undefined>) => {
      const { parseServerArguments, startServer } = await import('../../targets/raftkv/server.js');
      const flags: Record<string, string | undefined> = {
        id: options.id,
        listen: options.listen,
        peers: options.peers,
        data: options.data,
        bug: options.bug,
        'tick-ms': options.tickMs,
        'election-ticks': options.electionTicks,
        'heartbeat-ticks': options.heartbeatTicks,
        'snapshot-threshold': options.snapshotThreshold,
        'request-timeout-ms': options.requestTimeoutMs,
      };
      const argv = Object.entries(flags).flatMap(([name, value]) => (value === undefined ? [] : [`--${name}`, value]));
      let serverOptions;
      try {
        serverOptions = parseServerArguments(argv);
      } catch (error) {
        throw new UserError(`raftkv serve: ${(error as Error).message}`);
      }
      let server;
      try {
        server = await startServer(serverOptions);
      } catch (error) {
        throw new UserError(`raftkv serve: cannot start: ${(error as Error).message}`);
      }
      const signal = await waitForStopSignal();
      serverOptions.log(`${new Date().toISOString()} ${serverOptions.id} stopping on ${signal}`);
      await server.close();
    });

  raftkv
    .command('cluster')
    .description('run a loopback raftkv cluster in the foreground to play with (Ctrl-C stops it)')
    .option('--nodes <n>', 'number of nodes (1 to 9)', '3')
    .option('--base-port <port>', 'node i listens on 127.0.0.1:(base + i - 1); 0 picks free ports', '7701')
    .option('--data <dir>', 'data directory (default: a fresh temporary one, removed on exit)')
    .option('--bug <name>', 'a deliberate bug for every node: stale-read, lazy-fsync, forget-vote or lease-read')
    .action(async (options: { nodes: string; basePort: string; data?: string; bug?: string }) => {
      const nodeCount = integerOption(options.nodes, 'nodes', 1, 9);
      const basePort = integerOption(options.basePort, 'base-port', 0, 65535 - nodeCount);
      const { bugSwitches } = await import('../../targets/raftkv/server.js');
      if (options.bug !== undefined && !(bugSwitches as readonly string[]).includes(options.bug)) {
        throw new UserError(`--bug: expected one of ${bugSwitches.join(', ')}, got '${options.bug}'`);
      }
      const { LocalCluster } = await import('../../targets/raftkv/local-cluster.js');
      const dataRoot = options.data ?? mkdtempSync(join(tmpdir(), 'faultline-raftkv-'));
      const cluster = await LocalCluster.start({
        nodeCount,
        dataRoot,
        basePort: basePort === 0 ? undefined : basePort,
        output: 'inherit',
        extraArguments: options.bug ? ['--bug', options.bug] : [],
      });
      const stopped = waitForStopSignal();
      try {
        const leader = await Promise.race([cluster.waitForLeader(30_000), stopped.then(() => null)]);
        if (leader !== null) {
          const first = cluster.nodes[0];
          process.stdout.write(
            [
              '',
              `raftkv cluster of ${nodeCount} (leader ${leader}), data in ${dataRoot}:`,
              ...cluster.nodes.map((node) => `  ${node.id}  http://127.0.0.1:${node.port}`),
              'try:',
              `  curl -s -X PUT http://127.0.0.1:${first.port}/kv/greeting -d '{"value":"hello"}'`,
              `  curl -s http://127.0.0.1:${first.port}/kv/greeting`,
              `  curl -s -X POST http://127.0.0.1:${first.port}/txn -d '{"ops":[["append","l",1],["r","l",null]]}'`,
              `  curl -s http://127.0.0.1:${first.port}/status`,
              'Ctrl-C stops every node.',
              '',
            ].join('\n'),
          );
          await stopped;
        }
      } finally {
        await cluster.close('SIGTERM');
        if (options.data === undefined) rmSync(dataRoot, { recursive: true, force: true });
      }
    });
}
