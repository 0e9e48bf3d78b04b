// Test scaffolding for nemesis tests: a tiny TCP/UDP echo server per node and a Db (src/db.ts) over it.
// Not a target: it exists so fault tests can watch real processes, real packets and real clocks.
import type { Backend, Node } from '../../src/backends/types.js';
import { faketimeEnv } from '../../src/clock.js';
import type { Db } from '../../src/db.js';
import type { TestContext } from '../../src/test-context.js';

export const ECHO_PORT = 7070;

/**
 * HTTP on ECHO_PORT ("/" -> "echo <node>", "/time" -> Date.now()) and a UDP echo on the same port.
 * On first start it writes a 4 KiB data file (kept across restarts) for the disk nemesis to corrupt.
 */
export const ECHO_SERVER_SCRIPT = `
const http = require('node:http'), dgram = require('node:dgram'), fs = require('node:fs');
const [host, port, dataFile, name] = process.argv.slice(1);
if (!fs.existsSync(dataFile)) fs.writeFileSync(dataFile, Buffer.alloc(4096, 0x61));
http.createServer((request, response) => {
  response.end(request.url === '/time' ? String(Date.now()) : 'echo ' + name);
}).listen(Number(port), host);
const udp = dgram.createSocket('udp4');
udp.on('message', (message, remote) => udp.send(message, remote.port, remote.address));
udp.bind(Number(port), host);
`;

/** Prints "ok" when an HTTP request to argv host:port answers within 1 s, else "unreachable". */
export const PROBE_SCRIPT = `
const http = require('node:http');
const [host, port] = process.argv.slice(1);
const request = http.get({ host, port: Number(port), path: '/', timeout: 1000 }, (response) => {
  response.resume(); response.on('end', () => { console.log('ok'); process.exit(0); });
});
request.on('timeout', () => { console.log('unreachable'); process.exit(0); });
request.on('error', () => { console.log('unreachable'); process.exit(0); });
`;

/** Sends COUNT UDP datagrams to host:port, 2 ms apart, and prints how many echoes came back within 1.5 s after. */
export const UDP_COUNT_SCRIPT = `
const dgram = require('node:dgram');
const [host, port, count] = process.argv.slice(1);
const socket = dgram.createSocket('udp4');
const seen = new Set();
socket.on('message', (message) => seen.add(message.toString()));
socket.bind(0, () => {
  let sent = 0;
  const timer = setInterval(() => {
    socket.send(String(sent), Number(port), host);
    if (++sent >= Number(count)) {
      clearInterval(timer);
      setTimeout(() => { console.log(seen.size); process.exit(0); }, 1500);
    }
  }, 2);
});
`;

function dataFileOf(node: Node): string {
  return `${node.dir}/echo-data.bin`;
}
function pidFileOf(node: Node): string {
  return `${node.dir}/echo.pid`;
}

export async function readPid(backend: Backend, node: Node): Promise<number> {
  const result = await backend.exec(node, ['cat', pidFileOf(node)]);
  const pid = Number(result.stdout.trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`bad pid file on ${node.name}: '${result.stdout}'`);
  return pid;
}

/** The process state letter from /proc/PID/stat (R, S, T, Z, ...) or null when the process is gone. */
export async function processState(pid: number): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Whether the node's echo server answers the controller over HTTP within `timeoutMs`. */
export async function answers(node: Node, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`http://${node.host}:${ECHO_PORT}/`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await response.text()) === `echo ${node.name}`;
  } catch {
    return false;
  }
}

export interface EchoDbOptions {
  clockSkewable?: boolean;
  /** What primaries() answers; undefined leaves primaries() out (a Db that cannot name a primary). */
  primaries?: string[];
}

export class EchoDb implements Db {
  readonly clockSkewable: boolean;
  readonly primaries?: (test: TestContext) => Promise<string[]>;

  constructor(options: EchoDbOptions = {}) {
    this.clockSkewable = options.clockSkewable ?? true;
    const primaries = options.primaries;
    if (primaries) this.primaries = async () => [...primaries];
  }

  async setup(test: TestContext, node: Node): Promise<void> {
    await this.start(test, node);
  }

  async start(test: TestContext, node: Node): Promise<void> {
    await test.backend.startDaemon(node, [process.execPath, '-e', ECHO_SERVER_SCRIPT, node.host, String(ECHO_PORT), dataFileOf(node), node.name], {
      logFile: `${node.dir}/echo.log`,
      pidFile: pidFileOf(node),
      env: faketimeEnv(node),
    });
    await waitFor(`${node.name} to answer`, () => answers(node), 10_000);
  }

  async kill(test: TestContext, node: Node): Promise<void> {
    const pid = await readPid(test.backend, node);
    await test.backend.exec(node, ['kill', '-KILL', String(pid)], { allowFailure: true });
    await waitFor(`${node.name} pid ${pid} to die`, async () => {
      const state = await processState(pid);
      return state === null || state === 'Z';
    }, 5_000);
  }

  async pause(test: TestContext, node: Node): Promise<void> {
    await test.backend.exec(node, ['kill', '-STOP', String(await readPid(test.backend, node))]);
  }

  async resume(test: TestContext, node: Node): Promise<void> {
    await test.backend.exec(node, ['kill', '-CONT', String(await readPid(test.backend, node))]);
  }

  async teardown(test: TestContext, node: Node): Promise<void> {
    await this.resume(test, node).catch(() => undefined);
    await this.kill(test, node).catch(() => undefined);
    await test.backend.exec(node, ['rm', '-f', dataFileOf(node)], { allowFailure: true });
  }

  logFiles(_test: TestContext, node: Node): string[] {
    return [`${node.dir}/echo.log`];
  }

  async dataFiles(_test: TestContext, node: Node): Promise<string[]> {
    return [dataFileOf(node)];
  }
}

export { dataFileOf, pidFileOf };
