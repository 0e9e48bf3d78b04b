// raftkv's durable storage: an append-only, checksummed write-ahead log with group commit (one durable write
// for everything queued while the previous one ran), plus an atomically replaced snapshot file.
// Record: [u32 payload length][u32 crc32 of payload][payload: JSON]. On open a torn tail is cut off; damage
// anywhere else (a bad record with an intact one after it, a snapshot failing its checksum) refuses to start.
import { closeSync, constants as fsConstants, existsSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, write, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Entry, HardState, PersistedState, Snapshot } from './raft.js';
import { encodeEntries } from './transport.js';

type WalRecord =
  | { t: 'hard'; term: number; vote: string | null }
  | { t: 'entries'; entries: Entry[] }
  /** Entries up to index are covered by the snapshot file. */
  | { t: 'snapshot'; index: number; term: number };

export const walFileName = 'wal.log';
export const snapshotFileName = 'snapshot.json';
const recordHeaderBytes = 8;
/** A record larger than this is corruption, not data (bounds what a bad length can make us read). */
const recordBytesMax = 256 * 1024 * 1024;

export interface Recovery {
  state: PersistedState;
  /** Bytes cut off the WAL's torn tail: a bad record (incomplete or failing its checks) with nothing intact after it. */
  discardedBytes: number;
  records: number;
}

