// The etcd target: Debian's etcd 3.4 as a system under test (EtcdDb) and its register/set client (EtcdClient).
import type { Client } from '../../src/client.js';
import type { Db } from '../../src/db.js';
import type { Target, WorkloadName } from '../../src/target.js';
import { numberOption, stringOption } from '../../src/target-options.js';
import { EtcdClient, type EtcdClientOptions } from './client.js';
import { ETCD_VERSIONS, EtcdDb, type EtcdDbOptions, type EtcdVersion } from './db.js';

export { EtcdClient, classifyError, registerKey, setPrefix } from './client.js';
export type { EtcdClientOptions } from './client.js';
export { EtcdDb, ETCD_VERSIONS, etcdBinaryOf, etcdArgv, etcdPaths, parseEndpointStatus, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from './db.js';
export type { EtcdDbOptions, EtcdVersion } from './db.js';

/** The data volume etcd asks of a backend: ETCD_MIN_FREE_MIB (checked at setup) with room to spare. */
export const ETCD_DATA_VOLUME_MB = 256;

export const etcdTarget: Target = {
  name: 'etcd',
  workloads: ['register', 'set', 'counter', 'bank', 'queue', 'lock'],
  // Two preallocated 64 MiB WAL segments and the database's growth do not fit the local backend's 64 MiB default.
  dataVolumeMb: ETCD_DATA_VOLUME_MB,
  db(options: Record<string, unknown>): Db {
    // YAML reads `version: 3.6` as a number.
    const version = typeof options.version === 'number' ? String(options.version) : (stringOption(options, 'version') ?? '3.4');
    if (!(ETCD_VERSIONS as readonly string[]).includes(version)) {
      throw new Error(`etcd target: version must be one of ${ETCD_VERSIONS.join(', ')}, got '${version}'`);
    }
    const dbOptions: EtcdDbOptions = {
      version: version as EtcdVersion,
      etcdBinary: stringOption(options, 'etcdBinary'),
      etcdctlBinary: stringOption(options, 'etcdctlBinary'),
      heartbeatIntervalMs: numberOption(options, 'heartbeatIntervalMs'),
      electionTimeoutMs: numberOption(options, 'electionTimeoutMs'),
      startTimeoutMs: numberOption(options, 'startTimeoutMs'),
    };
    return new EtcdDb(dbOptions);
  },
  client(workload: WorkloadName, options: Record<string, unknown>): Client {
    if (!etcdTarget.workloads.includes(workload)) {
      throw new Error(`etcd target: workload ${workload} is not supported (supported: ${etcdTarget.workloads.join(', ')})`);
    }
    const clientOptions: EtcdClientOptions = {
      serializableReads: options.serializableReads === true || options['serializable-reads'] === true,
      operationTimeoutMs: numberOption(options, 'operationTimeoutMs'),
    };
    return new EtcdClient(workload, clientOptions);
  },
};
