// my-store: a tiny replicated key-value HTTP server, the system under test of Faultline's example project.
// One node is the primary: it keeps every key in memory and in an append-only log it fsyncs before answering a
// write. Every other node forwards each request to the primary and relays the answer. A killed primary loses no
// acknowledged write (the log is replayed at start); while it is down, requests fail. With --stale-reads, a
// forwarding node answers reads from its own cache of the values it has seen: the bug Faultline should catch.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

interface Options {
  host: string;
  port: number;
  dataDirectory: string;
  /** Base URL of the primary, or undefined on the primary itself. */
  primary: string | undefined;
  staleReads: boolean;
}

function parseArguments(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const port = Number(value('--port') ?? '7070');
  const dataDirectory = value('--data');
  if (!Number.isInteger(port) || port <= 0 || !dataDirectory) {
    process.stderr.write('usage: server.js --host HOST --port N --data DIR [--primary URL] [--stale-reads]\n');
    process.exit(2);
  }
  return { host: value('--host') ?? '0.0.0.0', port, dataDirectory, primary: value('--primary'), staleReads: argv.includes('--stale-reads') };
}

type Request = { op: 'read'; key: string } | { op: 'write'; key: string; value: unknown } | { op: 'cas'; key: string; expected: unknown; value: unknown };
type Reply = { status: number; body: Record<string, unknown> };

/** The primary's state: the values, and the log that makes them survive a kill. */
class PrimaryStore {
  private readonly values = new Map<string, unknown>();
  private readonly logFile: string;
  private readonly logDescriptor: number;

  constructor(dataDirectory: string) {
    mkdirSync(dataDirectory, { recursive: true });
    this.logFile = join(dataDirectory, 'log.jsonl');
    if (existsSync(this.logFile)) {
      for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
        // A line cut short by a kill was never acknowledged: skip it.
        if (line.trim() === '') continue;
        try {
          const entry = JSON.parse(line) as { key: string; value: unknown };
          this.values.set(entry.key, entry.value);
        } catch {
          continue;
        }
      }
    }
    this.logDescriptor = openSync(this.logFile, 'a');
  }

  private persist(key: string, value: unknown): void {
    writeSync(this.logDescriptor, `${JSON.stringify({ key, value })}\n`);
    fsyncSync(this.logDescriptor);
    this.values.set(key, value);
  }

  apply(request: Request): Reply {
    const current = this.values.has(request.key) ? this.values.get(request.key) : null;
    switch (request.op) {
      case 'read':
        return { status: 200, body: { value: current } };
      case 'write':
        this.persist(request.key, request.value);
        return { status: 200, body: {} };
      case 'cas':
        if (JSON.stringify(current) !== JSON.stringify(request.expected)) return { status: 409, body: { error: 'cas mismatch', value: current } };
        this.persist(request.key, request.value);
        return { status: 200, body: {} };
    }
  }

  close(): void {
    closeSync(this.logDescriptor);
  }
}

/** A forwarding node: relays to the primary; `definite` says the primary certainly did not get the request. */
async function forward(primary: string, request: Request): Promise<Reply> {
  try {
    const response = await fetch(`${primary}/op`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(2000),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    const refused = code === 'ECONNREFUSED';
    return { status: refused ? 503 : 504, body: { error: `primary unreachable (${code ?? String(error)})`, definite: refused } };
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parseRequest(text: string): Request | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<Request> & { expected?: unknown; value?: unknown };
    if (typeof parsed.key !== 'string') return undefined;
    if (parsed.op === 'read') return { op: 'read', key: parsed.key };
    if (parsed.op === 'write') return { op: 'write', key: parsed.key, value: parsed.value };
    if (parsed.op === 'cas') return { op: 'cas', key: parsed.key, expected: parsed.expected, value: parsed.value };
  } catch {
    return undefined;
  }
  return undefined;
}

function main(): void {
  const options = parseArguments(process.argv.slice(2));
  const store = options.primary === undefined ? new PrimaryStore(options.dataDirectory) : undefined;
  const cache = new Map<string, unknown>();

  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const send = (reply: Reply) => {
      outgoing.writeHead(reply.status, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify(reply.body));
    };
    if (incoming.method === 'GET' && incoming.url === '/health') {
      send({ status: 200, body: { role: store ? 'primary' : 'forwarder' } });
      return;
    }
    if (incoming.method !== 'POST' || incoming.url !== '/op') {
      send({ status: 404, body: { error: 'not found' } });
      return;
    }
    void readBody(incoming).then(async (text) => {
      const request = parseRequest(text);
      if (!request) return send({ status: 400, body: { error: 'expected {op: read|write|cas, key, value}' } });
      if (store) return send(store.apply(request));
      if (options.staleReads && request.op === 'read' && cache.has(request.key)) return send({ status: 200, body: { value: cache.get(request.key) } });
      const reply = await forward(options.primary!, request);
      if (reply.status === 200) cache.set(request.key, request.op === 'read' ? reply.body.value : request.value);
      send(reply);
    });
  });
  server.listen(options.port, options.host, () => process.stdout.write(`my-store listening on ${options.host}:${options.port} as ${store ? 'primary' : 'forwarder'}\n`));
  process.on('SIGTERM', () => {
    store?.close();
    process.exit(0);
  });
}

main();