function encodeRecord(record: WalRecord): Buffer {
  const payload = Buffer.from(record.t === 'entries' ? `{"t":"entries","entries":${encodeEntries(record.entries)}}` : JSON.stringify(record));
  const header = Buffer.alloc(recordHeaderBytes);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

function fsyncDirectory(directory: string): void {
  const descriptor = openSync(directory, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Damage recovery must not paper over: a WAL record that fails its checks with a valid record after it, or a
 * snapshot file that fails its checksum. The node refuses to start (a real store's fail-stop) rather than
 * forget what it acknowledged, its votes included; `file` and `offset` say where to look.
 */
export class StorageCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'StorageCorruptionError';
  }
}

/** The intact WAL record at `offset` and where the next one starts, or why the bytes there are not one. */
type RecordRead = { record: WalRecord; next: number } | { problem: string };

function readRecordAt(bytes: Buffer, offset: number): RecordRead {
  if (offset + recordHeaderBytes > bytes.length) return { problem: `a record header cut short (${bytes.length - offset} of ${recordHeaderBytes} bytes)` };
  const length = bytes.readUInt32LE(offset);
  const checksum = bytes.readUInt32LE(offset + 4);
  if (length === 0 || length > recordBytesMax) return { problem: `an impossible record length ${length}` };
  const end = offset + recordHeaderBytes + length;
  if (end > bytes.length) return { problem: `a record of ${length} bytes running past the end of the file` };
  const payload = bytes.subarray(offset + recordHeaderBytes, end);
  if (crc32(payload) !== checksum) return { problem: 'a record whose checksum does not match' };
  let record: WalRecord;
  try {
    record = JSON.parse(payload.toString('utf8')) as WalRecord;
  } catch {
    return { problem: 'a record whose checksum matches but whose payload is not JSON' };
  }
  if (record === null || typeof record !== 'object' || !['hard', 'entries', 'snapshot'].includes((record as { t?: unknown }).t as string)) {
    return { problem: 'a record of no known kind' };
  }
  return { record, next: end };
}

/**
 * The offset of the first intact record after `offset`, or null. Every byte offset is tried because a damaged
 * length field hides where the next record starts; most candidates fail at once on their length.
 */
function nextIntactRecord(bytes: Buffer, offset: number): number | null {
  for (let candidate = offset + 1; candidate + recordHeaderBytes < bytes.length; candidate++) {
    if ('record' in readRecordAt(bytes, candidate)) return candidate;
  }
  return null;
}

/**
 * Snapshot file: one header line `raftkv-snapshot length=<bytes> crc32=<checksum>`, then the snapshot's JSON.
 * The checksum catches what JSON.parse alone would not: a flipped bit inside a value still parses.
 */
const snapshotMagic = 'raftkv-snapshot';

export function encodeSnapshot(snapshot: Snapshot): Buffer {
  const payload = Buffer.from(JSON.stringify(snapshot));
  return Buffer.concat([Buffer.from(`${snapshotMagic} length=${payload.length} crc32=${crc32(payload)}\n`), payload]);
}

export function decodeSnapshot(path: string, bytes: Buffer): Snapshot {
  const newline = bytes.indexOf(0x0a);
  const header = newline < 0 ? '' : bytes.subarray(0, Math.min(newline, 200)).toString('latin1');
  const match = /^raftkv-snapshot length=(\d+) crc32=(\d+)$/.exec(header);
  const refuse = (offset: number, what: string) =>
    new StorageCorruptionError(path, offset, `${path}: snapshot file is corrupt at byte ${offset}: ${what}; refusing to start (this node's state is lost; restore its data or replace the node)`);
  if (!match) throw refuse(0, `expected a header line '${snapshotMagic} length=N crc32=N'`);
  const payload = bytes.subarray(newline + 1);
  if (payload.length !== Number(match[1])) throw refuse(newline + 1, `expected ${match[1]} bytes of snapshot after the header, found ${payload.length}`);
  if (crc32(payload) !== Number(match[2])) throw refuse(newline + 1, 'its checksum does not match');
  try {
    return JSON.parse(payload.toString('utf8')) as Snapshot;
  } catch (error) {
    throw refuse(newline + 1, `its checksum matches but it is not JSON (${(error as Error).message})`);
  }
}

/**
 * Reads the snapshot and WAL in `directory`. Creates the directory if needed. A torn tail (the first bad
 * record with no intact record after it, as a crash during an append leaves) is cut off; anything else
 * bad throws StorageCorruptionError.
 */
export function recover(directory: string): Recovery {
  mkdirSync(directory, { recursive: true });
  let snapshot: Snapshot | null = null;
  const snapshotPath = join(directory, snapshotFileName);
  // Written by rename after an fsync, so only outside damage makes it fail its checks.
  if (existsSync(snapshotPath)) snapshot = decodeSnapshot(snapshotPath, readFileSync(snapshotPath));
  let hardState: HardState = { term: 0, votedFor: null };
  let entries: Entry[] = [];
  const walPath = join(directory, walFileName);
  let discardedBytes = 0;
  let records = 0;
  if (existsSync(walPath)) {
    const bytes = readFileSync(walPath);
    let offset = 0;
    while (offset < bytes.length) {
      const read = readRecordAt(bytes, offset);
      if (!('record' in read)) {
        const intact = nextIntactRecord(bytes, offset);
        if (intact !== null) {
          throw new StorageCorruptionError(
            walPath,
            offset,
            `${walPath}: corrupt at byte ${offset} (${read.problem}, record ${records + 1}) with an intact record after it at byte ${intact}: ` +
              'mid-log corruption, not a torn tail; refusing to start (dropping it would forget acknowledged entries and votes; restore this node\'s data or replace the node)',
          );
        }
        break;
      }
      const record = read.record;
      records++;
      offset = read.next;
      const base = snapshot?.index ?? 0;
      if (record.t === 'hard') {
        hardState = { term: record.term, votedFor: record.vote };
      } else if (record.t === 'snapshot') {
        entries = entries.filter((entry) => entry.index > record.index);
      } else {
        for (const entry of record.entries) {
          if (entry.index <= base) continue;
          // An entry at index i replaces whatever the log held at i and after (a leader's overwrite).
          const keep = entry.index - base - 1;
          if (entries.length > keep) entries.length = keep;
          if (entries.length === keep) entries.push(entry);
        }
      }
    }
    if (offset < bytes.length) {
      discardedBytes = bytes.length - offset;
      truncateSync(walPath, offset);
    }
  }
  const base = snapshot?.index ?? 0;
  // Entries must continue the snapshot without a gap; anything after a gap is unusable.
  const contiguous: Entry[] = [];
  for (const entry of entries) {
    if (entry.index !== base + contiguous.length + 1) break;
    contiguous.push(entry);
  }
  return { state: { hardState, snapshot, entries: contiguous }, discardedBytes, records };
}

export interface WalOptions {
  /** The lazy-fsync bug: acknowledge at once, keep records in memory and write them only every flushMs. */
  lazy?: boolean;
  lazyFlushMs?: number;
  /** The forget-vote bug: the vote is never written, so a restarted node forgets whom it voted for. */
  forgetVote?: boolean;
  onError: (error: Error) => void;
}

interface WriteJob {
  buffers: Buffer[];
  callbacks: Array<() => void>;
  /** A snapshot install runs in the queue's order, after every write before it. */
  rewrite?: () => void;
}

/**
 * Group commit: one write (with O_DSYNC, so durable when it returns, on the thread pool) is in flight at a
 * time; everything appended meanwhile joins the next one. The event loop never waits for the disk, so a
 * leader goes on handling requests and acknowledgements while its own write runs.
 */
export class WriteAheadLog {
  private descriptor: number | null = null;
  private queue: WriteJob[] = [];
  private writing = false;
  private lazyTimer: NodeJS.Timeout | null = null;
  /**
   * The first write error. Nothing is written after it: a write that failed half-way (ENOSPC) leaves a torn
   * record, which recovery may cut only while it is the last thing in the file.
   */
  private failure: Error | null = null;
  /** Durable writes done, and records they covered: how well group commit batches. */
  syncs = 0;
  recordsWritten = 0;

  private constructor(
    private readonly directory: string,
    private readonly options: WalOptions,
  ) {}

  static async open(directory: string, options: WalOptions): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(directory, options);
    wal.descriptor = openSync(join(directory, walFileName), wal.appendFlags);
    if (options.lazy) {
      wal.lazyTimer = setInterval(() => wal.flushLazy(), options.lazyFlushMs ?? 1000);
      wal.lazyTimer.unref();
    }
    return wal;
  }

  /** O_DSYNC: durable on return, one system call per batch; the lazy-fsync bug opens without it. */
  private get appendFlags(): number {
    const base = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT;
    return this.options.lazy ? base : base | fsConstants.O_DSYNC;
  }

  /** Whether nothing is queued or being written: a message can leave at once (never after a failed write). */
  get idle(): boolean {
    return !this.failure && !this.writing && this.queue.length === 0;
  }

  /**
   * Queues the hard state and entries; `onDurable` runs once they (and everything queued before) are on
   * disk. Under the lazy-fsync bug it runs at once, and the records wait in memory for the next flush.
   */
  append(hardState: HardState | null, entries: Entry[], onDurable: () => void): void {
    const buffers: Buffer[] = [];
    if (hardState) buffers.push(encodeRecord({ t: 'hard', term: hardState.term, vote: this.options.forgetVote ? null : hardState.votedFor }));
    if (entries.length > 0) buffers.push(encodeRecord({ t: 'entries', entries }));
    if (this.options.lazy) {
      this.enqueue(buffers, []);
      onDurable();
      return;
    }
    this.enqueue(buffers, [onDurable]);
    this.kick();
  }

  /** Runs `callback` after everything queued so far is durable (at once when nothing is queued). */
  afterQueued(callback: () => void): void {
    if (this.failure) return;
    if (this.idle || this.options.lazy) {
      callback();
      return;
    }
    this.enqueue([], [callback]);
    this.kick();
  }

  /**
   * Writes a snapshot file atomically, then rewrites the WAL to hold only `hardState` and the entries after
   * the snapshot. `onDurable` runs when both are on disk.
   */
  installSnapshot(snapshot: Snapshot, hardState: HardState, entriesAfter: () => Entry[], onDurable: () => void): void {
    const rewrite = () => {
      const snapshotPath = join(this.directory, snapshotFileName);
      const temporarySnapshot = `${snapshotPath}.tmp`;
      writeFileSync(temporarySnapshot, encodeSnapshot(snapshot));
      const snapshotDescriptor = openSync(temporarySnapshot, 'r+');
      fsyncSync(snapshotDescriptor);
      closeSync(snapshotDescriptor);
      renameSync(temporarySnapshot, snapshotPath);
      fsyncDirectory(this.directory);
      // Entries are read now, after every earlier write landed, so the new WAL misses nothing.
      const walPath = join(this.directory, walFileName);
      const temporaryWal = `${walPath}.tmp`;
      const buffers = [
        encodeRecord({ t: 'hard', term: hardState.term, vote: this.options.forgetVote ? null : hardState.votedFor }),
        encodeRecord({ t: 'snapshot', index: snapshot.index, term: snapshot.term }),
      ];
      const after = entriesAfter().filter((entry) => entry.index > snapshot.index);
      if (after.length > 0) buffers.push(encodeRecord({ t: 'entries', entries: after }));
      writeFileSync(temporaryWal, Buffer.concat(buffers));
      const walDescriptor = openSync(temporaryWal, 'r+');
      fsyncSync(walDescriptor);
      closeSync(walDescriptor);
      if (this.descriptor !== null) closeSync(this.descriptor);
      this.descriptor = null;
      renameSync(temporaryWal, walPath);
      fsyncDirectory(this.directory);
      this.descriptor = openSync(walPath, this.appendFlags);
    };
    this.queue.push({ buffers: [], callbacks: [onDurable], rewrite });
    this.kick();
  }

  async close(): Promise<void> {
    if (this.lazyTimer) clearInterval(this.lazyTimer);
    this.lazyTimer = null;
    // Let a write in flight land before its descriptor goes (bounded: 100 x 20 ms).
    for (let attempt = 0; attempt < 100 && this.writing; attempt++) await new Promise((wake) => setTimeout(wake, 20));
    this.queue = [];
    if (this.descriptor !== null) closeSync(this.descriptor);
    this.descriptor = null;
  }

  /** The lazy-fsync bug's deferred write: whatever piled up since the last one, written and synced now. */
  private flushLazy(): void {
    const pending = this.queue.some((job) => job.buffers.length > 0 || job.rewrite);
    if (pending) this.kick();
  }

  private enqueue(buffers: Buffer[], callbacks: Array<() => void>): void {
    const last = this.queue[this.queue.length - 1];
    if (last && !last.rewrite) {
      last.buffers.push(...buffers);
      last.callbacks.push(...callbacks);
    } else {
      this.queue.push({ buffers, callbacks });
    }
  }

  private kick(): void {
    if (this.failure || this.writing || this.queue.length === 0 || this.descriptor === null) return;
    const job = this.queue.shift()!;
    this.writing = true;
    const finish = (error: Error | null) => {
      this.writing = false;
      if (error) {
        this.failure = error;
        this.queue = [];
        this.options.onError(error);
        return;
      }
      for (const callback of job.callbacks) callback();
      // Under the lazy-fsync bug new writes wait for the timer; otherwise the next batch goes at once.
      if (!this.options.lazy || this.queue.some((next) => next.rewrite)) this.kick();
    };
    if (job.rewrite) {
      try {
        job.rewrite();
      } catch (error) {
        finish(error as Error);
        return;
      }
      finish(null);
      return;
    }
    if (job.buffers.length === 0) {
      finish(null);
      return;
    }
    const bytes = job.buffers.length === 1 ? job.buffers[0] : Buffer.concat(job.buffers);
    const descriptor = this.descriptor;
    const records = job.buffers.length;
    let offset = 0;
    const writeRest = () => {
      write(descriptor, bytes, offset, bytes.length - offset, null, (error, written) => {
        if (error) return finish(error);
        offset += written;
        // Bounded: each pass writes at least one byte or fails.
        if (offset < bytes.length) return writeRest();
        if (this.options.lazy) {
          try {
            fdatasyncSync(descriptor);
          } catch (syncError) {
            return finish(syncError as Error);
          }
        }
        this.syncs++;
        this.recordsWritten += records;
        finish(null);
      });
    };
    writeRest();
  }
}
