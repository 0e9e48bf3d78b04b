// Peer-to-peer transport for raftkv: one outgoing TCP stream per peer, opened as an HTTP Upgrade on the
// node's single listen address, carrying length-prefixed JSON frames. Raft tolerates loss, so a message
// for a peer that is unreachable is dropped rather than queued without bound.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Entry, Message, NodeId } from './raft.js';

export const upgradeProtocol = 'raftkv-peer/1';
const frameHeaderBytes = 4;
/** Larger frames are refused as corruption; snapshots are the biggest legitimate frames. */
const frameBytesMax = 512 * 1024 * 1024;
/** Frames held while a connection is being opened; past this the newest are dropped. */
const connectingQueueMax = 4096;
/** Bytes buffered in a socket past which messages are dropped (a stalled or paused peer). */
const socketBufferBytesMax = 64 * 1024 * 1024;
const reconnectDelayMs = 100;
/**
 * A connection whose send buffer has not drained for this long leads into a partition (iptables DROP sends
 * no reset): it is dropped and reopened, so the peer is not later flooded with seconds-old messages.
 */
const stalledConnectionMs = 2000;

/** Each entry is serialized once, then reused by every follower's append and by the WAL. */
const encodedEntries = new WeakMap<Entry, string>();

export function encodeEntries(entries: readonly Entry[]): string {
  let text = '[';
  for (let position = 0; position < entries.length; position++) {
    const entry = entries[position];
    let encoded = encodedEntries.get(entry);
    if (encoded === undefined) {
      encoded = JSON.stringify(entry);
      encodedEntries.set(entry, encoded);
    }
    text += position === 0 ? encoded : `,${encoded}`;
  }
  return `${text}]`;
}

