// The k8s target: a Kubernetes control plane (etcd 3.6 + kube-apiserver per node, built from Go modules) as a
// system under test (K8sDb) and its ConfigMap register client (K8sClient).
import type { Client } from '../../src/client.js';
import type { Db } from '../../src/db.js';
import type { Target, WorkloadName } from '../../src/target.js';
import { numberOption, stringOption } from '../../src/target-options.js';
import type { TestContext } from '../../src/test-context.js';
import type { ClusterPki } from './certs.js';
import { K8sClient } from './client.js';
import { FAULT_COMPONENTS, K8sDb, type FaultComponent } from './db.js';

export { K8sClient, classifyError, configMapName, kubeConfigFor, registerValue } from './client.js';
export { K8sDb, FAULT_COMPONENTS, apiserverArgv, etcdArgv, k8sPaths, linkChainName } from './db.js';
export type { FaultComponent, K8sDbOptions } from './db.js';

/** etcd preallocates two 64 MiB WAL segments, as in the etcd target. */
export const K8S_DATA_VOLUME_MB = 256;

/** The Db of each live run (by run id), so that run's clients find the PKI the Db made. */
const dbsByRun = new Map<string, K8sDb>();

/** The fault component option, or an error naming what is allowed. */
export function faultComponentOption(options: Record<string, unknown>): FaultComponent {
  const value = stringOption(options, 'fault-component') ?? stringOption(options, 'faultComponent') ?? 'both';
  if (!(FAULT_COMPONENTS as readonly string[]).includes(value)) {
    throw new Error(`k8s target: fault-component must be one of ${FAULT_COMPONENTS.join(', ')}, got '${value}'`);
  }
  return value as FaultComponent;
}

function pkiOf(test: TestContext): Promise<ClusterPki> {
  const db = dbsByRun.get(test.runId);
  if (!db) return Promise.reject(new Error(`k8s target: no control plane was set up for run ${test.runId}`));
  return db.pki(test);
}

export const k8sTarget: Target = {
  name: 'k8s',
  workloads: ['register', 'lock', 'leader-election', 'watch'],
  dataVolumeMb: K8S_DATA_VOLUME_MB,
  db(options: Record<string, unknown>): Db {
    const db = new K8sDb({
      faultComponent: faultComponentOption(options),
      kubeApiserverBinary: stringOption(options, 'kubeApiserverBinary'),
      etcdBinary: stringOption(options, 'etcdBinary'),
      startTimeoutMs: numberOption(options, 'startTimeoutMs'),
    });
    // The runner makes one Db per run and calls setup before any client opens; the first setup registers it.
    const setup = db.setup.bind(db);
    db.setup = async (test, node) => {
      dbsByRun.set(test.runId, db);
      return setup(test, node);
    };
    return db;
  },
  client(workload: WorkloadName, options: Record<string, unknown>): Client {
    if (!k8sTarget.workloads.includes(workload)) {
      throw new Error(`k8s target: workload ${workload} is not supported (supported: ${k8sTarget.workloads.join(', ')})`);
    }
    return new K8sClient(
      workload,
      {
        cacheReads: options['cache-reads'] === true || options.cacheReads === true,
        operationTimeoutMs: numberOption(options, 'operationTimeoutMs'),
      },
      pkiOf,
    );
  },
};
