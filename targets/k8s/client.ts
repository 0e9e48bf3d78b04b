// The register workload on Kubernetes ConfigMaps through @kubernetes/client-node: consistent reads (or, as an
// option, reads served from the apiserver's watch cache, labelled), writes, and compare-and-set through
// resourceVersion preconditions; each error is fail only when the apiserver certainly changed nothing.
import { ApiException, CoordinationV1Api, CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import type { Op } from '../../src/history/types.js';
import type { WorkloadName } from '../../src/target.js';
import type { TestContext } from '../../src/test-context.js';
import type { ClusterPki } from './certs.js';
import { apiserverUrl } from './db.js';
import { K8sElectionState, invokeElection } from './election.js';
import { K8sLockState, invokeK8sLock } from './lock.js';
import { K8sWatchState, invokeWatch, watchedConfigMapName } from './watch-client.js';

export const REGISTER_NAMESPACE = 'default';

export interface K8sClientOptions {
  /**
   * Reads with resourceVersion "0": served from the apiserver's watch cache, which may lag etcd (Kubernetes
   * documents it as "any version"). Each such read is labelled readFrom: 'watch-cache' in the history.
   */
  cacheReads?: boolean;
  /** Bound of each operation. Default 5000 ms. */
  operationTimeoutMs?: number;
}

/** The PKI of each live run, registered by the Db at setup so the clients of that run can authenticate. */
export type PkiSource = (test: TestContext) => Promise<ClusterPki>;

export function configMapName(key: unknown): string {
  return `faultline-register-${key === undefined || key === null ? 'none' : String(key)}`;
}

/** Bound of a watch op's list and of opening its watch: with its span and close, inside the runner's 10 s op bound. */
const WATCH_STEP_TIMEOUT_MS = 2500;

/** A client-side timeout: the request may still reach etcd, so it is indeterminate. */
class OperationTimeout extends Error {}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function kubeConfigFor(node: Node, pki: ClusterPki): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'faultline', server: apiserverUrl(node), caData: base64(pki.caCertificate), skipTLSVerify: false }],
    users: [{ name: 'faultline', certData: base64(pki.clientCertificate), keyData: base64(pki.clientKey) }],
    contexts: [{ name: 'faultline', cluster: 'faultline', user: 'faultline' }],
    currentContext: 'faultline',
  });
  return config;
}

/** HTTP status of an API error, or undefined for transport errors (refused, reset, timed out). */
export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** How an error leaves an operation: `fail` when the apiserver certainly did not apply it, else `info`. */
export function classifyError(f: string, error: unknown): 'fail' | 'info' {
  // A read changes nothing.
  if (f === 'read') return 'fail';
  if (error instanceof OperationTimeout) return 'info';
  const status = statusOf(error);
  // Conflict (stale resourceVersion, or already exists), not found, throttled, refused by validation or
  // authorization: all decided before anything is written to etcd.
  if (status !== undefined && [400, 401, 403, 404, 409, 422, 429].includes(status)) return 'fail';
  const message = error instanceof Error ? `${error.message} ${String((error as { code?: unknown }).code ?? '')}` : String(error);
  // The connection was never made: nothing was sent.
  if (status === undefined && /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(message)) return 'fail';
  // 500/503/504 and dropped connections: etcd may have applied the write.
  return 'info';
}

function errorText(error: unknown): string {
  const status = statusOf(error);
  if (status !== undefined) {
    const body = (error as ApiException<unknown>).body;
    const reason = typeof body === 'string' ? (/"message":"([^"]*)"/.exec(body)?.[1] ?? body) : JSON.stringify(body);
    return `HTTP ${status}: ${String(reason)}`.slice(0, 300);
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0].slice(0, 300);
}

/** The register's value in a ConfigMap (JSON in data.value), null when absent. */
export function registerValue(configMap: V1ConfigMap | undefined): unknown {
  const text = configMap?.data?.value;
  return text === undefined ? null : JSON.parse(text);
}

export class K8sClient implements Client {
  private readonly workload: WorkloadName;
  private readonly options: K8sClientOptions;
  private readonly pkiSource: PkiSource;
  private api: CoreV1Api | undefined;
  private coordination: CoordinationV1Api | undefined;
  private readonly lockState = new K8sLockState();
  private readonly electionState = new K8sElectionState();
  private readonly watchState = new K8sWatchState();
  private config: KubeConfig | undefined;

  constructor(workload: WorkloadName, options: K8sClientOptions, pkiSource: PkiSource) {
    this.workload = workload;
    this.options = options;
    this.pkiSource = pkiSource;
  }

  private get timeoutMs(): number {
    return this.options.operationTimeoutMs ?? 5000;
  }

  async open(test: TestContext, node: Node): Promise<Client> {
    const client = new K8sClient(this.workload, this.options, this.pkiSource);
    const config = kubeConfigFor(node, await this.pkiSource(test));
    client.config = config;
    client.api = config.makeApiClient(CoreV1Api);
    client.coordination = config.makeApiClient(CoordinationV1Api);
    return client;
  }

