// A small keep-alive HTTP/JSON client for raftkv, shared by the Faultline adapter, the benchmark, the CLI and
// the tests. It reports whether a failed request certainly had no effect, which the adapter turns into fail vs info.
import http from 'node:http';

export interface RaftkvResponse {
  status: number;
  body: Record<string, unknown>;
}

export class RaftkvRequestError extends Error {
  constructor(
    message: string,
    /** True when the request certainly did not reach the server (so it had no effect). */
    readonly definite: boolean,
    readonly code: string,
  ) {
    super(message);
    this.name = 'RaftkvRequestError';
  }
}

export class RaftkvHttpClient {
  private readonly agent: http.Agent;

  constructor(
    readonly host: string,
    readonly port: number,
    options: { maxSockets?: number } = {},
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 8 });
  }

  request(method: string, path: string, body: unknown, timeoutMs: number): Promise<RaftkvResponse> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      let sent = false;
      const request = http.request(
        {
          host: this.host,
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
            } catch {
              reject(new RaftkvRequestError(`${method} ${path}: response is not JSON: ${text.slice(0, 200)}`, false, 'bad-response'));
            }
          });
          response.on('error', (error) => {
            clearTimeout(timer);
            reject(new RaftkvRequestError(`${method} ${path}: ${error.message}`, false, 'response-error'));
          });
        },
      );
      const timer = setTimeout(() => {
        request.destroy(new RaftkvRequestError(`${method} ${path}: no answer within ${timeoutMs} ms`, false, 'timeout'));
      }, timeoutMs);
      request.on('socket', (socket) => {
        // Once the socket is connected the request bytes may reach the server: no longer definite.
        if (!socket.connecting) sent = true;
        else socket.once('connect', () => (sent = true));
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error instanceof RaftkvRequestError) return reject(error);
        const refused = error.code === 'ECONNREFUSED' || error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH';
        reject(new RaftkvRequestError(`${method} ${path} to ${this.host}:${this.port}: ${error.code ?? error.message}`, refused || !sent, error.code ?? 'error'));
      });
      request.end(payload);
    });
  }

  status(timeoutMs = 2000): Promise<Record<string, unknown>> {
    return this.request('GET', '/status', undefined, timeoutMs).then((response) => response.body);
  }

  close(): void {
    this.agent.destroy();
  }
}
