// Turns register and set operations into etcd gRPC calls (etcd3 package) against one node, and maps each
// error to fail only when etcd certainly did not apply the operation, otherwise info.
import { Etcd3, EtcdError, GRPCDeadlineExceededError, GRPCUnavailableError, type IOptions } from 'etcd3';
import { noop } from 'cockatiel';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import type { Op } from '../../src/history/types.js';
import type { WorkloadName } from '../../src/target.js';
import type { TestContext } from '../../src/test-context.js';
import { clientUrl } from './db.js';
import { EtcdLockState, invokeBank, invokeCounter, invokeLock, invokeQueue } from './workloads.js';

export interface EtcdClientOptions {
  /** Reads with etcd's serializable (member-local, possibly stale) reads instead of linearizable ones. */
  serializableReads?: boolean;
  /** Deadline of each operation. Default 5000 ms. */
  operationTimeoutMs?: number;
}

const KEY_PREFIX = '/faultline';

export function registerKey(key: unknown): string {
  return `${KEY_PREFIX}/register/${key === undefined || key === null ? '_' : String(key)}`;
}

export function setPrefix(key: unknown): string {
  return `${KEY_PREFIX}/set/${key === undefined || key === null ? '_' : String(key)}/`;
}

/** How an error leaves an operation: `fail` when etcd certainly did not apply it, else `info`. */
export function classifyError(f: string, error: unknown): 'fail' | 'info' {
  // A read changes nothing, so a read that errored certainly took no effect.
  if (f === 'read') return 'fail';
  const message = error instanceof Error ? error.message : String(error);
  // The connection was never made: nothing was sent.
  if (error instanceof GRPCUnavailableError && /ECONNREFUSED|No connection established|failed to connect/i.test(message)) return 'fail';
  // Rejections etcd makes before proposing anything to raft.
  if (error instanceof EtcdError && /too many requests|request is too large|invalid auth token|permission denied/i.test(message)) return 'fail';
  if (error instanceof GRPCDeadlineExceededError) return 'info';
  return 'info';
}

function errorText(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0].slice(0, 300);
}

export class EtcdClient implements Client {
  private readonly workload: WorkloadName;
  private readonly options: EtcdClientOptions;
  private etcd: Etcd3 | undefined;
  /** lock workload: the lease this client holds, if any (a fresh client, after an info, holds none). */
  private readonly lockState = new EtcdLockState();

  constructor(workload: WorkloadName, options: EtcdClientOptions = {}) {
    this.workload = workload;
    this.options = options;
  }

  private get timeoutMs(): number {
    return this.options.operationTimeoutMs ?? 5000;
  }

  async open(_test: TestContext, node: Node): Promise<Client> {
    const client = new EtcdClient(this.workload, this.options);
    const options: IOptions = {
      hosts: [clientUrl(node)],
      dialTimeout: this.timeoutMs,
      // No retries and no circuit breaker: a retried cas whose first attempt applied would be reported as
      // failed, and a breaker would keep failing operations after a partition heals.
      faultHandling: { global: noop, host: () => noop },
    };
    client.etcd = new Etcd3(options);
    return client;
  }

  private deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.timeoutMs) };
  }

  async invoke(_test: TestContext, op: Op): Promise<Op> {
    const etcd = this.etcd;
    const completion = (type: Op['type'], value: unknown, error?: string): Op => ({
      ...op,
      type,
      value,
      ...(error === undefined ? {} : { error }),
    });
    if (!etcd) return completion('fail', op.value, 'client not open');
    try {
      if (this.workload === 'register') return await this.invokeRegister(etcd, op, completion);
      if (this.workload === 'set') return await this.invokeSet(etcd, op, completion);
      if (this.workload === 'counter') return await invokeCounter(etcd, op, completion, () => this.deadline(), this.options.serializableReads ?? false);
      if (this.workload === 'lock') return await invokeLock(etcd, op, this.lockState, completion, () => this.deadline());
      if (this.workload === 'bank') return await invokeBank(etcd, op, completion, () => this.deadline(), this.options.serializableReads ?? false);
      if (this.workload === 'queue') return await invokeQueue(etcd, op, completion, () => this.deadline());
      return completion('fail', op.value, `etcd client does not speak workload ${this.workload}`);
    } catch (error) {
      return completion(classifyError(op.f, error), op.value, errorText(error));
    }
  }

  private async invokeRegister(etcd: Etcd3, op: Op, completion: (type: Op['type'], value: unknown, error?: string) => Op): Promise<Op> {
    const key = registerKey(op.key);
    switch (op.f) {
      case 'read': {
        const text = await etcd.get(key).serializable(this.options.serializableReads ?? false).options(this.deadline()).string();
        return completion('ok', text === null ? null : JSON.parse(text));
      }
      case 'write':
        await etcd.put(key).value(JSON.stringify(op.value)).options(this.deadline()).exec();
        return completion('ok', op.value);
      case 'cas': {
        if (!Array.isArray(op.value) || op.value.length !== 2) return completion('fail', op.value, 'cas expects [expected, new]');
        const [expected, next] = op.value as [unknown, unknown];
        // A compare-and-set is one transaction: compare the value, put the new one only when it matched.
        const transaction =
          expected === null
            ? etcd.if(key, 'Version', '==', 0)
            : etcd.if(key, 'Value', '==', JSON.stringify(expected));
        const response = await transaction.then(etcd.put(key).value(JSON.stringify(next))).options(this.deadline()).commit();
        return response.succeeded ? completion('ok', op.value) : completion('fail', op.value, 'value differed');
      }
      default:
        return completion('fail', op.value, `unknown register function ${op.f}`);
    }
  }

  private async invokeSet(etcd: Etcd3, op: Op, completion: (type: Op['type'], value: unknown, error?: string) => Op): Promise<Op> {
    const prefix = setPrefix(op.key);
    switch (op.f) {
      case 'add':
        await etcd.put(`${prefix}${String(op.value)}`).value('1').options(this.deadline()).exec();
        return completion('ok', op.value);
      case 'read': {
        const keys = await etcd.getAll().prefix(prefix).serializable(this.options.serializableReads ?? false).options(this.deadline()).keys();
        const values = keys.map((key) => Number(key.slice(prefix.length))).filter((value) => Number.isFinite(value));
        return completion('ok', values.sort((a, b) => a - b));
      }
      default:
        return completion('fail', op.value, `unknown set function ${op.f}`);
    }
  }

  async close(_test: TestContext): Promise<void> {
    this.etcd?.close();
    this.etcd = undefined;
  }
}
