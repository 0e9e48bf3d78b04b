// The PostgreSQL client of the transaction workloads: each `txn` op is one SQL transaction at the configured
// isolation level; serialization failures and other aborts are `fail`, a connection lost during COMMIT is `info`.
import pg from 'pg';
import type { Node } from '../../src/backends/types.js';
import type { Client } from '../../src/client.js';
import type { Op } from '../../src/history/types.js';
import type { WorkloadName } from '../../src/target.js';
import type { TestContext } from '../../src/test-context.js';
import { POSTGRES_DEFAULT_PORT, POSTGRES_USER, readPassword } from './db.js';

/** The isolation levels PostgreSQL offers (read uncommitted behaves as read committed there, so it is not offered). */
export const isolationLevels = ['read-committed', 'repeatable-read', 'serializable'] as const;
export type IsolationLevel = (typeof isolationLevels)[number];

const isolationSql: Record<IsolationLevel, string> = {
  'read-committed': 'READ COMMITTED',
  'repeatable-read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/** SQLSTATEs of an abort PostgreSQL asks the client to retry: serialization_failure and deadlock_detected. */
const retryableStates: Record<string, string> = { '40001': 'serialization-failure', '40P01': 'deadlock' };

export interface PostgresClientOptions {
  isolation: IsolationLevel;
  port?: number;
  /** Bound on one transaction; past it the connection is dropped and the op is fail or info by where it was. */
  operationTimeoutMs?: number;
}

type MicroOp = [string, unknown, unknown];

/** The statements of one micro-op on one workload's table. */
function statementOf(workload: WorkloadName, [f, key, value]: MicroOp): { text: string; values: unknown[] } {
  if (workload === 'list-append') {
    if (f === 'append') {
      return { text: 'INSERT INTO list_append AS t (key, value) VALUES ($1, ARRAY[$2::integer]) ON CONFLICT (key) DO UPDATE SET value = t.value || $2::integer', values: [key, value] };
    }
    return { text: 'SELECT value FROM list_append WHERE key = $1', values: [key] };
  }
  if (f === 'w') {
    return { text: 'INSERT INTO rw_register AS t (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', values: [key, value] };
  }
  return { text: 'SELECT value FROM rw_register WHERE key = $1', values: [key] };
}

/** A micro-op is well formed for the workload: [append|w|r, integer key, integer value or null for a read]. */
function wellFormed(workload: WorkloadName, micro: unknown): micro is MicroOp {
  if (!Array.isArray(micro) || micro.length !== 3 || !Number.isSafeInteger(micro[1])) return false;
  const write = workload === 'list-append' ? 'append' : 'w';
  if (micro[0] === 'r') return true;
  return micro[0] === write && Number.isSafeInteger(micro[2]);
}

class TimeoutError extends Error {}

export class PostgresClient implements Client {
  private connection: pg.Client | null = null;
  private node: Node | null = null;
  /** Set when the connection broke or was dropped: the next op reconnects first. */
  private broken = false;

  constructor(
    private readonly workload: WorkloadName,
    private readonly options: PostgresClientOptions,
  ) {}

  private get timeoutMs(): number {
    return this.options.operationTimeoutMs ?? 5000;
  }

  async open(test: TestContext, node: Node): Promise<Client> {
    const client = new PostgresClient(this.workload, this.options);
    client.node = node;
    await client.connect(test);
    return client;
  }

  private async connect(test: TestContext): Promise<void> {
    const node = this.node!;
    const connection = new pg.Client({
      host: node.host,
      port: this.options.port ?? POSTGRES_DEFAULT_PORT,
      user: POSTGRES_USER,
      password: await readPassword(test, node),
      database: 'postgres',
      connectionTimeoutMillis: this.timeoutMs,
    });
    // A broken connection while idle arrives as an event; it only means reconnecting before the next op.
    connection.on('error', () => {
      this.broken = true;
    });
    try {
      await connection.connect();
    } catch (error) {
      await connection.end().catch(() => undefined);
      throw error;
    }
    this.connection = connection;
    this.broken = false;
  }

  private drop(): void {
    const connection = this.connection;
    this.connection = null;
    this.broken = true;
    // end() waits for the server's goodbye, which a paused or killed server never sends: cut the socket too.
    void connection?.end().catch(() => undefined);
    (connection as unknown as { connection?: { stream?: { destroy(): void } } } | null)?.connection?.stream?.destroy();
  }

  async close(_test: TestContext): Promise<void> {
    this.drop();
  }

  async invoke(test: TestContext, op: Op): Promise<Op> {
    const completion = (type: Op['type'], value: unknown, error?: string): Op => ({ ...op, type, value, ...(error === undefined ? {} : { error }) });
    if (op.f !== 'txn' || !Array.isArray(op.value) || !op.value.every((micro) => wellFormed(this.workload, micro))) {
      return completion('fail', op.value, `${this.workload} expects f "txn" with [[f, integer key, value], ...]`);
    }
    const micros = op.value as MicroOp[];
    const readOnly = micros.every(([f]) => f === 'r');
    if (!this.connection || this.broken) {
      this.drop();
      try {
        await this.connect(test);
      } catch (error) {
        // No transaction began: it certainly did not happen.
        return completion('fail', op.value, `connect: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const connection = this.connection!;
    let committing = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const run = async (): Promise<MicroOp[]> => {
      await connection.query(`BEGIN ISOLATION LEVEL ${isolationSql[this.options.isolation]}`);
      const results: MicroOp[] = [];
      for (const micro of micros) {
        const statement = statementOf(this.workload, micro);
        const answer = await connection.query<{ value: unknown }>(statement.text, statement.values);
        if (micro[0] !== 'r') results.push(micro);
        else if (this.workload === 'list-append') results.push(['r', micro[1], answer.rows[0]?.value ?? []]);
        else results.push(['r', micro[1], answer.rows[0]?.value ?? null]);
      }
      committing = true;
      await connection.query('COMMIT');
      return results;
    };
    const attempt = run();
    // The race's loser must not surface as an unhandled rejection.
    attempt.catch(() => undefined);
    try {
      return completion('ok', await Promise.race([attempt, timeout]));
    } catch (error) {
      const state = (error as { code?: unknown }).code;
      // The server answered with an error: before COMMIT, the transaction is aborted. At COMMIT, only a rollback
      // (class 40: serialization failure, deadlock) says so for certain; a server going down (57P01 and the like)
      // may answer COMMIT with an error after the commit record was written, so that one stays open.
      const answered = !(error instanceof TimeoutError) && typeof state === 'string' && /^[0-9A-Z]{5}$/.test(state);
      if (answered && (!committing || readOnly || state.startsWith('40'))) {
        await connection.query('ROLLBACK').catch(() => this.drop());
        const message = (error as Error).message;
        return completion('fail', op.value, retryableStates[state] ? `${retryableStates[state]} (${state}): ${message}` : `${state}: ${message}`);
      }
      // Timed out, the connection broke, or an error at COMMIT that is not a rollback: PostgreSQL aborts an open
      // transaction whose client is gone, so only a COMMIT already sent may have taken effect.
      this.drop();
      const message = error instanceof Error ? error.message : String(error);
      return completion(committing && !readOnly ? 'info' : 'fail', op.value, committing ? `during commit: ${message}` : message);
    } finally {
      clearTimeout(timer);
    }
  }
}
