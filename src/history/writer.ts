// Appends ops to history.jsonl as they happen, durably (fsync'd) at least every second, without slowing the run.
//
// Appends only serialize into memory. A timer hands the buffered text to one asynchronous write+fsync at a
// time. Every chunk is written at a byte offset fixed when it leaves the buffer, so `flushSync` (a crash
// path) can write the in-flight chunk again at the same place, then the rest, and fsync: the same bytes land
// at the same offsets whichever write finishes first, and nothing appended before it returns is lost.
import { closeSync, fsync, fsyncSync, openSync, write, writeSync } from 'node:fs';
import type { Op } from './types.js';

export interface HistoryWriterOptions {
  /** How often buffered ops are written and fsync'd; at most 1000 (the durability promise). Default 200. */
  flushIntervalMs?: number;
  /** The index of the first op appended without an index of its own. Default 0. */
  firstIndex?: number;
}

/** An op as appended: the writer assigns `index` when absent. */
export type AppendableOp = Omit<Op, 'index'> & { index?: number };

const maximumFlushIntervalMs = 1000;
const linesPerBlock = 512;
/** A buffer this large is flushed at the next append rather than waiting for the timer, bounding memory. */
const eagerFlushBytes = 8 << 20;

interface Chunk {
  bytes: Buffer;
  offset: number;
}

export class HistoryWriter {
  readonly path: string;
  private readonly descriptor: number;
  /**
   * Serialized lines not yet handed to a write. Lines are joined into blocks every `linesPerBlock` so the
   * many small strings die young (cheap to collect) and only a few large blocks live until the flush.
   */
  private lines: string[] = [];
  private blocks: string[] = [];
  private pendingLength = 0;
  private nextIndex: number;
  private nextOffset = 0;
  private inFlight: Chunk | undefined;
  private inFlightDone: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  private closed = false;

  /** Creates (or truncates) the file and starts the flush timer. */
  constructor(path: string, options: HistoryWriterOptions = {}) {
    const intervalMs = Math.min(options.flushIntervalMs ?? 200, maximumFlushIntervalMs);
    if (!(intervalMs > 0)) throw new RangeError(`flushIntervalMs must be positive, got ${options.flushIntervalMs}`);
    this.path = path;
    this.nextIndex = options.firstIndex ?? 0;
    this.descriptor = openSync(path, 'w');
    this.timer = setInterval(() => {
      this.flush().catch(() => {
        // Remembered in `failure` and rethrown by the next append, flush or close.
      });
    }, intervalMs);
    // The timer alone must not keep a finished process alive; close() or flushSync() drain what is left.
    this.timer.unref();
  }

  /** Ops appended so far (the next assigned index, when indexes are assigned here). */
  get count(): number {
    return this.nextIndex;
  }

  /**
   * Buffers one op as a JSONL line and returns its index. An op without an index gets the next one, set
   * on the object itself so the caller's in-memory history matches the file. Synchronous and cheap: no I/O
   * happens here unless the buffer has grown past a bound, when an asynchronous flush starts.
   */
  append(op: AppendableOp): number {
    if (this.closed) throw new Error(`HistoryWriter(${this.path}) is closed`);
    if (this.failure) throw this.failure;
    let index = op.index;
    if (typeof index === 'number') {
      if (index >= this.nextIndex) this.nextIndex = index + 1;
    } else {
      index = this.nextIndex++;
      op.index = index;
    }
    const line = JSON.stringify(op);
    this.lines.push(line);
    if (this.lines.length >= linesPerBlock) this.sealBlock();
    const length = (this.pendingLength += line.length + 1);
    if (length >= eagerFlushBytes && !this.inFlight) {
      this.flush().catch(() => {});
    }
    return index;
  }

  private sealBlock(): void {
    this.lines.push('');
    this.blocks.push(this.lines.join('\n'));
    this.lines = [];
  }

  /** Takes the buffered lines as one chunk with its file offset fixed now. */
  private takeChunk(): Chunk | undefined {
    if (this.pendingLength === 0) return undefined;
    if (this.lines.length > 0) this.sealBlock();
    const bytes = Buffer.from(this.blocks.length === 1 ? this.blocks[0] : this.blocks.join(''), 'utf8');
    this.blocks = [];
    this.pendingLength = 0;
    const chunk = { bytes, offset: this.nextOffset };
    this.nextOffset += bytes.length;
    return chunk;
  }

  /**
   * Writes and fsyncs everything appended before the call. Resolves once it is durable; concurrent calls
   * queue behind the write in flight (one at a time keeps the file free of holes).
   */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    // Bounded: each turn either finds nothing pending or writes what was pending when it started.
    for (let attempt = 0; attempt < 1000; attempt++) {
      if (this.inFlightDone) {
        await this.inFlightDone;
        continue;
      }
      const chunk = this.takeChunk();
      if (!chunk) return;
      this.inFlight = chunk;
      this.inFlightDone = this.writeChunk(chunk).finally(() => {
        this.inFlight = undefined;
        this.inFlightDone = undefined;
      });
      await this.inFlightDone;
      return;
    }
  }

  private writeChunk(chunk: Chunk): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => {
        this.failure ??= error;
        reject(error);
      };
      const writeFrom = (written: number): void => {
        write(this.descriptor, chunk.bytes, written, chunk.bytes.length - written, chunk.offset + written, (error, bytes) => {
          if (error) return fail(error);
          if (written + bytes < chunk.bytes.length) return writeFrom(written + bytes);
          fsync(this.descriptor, (syncError) => (syncError ? fail(syncError) : resolve()));
        });
      };
      writeFrom(0);
    });
  }

  /**
   * Synchronously writes everything appended so far (including a chunk whose asynchronous write may not
   * have finished) and fsyncs: for crash paths such as signal handlers and uncaught exceptions.
   */
  flushSync(): void {
    if (this.closed) return;
    const chunks: Chunk[] = [];
    if (this.inFlight) chunks.push(this.inFlight);
    const chunk = this.takeChunk();
    if (chunk) chunks.push(chunk);
    for (const { bytes, offset } of chunks) {
      let written = 0;
      while (written < bytes.length) {
        written += writeSync(this.descriptor, bytes, written, bytes.length - written, offset + written);
      }
    }
    fsyncSync(this.descriptor);
  }

  /** Flushes what is left, fsyncs, and closes the file. Appending afterwards throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      closeSync(this.descriptor);
    }
  }
}
