// The Faultline target for my-store, written against Faultline's public API only (imports from 'faultline').
// Run it with: faultline run --target ./dist/target.js --nodes 3 --workload register --nemesis kill
import { fileURLToPath } from 'node:url';
import { killDaemon, runningDaemonPid, signalDaemon, type Client, type Db, type Node, type Op, type Target, type TestContext } from 'faultline';

const PORT = 7070;
const START_POLLS = 100;
const START_POLL_INTERVAL_MS = 100;
const REQUEST_TIMEOUT_MS = 3000;

/** The compiled server, next to this file in dist/: uploaded to every node. */
const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));

function paths(node: Node): { directory: string; server: string; data: string; logFile: string; pidFile: string } {
  const directory = `${node.dir}/my-store`;
  return { directory, server: `${directory}/server.js`, data: `${directory}/data`, logFile: `${directory}/my-store.log`, pidFile: `${directory}/my-store.pid` };
}

function baseUrl(node: Node): string {
  return `http://${node.host}:${PORT}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The first node is the primary; the others forward to it. */
function primaryOf(test: TestContext): Node {
  return test.nodes[0];
}

/** A node's lifecycle: what setup, teardown and the kill and pause nemeses call. */
class MyStoreDb implements Db {
  // A Node.js process honours libfaketime, so the clock nemesis moves its clock.
  readonly clockSkewable = true;

  constructor(private readonly staleReads: boolean) {}

  async setup(test: TestContext, node: Node): Promise<void> {
    const { directory, server } = paths(node);
    await test.backend.exec(node, ['rm', '-rf', directory]);
    await test.backend.exec(node, ['mkdir', '-p', directory]);
    await test.backend.upload(node, serverFile, server);
    await this.start(test, node);
  }

  async start(test: TestContext, node: Node): Promise<void> {
    const { server, data, logFile, pidFile, directory } = paths(node);
    if ((await runningDaemonPid(test.backend, node, pidFile)) !== undefined) return;
    const argv = [process.execPath, server, '--host', node.host, '--port', String(PORT), '--data', data];
    if (node.name !== primaryOf(test).name) argv.push('--primary', baseUrl(primaryOf(test)));
    if (this.staleReads) argv.push('--stale-reads');
    await test.backend.startDaemon(node, argv, { logFile, pidFile, cwd: directory });
    for (let poll = 0; poll < START_POLLS; poll++) {
      const healthy = await fetch(`${baseUrl(node)}/health`, { signal: AbortSignal.timeout(1000) }).then((response) => response.ok, () => false);
      if (healthy) return;
      await sleep(START_POLL_INTERVAL_MS);
    }
    throw new Error(`my-store on ${node.name} did not answer /health within ${START_POLLS * START_POLL_INTERVAL_MS} ms (see ${logFile})`);
  }

  async kill(test: TestContext, node: Node): Promise<void> {
    await killDaemon(test.backend, node, paths(node).pidFile);
  }

  async pause(test: TestContext, node: Node): Promise<void> {
    await signalDaemon(test.backend, node, paths(node).pidFile, 'STOP');
  }

  async resume(test: TestContext, node: Node): Promise<void> {
    await signalDaemon(test.backend, node, paths(node).pidFile, 'CONT');
  }

  async teardown(test: TestContext, node: Node): Promise<void> {
    await this.resume(test, node).catch(() => undefined);
    await this.kill(test, node).catch(() => undefined);
    await test.backend.exec(node, ['rm', '-rf', paths(node).data], { allowFailure: true });
  }

  logFiles(_test: TestContext, node: Node): string[] {
    return [paths(node).logFile];
  }

  async primaries(test: TestContext): Promise<string[]> {
    return [primaryOf(test).name];
  }
}

/** The register workload's ops (read, write, cas on small integer keys; my-register's too) as my-store requests. */
class MyStoreClient implements Client {
  constructor(private readonly node?: Node) {}

  async open(_test: TestContext, node: Node): Promise<Client> {
    return new MyStoreClient(node);
  }

  async close(_test: TestContext): Promise<void> {}

  async invoke(_test: TestContext, op: Op): Promise<Op> {
    const complete = (type: 'ok' | 'fail' | 'info', value: unknown, error?: string): Op => ({ ...op, type, value, ...(error === undefined ? {} : { error }) });
    if (!this.node) return complete('fail', op.value, 'client not open');
    const key = `register-${String(op.key ?? 'default')}`;
    const isRead = op.f === 'read';
    let request: Record<string, unknown>;
    if (op.f === 'read') request = { op: 'read', key };
    else if (op.f === 'write') request = { op: 'write', key, value: op.value };
    else if (op.f === 'cas' && Array.isArray(op.value) && op.value.length === 2) request = { op: 'cas', key, expected: op.value[0], value: op.value[1] };
    else return complete('fail', op.value, `my-store does not speak ${op.f}`);
    let response: Response;
    try {
      response = await fetch(`${baseUrl(this.node)}/op`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      // Refused: the request never reached the node, so it certainly did not happen. Any other error may
      // have come after the node applied it: info, unless it was a read, which changes nothing.
      const code = (error as { cause?: { code?: string } }).cause?.code;
      return complete(isRead || code === 'ECONNREFUSED' ? 'fail' : 'info', op.value, code ?? String(error));
    }
    const body = (await response.json().catch(() => ({}))) as { value?: unknown; error?: string; definite?: boolean };
    if (response.status === 200) return complete('ok', isRead ? (body.value ?? null) : op.value);
    if (response.status === 409) return complete('fail', op.value, 'cas mismatch');
    return complete(isRead || body.definite === true ? 'fail' : 'info', op.value, body.error ?? `HTTP ${response.status}`);
  }
}

export const target: Target = {
  name: 'my-store',
  // Faultline's register workload, and the example's own (src/workload.ts), which sends the same ops.
  workloads: ['register', 'my-register'],
  db(options: Record<string, unknown>): Db {
    return new MyStoreDb(options.staleReads === true);
  },
  client(workload: string, _options: Record<string, unknown>): Client {
    if (!target.workloads.includes(workload)) throw new Error(`my-store speaks ${target.workloads.join(' and ')}, not ${workload}`);
    return new MyStoreClient();
  },
};

export default target;
