// Shared setup of a target's end-to-end tests: provision a cluster, set up every node, open clients, tear it all down.
import { afterAll, beforeAll } from 'vitest';
import type { Backend, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import type { Op } from '../history/types.js';
import type { Target, WorkloadName } from '../target.js';
import type { TestContext } from '../test-context.js';

export interface ClusterFixtureOptions {
  /** The test's name in its context (and the run's log lines). */
  name: string;
  runId: string;
  backend: Backend;
  target: Target;
  nodeCount: number;
  targetOptions?: Record<string, unknown>;
  /** Client options every openClient starts from (e.g. a short operationTimeoutMs). */
  clientOptions?: Record<string, unknown>;
  /** Runs before provisioning, e.g. building the nodes' image. */
  prepare?: () => Promise<unknown>;
  /** Runs after the backend's teardown, e.g. sweeping what a crashed earlier attempt left. */
  cleanup?: () => Promise<unknown>;
}

/** A cluster that lives for one describe block; read its fields inside tests (they are set in beforeAll). */
export interface ClusterFixture {
  readonly db: Db;
  readonly nodes: Node[];
  readonly test: TestContext;
  /** A client of the target on the node; closed with the cluster. */
  openClient(node: Node, workload?: WorkloadName, options?: Record<string, unknown>): Promise<Client>;
}

/** Registers beforeAll/afterAll in the calling describe block; teardown runs even when setup failed midway. */
export function clusterFixture(options: ClusterFixtureOptions): ClusterFixture {
  const db = options.target.db(options.targetOptions ?? {});
  const clients: Client[] = [];
  let nodes: Node[] = [];
  let test: TestContext | undefined;

  beforeAll(async () => {
    await options.prepare?.();
    nodes = await options.backend.provision(options.nodeCount);
    test = {
      name: options.name,
      runId: options.runId,
      runDir: '/nonexistent',
      backend: options.backend,
      nodes,
      seed: 1,
      spec: { targetOptions: options.targetOptions ?? {} },
      log: (message) => process.stdout.write(`${message}\n`),
    };
    const context = test;
    await Promise.all(nodes.map((node) => db.setup(context, node)));
  });

  afterAll(async () => {
    try {
      if (test) {
        const context = test;
        for (const client of clients) await client.close(context).catch(() => undefined);
        await Promise.all(nodes.map((node) => db.teardown(context, node).catch(() => undefined)));
      }
      await options.backend.teardown();
    } finally {
      await options.cleanup?.();
    }
  });

  const fixture: ClusterFixture = {
    db,
    get nodes() {
      return nodes;
    },
    get test() {
      if (!test) throw new Error(`${options.name}: the cluster is not set up (read the fixture inside a test, after beforeAll)`);
      return test;
    },
    async openClient(node, workload = 'register', clientOptions = {}) {
      const client = await options.target.client(workload, { ...options.clientOptions, ...clientOptions }).open(fixture.test, node);
      clients.push(client);
      return client;
    },
  };
  return fixture;
}

/** Makes invoke ops as a worker would, with increasing indexes: `invocation(process, f, value, key)`. */
export function invocationMaker(): (process: number, f: string, value: unknown, key?: number | null) => Op {
  let nextIndex = 0;
  return (process, f, value, key = 1) => ({ index: nextIndex++, process, type: 'invoke', f, value, key, time: 0 });
}

/**
 * Invokes a fresh op until a completion satisfies `done` (e.g. while a cluster elects a new leader), at most
 * `attempts` times with `pauseMs` between tries; returns the last completion.
 */
export async function invokeUntil(
  client: Client,
  test: TestContext,
  makeOp: () => Op,
  done: (completion: Op) => boolean,
  bounds: { attempts: number; pauseMs?: number },
): Promise<Op | undefined> {
  let completion: Op | undefined;
  for (let attempt = 0; attempt < bounds.attempts; attempt++) {
    completion = await client.invoke(test, makeOp());
    if (done(completion)) return completion;
    if (bounds.pauseMs) await new Promise((resolve) => setTimeout(resolve, bounds.pauseMs));
  }
  return completion;
}