function encodeMessage(message: Message): string {
  if (message.type !== 'append' || message.entries.length === 0) return JSON.stringify(message);
  const { entries, ...rest } = message;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)},"entries":${encodeEntries(entries)}}`;
}

export function encodeFrame(message: Message): Buffer {
  const payload = Buffer.from(encodeMessage(message));
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, frameHeaderBytes);
  return frame;
}

/** Splits a byte stream into frames; calls onMessage per decoded message; destroys the stream on garbage. */
export function readFrames(stream: Duplex, head: Buffer, onMessage: (message: Message) => void): void {
  let pending: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  const consume = () => {
    let offset = 0;
    while (pending.length - offset >= frameHeaderBytes) {
      const length = pending.readUInt32BE(offset);
      if (length > frameBytesMax) {
        stream.destroy(new Error(`frame of ${length} bytes`));
        return;
      }
      if (pending.length - offset - frameHeaderBytes < length) break;
      const payload = pending.subarray(offset + frameHeaderBytes, offset + frameHeaderBytes + length);
      offset += frameHeaderBytes + length;
      let message: Message;
      try {
        message = JSON.parse(payload.toString('utf8')) as Message;
      } catch {
        stream.destroy(new Error('undecodable frame'));
        return;
      }
      onMessage(message);
    }
    pending = offset === pending.length ? Buffer.alloc(0) : pending.subarray(offset);
  };
  consume();
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    consume();
  });
}

interface PeerLink {
  address: { host: string; port: number };
  socket: Socket | null;
  connecting: boolean;
  queued: Buffer[];
  lastAttemptMs: number;
  /** Bytes handed to the kernel when the send buffer was last seen to move, and when (monotonic ms). */
  progress: { dispatchedBytes: number; atMs: number };
}

export class PeerTransport {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly incoming = new Set<Duplex>();
  private closed = false;
  /** Frames waiting for this turn's flush, per peer, so a burst of messages becomes one socket write. */
  private outbox = new Map<NodeId, Buffer[]>();
  private flushScheduled = false;

  constructor(
    private readonly selfId: NodeId,
    peers: Map<NodeId, { host: string; port: number }>,
    private readonly onMessage: (message: Message) => void,
  ) {
    for (const [id, address] of peers) {
      if (id !== selfId) this.links.set(id, { address, socket: null, connecting: false, queued: [], lastAttemptMs: -Infinity, progress: { dispatchedBytes: 0, atMs: 0 } });
    }
  }

  /** Attach to the node's HTTP server: peers arrive as Upgrade requests. */
  attach(server: http.Server): void {
    server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (request.headers.upgrade !== upgradeProtocol || this.closed) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${upgradeProtocol}\r\nConnection: Upgrade\r\n\r\n`);
      this.incoming.add(socket);
      // A peer lost in a partition never closes its stream; keepalive eventually reaps it.
      if ('setKeepAlive' in socket) (socket as Socket).setKeepAlive(true, 5000);
      socket.on('close', () => this.incoming.delete(socket));
      socket.on('error', () => socket.destroy());
      readFrames(socket, head, this.onMessage);
    });
  }

  send(message: Message): void {
    if (this.closed || !this.links.has(message.to)) return;
    let frames = this.outbox.get(message.to);
    if (!frames) this.outbox.set(message.to, (frames = []));
    frames.push(encodeFrame(message));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes everything queued so far now (the server calls it after each Ready); otherwise on setImmediate. */
  flush(): void {
    this.flushScheduled = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [peer, frames] of outbox) {
      const link = this.links.get(peer)!;
      const bytes = frames.length === 1 ? frames[0] : Buffer.concat(frames);
      if (link.socket && !link.socket.destroyed) {
        const socket = link.socket;
        const now = performance.now();
        // bytesWritten counts what is still buffered too; what the kernel took is the difference.
        const dispatchedBytes = socket.bytesWritten - socket.writableLength;
        if (socket.writableLength === 0 || dispatchedBytes !== link.progress.dispatchedBytes) {
          link.progress = { dispatchedBytes, atMs: now };
        } else if (now - link.progress.atMs > stalledConnectionMs || socket.writableLength > socketBufferBytesMax) {
          link.socket = null;
          socket.destroy();
          continue;
        }
        socket.write(bytes);
        continue;
      }
      if (link.queued.length < connectingQueueMax) link.queued.push(bytes);
      this.connect(peer, link);
    }
  }

  private connect(peer: NodeId, link: PeerLink): void {
    const now = performance.now();
    if (link.connecting || this.closed) return;
    if (now - link.lastAttemptMs < reconnectDelayMs) {
      // Too soon after a failure: drop what waited, Raft will retry on its own schedule.
      link.queued = [];
      return;
    }
    link.connecting = true;
    link.lastAttemptMs = now;
    const request = http.request({
      host: link.address.host,
      port: link.address.port,
      method: 'GET',
      path: '/raft',
      headers: { Connection: 'Upgrade', Upgrade: upgradeProtocol, 'x-raftkv-from': this.selfId },
      timeout: 2000,
      agent: false,
    });
    const giveUp = () => {
      link.connecting = false;
      link.queued = [];
    };
    request.on('timeout', () => request.destroy(new Error('connect timeout')));
    request.on('error', giveUp);
    request.on('response', (response) => {
      response.resume();
      giveUp();
    });
    request.on('upgrade', (_response, socket: Socket) => {
      link.connecting = false;
      if (this.closed) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 5000);
      link.socket = socket;
      link.progress = { dispatchedBytes: 0, atMs: performance.now() };
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        if (link.socket === socket) link.socket = null;
      });
      // The peer never writes on our outgoing stream; reading keeps the socket's close events flowing.
      socket.resume();
      const queued = link.queued;
      link.queued = [];
      if (queued.length > 0) socket.write(Buffer.concat(queued));
    });
    request.end();
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      link.socket?.destroy();
      link.socket = null;
      link.queued = [];
    }
    for (const socket of this.incoming) socket.destroy();
    this.incoming.clear();
  }
}
