// The postgres target: Debian's PostgreSQL as a system under test (a single server) for the transaction workloads,
// with the isolation level as a target option, so that a database's isolation claims can be checked.
import { UserError } from '../../src/errors.js';
import type { Client } from '../../src/client.js';
import type { Db } from '../../src/db.js';
import type { Target, WorkloadName } from '../../src/target.js';
import { numberOption, stringOption } from '../../src/target-options.js';
import { isolationLevels, PostgresClient, type IsolationLevel } from './client.js';
import { PostgresDb } from './db.js';

export { PostgresClient, isolationLevels, type IsolationLevel, type PostgresClientOptions } from './client.js';
export { PostgresDb, postgresArgv, postgresPaths, schemaStatements, POSTGRES_DEFAULT_PORT, type PostgresDbOptions } from './db.js';

/** The isolation level when the target options name none: PostgreSQL's strongest. */
export const defaultIsolation: IsolationLevel = 'serializable';

/** `isolation` from the target options; spaces and underscores are accepted for dashes ("read committed"). */
export function isolationOption(options: Record<string, unknown>): IsolationLevel {
  const given = options.isolation;
  if (given === undefined) return defaultIsolation;
  const normalized = typeof given === 'string' ? given.trim().toLowerCase().replace(/[\s_]+/g, '-') : '';
  if (!(isolationLevels as readonly string[]).includes(normalized)) {
    throw new UserError(`target-options: isolation: expected one of ${isolationLevels.join(', ')}, got ${JSON.stringify(given)}`);
  }
  return normalized as IsolationLevel;
}

/** Room for initdb's files and the server's small WAL (1 MiB segments, max_wal_size 32 MB) on the node's tmpfs. */
export const POSTGRES_DATA_VOLUME_MB = 256;

export const postgresTarget: Target = {
  name: 'postgres',
  workloads: ['list-append', 'rw-register'],
  dataVolumeMb: POSTGRES_DATA_VOLUME_MB,
  db(options: Record<string, unknown>): Db {
    isolationOption(options);
    return new PostgresDb({
      binDirectory: stringOption(options, 'binDirectory'),
      port: numberOption(options, 'port'),
      startTimeoutMs: numberOption(options, 'startTimeoutMs'),
      faketime: options.faketime === false ? false : undefined,
    });
  },
  client(workload: WorkloadName, options: Record<string, unknown>): Client {
    if (!postgresTarget.workloads.includes(workload)) {
      throw new UserError(`postgres target: workload ${workload} is not supported (supported: ${postgresTarget.workloads.join(', ')})`);
    }
    return new PostgresClient(workload, {
      isolation: isolationOption(options),
      port: numberOption(options, 'port'),
      operationTimeoutMs: numberOption(options, 'operationTimeoutMs'),
    });
  },
};