  /** Bounds one API call; past the bound the outcome is unknown (info for writes). */
  private async bounded<T>(call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OperationTimeout(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([call(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async invoke(_test: TestContext, op: Op): Promise<Op> {
    const completion = (type: Op['type'], value: unknown, extra: Record<string, unknown> = {}): Op => ({ ...op, type, value, ...extra });
    const api = this.api;
    if (!api) return completion('fail', op.value, { error: 'client not open' });
    if (this.workload === 'lock' && this.coordination) {
      const coordination = this.coordination;
      try {
        return await invokeK8sLock(coordination, api, op, this.lockState, completion, (call) => this.bounded(call));
      } catch (error) {
        // A lock read changes nothing; every other lock op may have written before the error.
        return completion(op.f === 'read' ? 'fail' : classifyError('write', error), op.value, { error: errorText(error) });
      }
    }
    if (this.workload === 'leader-election' && this.coordination) {
      return invokeElection(this.coordination, op, this.electionState, completion);
    }
    if (this.workload === 'watch' && this.config) {
      if (op.f === 'watch') return invokeWatch(this.config, api, op, this.watchState, completion, WATCH_STEP_TIMEOUT_MS);
      if (op.f !== 'write') return completion('fail', op.value, { error: `unknown watch function ${op.f}` });
      try {
        return completion('ok', op.value, { resourceVersion: await this.write(api, watchedConfigMapName(op.key), op.value) });
      } catch (error) {
        return completion(classifyError('write', error), op.value, { error: errorText(error) });
      }
    }
    if (this.workload !== 'register') return completion('fail', op.value, { error: `k8s client does not speak workload ${this.workload}` });
    const name = configMapName(op.key);
    try {
      switch (op.f) {
        case 'read':
          return this.options.cacheReads ? await this.readFromCache(api, name, completion) : await this.readConsistent(api, name, completion);
        case 'write':
          return completion('ok', op.value, { resourceVersion: await this.write(api, name, op.value) });
        case 'cas':
          return await this.compareAndSet(api, name, op, completion);
        default:
          return completion('fail', op.value, { error: `unknown register function ${op.f}` });
      }
    } catch (error) {
      return completion(classifyError(op.f, error), op.value, { error: errorText(error) });
    }
  }

  /** A GET with no resourceVersion: the apiserver reads etcd with a quorum read, so it is linearizable. */
  private async getConsistent(api: CoreV1Api, name: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.bounded(() => api.readNamespacedConfigMap({ name, namespace: REGISTER_NAMESPACE }));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async readConsistent(api: CoreV1Api, name: string, completion: (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op): Promise<Op> {
    const configMap = await this.getConsistent(api, name);
    return completion('ok', registerValue(configMap), { resourceVersion: configMap?.metadata?.resourceVersion ?? null });
  }

  /**
   * A LIST of the one ConfigMap with resourceVersion "0": answered from the watch cache without asking etcd.
   * The label and the list's own resourceVersion (the cache's revision) let a report tell how stale it was.
   */
  private async readFromCache(api: CoreV1Api, name: string, completion: (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op): Promise<Op> {
    const list = await this.bounded(() =>
      api.listNamespacedConfigMap({ namespace: REGISTER_NAMESPACE, fieldSelector: `metadata.name=${name}`, resourceVersion: '0' }),
    );
    const configMap = list.items[0];
    return completion('ok', registerValue(configMap), {
      readFrom: 'watch-cache',
      resourceVersion: configMap?.metadata?.resourceVersion ?? null,
      cacheResourceVersion: list.metadata?.resourceVersion ?? null,
    });
  }

  private body(name: string, value: unknown, resourceVersion?: string): V1ConfigMap {
    return { metadata: { name, namespace: REGISTER_NAMESPACE, ...(resourceVersion ? { resourceVersion } : {}) }, data: { value: JSON.stringify(value) } };
  }

  /**
   * An unconditional write: PUT without a resourceVersion (ConfigMaps allow unconditional updates), or POST when
   * the ConfigMap does not exist yet. A 404 or a 409 (created meanwhile) changed nothing, so trying the other
   * verb is safe; bounded to three attempts.
   */
  private async write(api: CoreV1Api, name: string, value: unknown): Promise<string | null> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const written = await this.bounded(() => api.replaceNamespacedConfigMap({ name, namespace: REGISTER_NAMESPACE, body: this.body(name, value) }));
        return written.metadata?.resourceVersion ?? null;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        lastError = error;
      }
      try {
        const created = await this.bounded(() => api.createNamespacedConfigMap({ namespace: REGISTER_NAMESPACE, body: this.body(name, value) }));
        return created.metadata?.resourceVersion ?? null;
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * Compare-and-set as controllers do it: a consistent read, then a PUT carrying the read's resourceVersion as a
   * precondition. The apiserver applies the PUT only if the object is unchanged since that read (etcd compares
   * the mod revision in one transaction), so the value is still `expected` at the write: atomic. A 409 Conflict
   * means another write came between: fail. From null, the PUT is a create, which 409s if it exists.
   */
  private async compareAndSet(api: CoreV1Api, name: string, op: Op, completion: (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op): Promise<Op> {
    if (!Array.isArray(op.value) || op.value.length !== 2) return completion('fail', op.value, { error: 'cas expects [expected, new]' });
    const [expected, next] = op.value as [unknown, unknown];
    const current = await this.getConsistent(api, name);
    if (JSON.stringify(registerValue(current)) !== JSON.stringify(expected)) return completion('fail', op.value, { error: 'value differed' });
    const resourceVersion = current?.metadata?.resourceVersion;
    const written =
      current === undefined || resourceVersion === undefined
        ? await this.bounded(() => api.createNamespacedConfigMap({ namespace: REGISTER_NAMESPACE, body: this.body(name, next) }))
        : await this.bounded(() => api.replaceNamespacedConfigMap({ name, namespace: REGISTER_NAMESPACE, body: this.body(name, next, resourceVersion) }));
    return completion('ok', op.value, { resourceVersion: written.metadata?.resourceVersion ?? null });
  }

  async close(_test: TestContext): Promise<void> {
    this.api = undefined;
  }
}
