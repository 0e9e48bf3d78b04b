// Proves the WAL's recovery rules on real files: entries replay in order with overwrites, a torn tail is cut
// off (and only the tail), damage before an intact record or in the snapshot file refuses to start (naming
// file and offset), and a snapshot record drops the entries it covers.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseServerArguments, startServer } from './server.js';
import { encodeSnapshot, recover, snapshotFileName, StorageCorruptionError, WriteAheadLog, walFileName } from './wal.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'raftkv-wal-'));
  directories.push(directory);
  return directory;
}

/** Resolves once everything queued so far is fsync'd. */
function durable(wal: WriteAheadLog): Promise<void> {
  return new Promise<void>((resolve) => wal.afterQueued(resolve));
}

/** A WAL of three records written in three batches; returns its path and each record's starting offset. */
async function threeRecordLog(directory: string): Promise<{ path: string; offsets: number[] }> {
  const path = join(directory, walFileName);
  const wal = await WriteAheadLog.open(directory, { onError: (error) => { throw error; } });
  const offsets: number[] = [];
  for (const [index, data] of ['first', 'second', 'third'].entries()) {
    offsets.push(existsSync(path) ? statSync(path).size : 0);
    wal.append(index === 0 ? { term: 1, votedFor: 'n2' } : null, [{ index: index + 1, term: 1, data }], () => {});
    await durable(wal);
  }
  await wal.close();
  return { path, offsets };
}

/** The error recover() throws, which must be a StorageCorruptionError. */
function corruptionOf(directory: string): StorageCorruptionError {
  try {
    recover(directory);
  } catch (error) {
    expect(error).toBeInstanceOf(StorageCorruptionError);
    return error as StorageCorruptionError;
  }
  throw new Error(`recover(${directory}) accepted damaged storage`);
}

describe('write-ahead log', () => {
  it('replays hard state and entries, with later entries replacing a conflicting tail', async () => {
    const directory = freshDirectory();
    const wal = await WriteAheadLog.open(directory, { onError: (error) => { throw error; } });
    wal.append({ term: 1, votedFor: 'n1' }, [1, 2, 3].map((index) => ({ index, term: 1, data: `a${index}` })), () => {});
    wal.append({ term: 2, votedFor: 'n2' }, [{ index: 3, term: 2, data: 'b3' }, { index: 4, term: 2, data: 'b4' }], () => {});
    await durable(wal);
    await wal.close();
    const recovered = recover(directory);
    expect(recovered.discardedBytes).toBe(0);
    expect(recovered.state.hardState).toEqual({ term: 2, votedFor: 'n2' });
    expect(recovered.state.entries.map((entry) => entry.data)).toEqual(['a1', 'a2', 'b3', 'b4']);
  });

  it('cuts off a torn last record and a record whose checksum fails, keeping everything before', async () => {
    const directory = freshDirectory();
    const wal = await WriteAheadLog.open(directory, { onError: (error) => { throw error; } });
    wal.append({ term: 1, votedFor: null }, [{ index: 1, term: 1, data: 'x' }], () => {});
    await durable(wal);
    wal.append(null, [{ index: 2, term: 1, data: 'y' }], () => {});
    await durable(wal);
    await wal.close();
    const path = join(directory, walFileName);
    const goodSize = statSync(path).size;
    // Flip one byte inside the last record's payload: its checksum no longer matches.
    const bytes = readFileSync(path);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(path, bytes);
    appendFileSync(path, Buffer.from([1, 2, 3]));
    const recovered = recover(directory);
    expect(recovered.state.entries.map((entry) => entry.data)).toEqual(['x']);
    expect(recovered.discardedBytes).toBeGreaterThan(3);
    expect(statSync(path).size).toBeLessThan(goodSize);
    // Recovery is idempotent once the tail is gone.
    expect(recover(directory).discardedBytes).toBe(0);
  });

  it('installs a snapshot: the rewritten log holds only entries after it', async () => {
    const directory = freshDirectory();
    const wal = await WriteAheadLog.open(directory, { onError: (error) => { throw error; } });
    const entries = [1, 2, 3, 4].map((index) => ({ index, term: 1, data: index }));
    wal.append({ term: 1, votedFor: 'n1' }, entries, () => {});
    await new Promise<void>((resolve) => wal.installSnapshot({ index: 2, term: 1, data: { image: true } }, { term: 1, votedFor: 'n1' }, () => entries, resolve));
    wal.append(null, [{ index: 5, term: 1, data: 5 }], () => {});
    await durable(wal);
    await wal.close();
    const recovered = recover(directory);
    expect(recovered.state.snapshot).toEqual({ index: 2, term: 1, data: { image: true } });
    expect(recovered.state.entries.map((entry) => entry.index)).toEqual([3, 4, 5]);
    expect(recovered.state.hardState).toEqual({ term: 1, votedFor: 'n1' });
  });

  it('refuses to start on a flipped bit mid-log, naming the file and the bad record\'s offset, and leaves the file alone', async () => {
    const directory = freshDirectory();
    const { path, offsets } = await threeRecordLog(directory);
    const bytes = readFileSync(path);
    // Inside the second record's payload: the third record after it is intact.
    bytes[offsets[1] + 12] ^= 0x04;
    writeFileSync(path, bytes);
    const error = corruptionOf(directory);
    expect(error.file).toBe(path);
    expect(error.offset).toBe(offsets[1]);
    expect(error.message).toContain(`${path}: corrupt at byte ${offsets[1]}`);
    expect(error.message).toContain(`intact record after it at byte ${offsets[2]}`);
    expect(error.message).not.toContain('\n');
    // Nothing was cut: a later repair still has every byte.
    expect(readFileSync(path)).toEqual(bytes);
  });

  it('refuses to start when a record\'s length field is damaged, even though the record then seems to run past the end', async () => {
    const directory = freshDirectory();
    const { path, offsets } = await threeRecordLog(directory);
    const bytes = readFileSync(path);
    bytes[offsets[0] + 2] ^= 0x01; // length += 65536: past the end of this small file
    writeFileSync(path, bytes);
    const error = corruptionOf(directory);
    expect(error.offset).toBe(0);
    expect(error.message).toContain('running past the end of the file');
  });

  it('cuts a torn tail: the last record half written, or zeros where the file grew before the data landed', async () => {
    const directory = freshDirectory();
    const { path, offsets } = await threeRecordLog(directory);
    const size = statSync(path).size;
    writeFileSync(path, readFileSync(path).subarray(0, size - 5));
    appendFileSync(path, Buffer.alloc(4096));
    const recovered = recover(directory);
    expect(recovered.state.entries.map((entry) => entry.data)).toEqual(['first', 'second']);
    expect(recovered.state.hardState).toEqual({ term: 1, votedFor: 'n2' });
    expect(recovered.discardedBytes).toBe(size - 5 - offsets[2] + 4096);
    expect(statSync(path).size).toBe(offsets[2]);
  });

  it('refuses to start on a snapshot file whose bytes changed, even where the JSON still parses', async () => {
    const directory = freshDirectory();
    const path = join(directory, snapshotFileName);
    const bytes = encodeSnapshot({ index: 4, term: 2, data: { values: { k: 1234 } } });
    // '1' -> '3': still valid JSON, a different value.
    bytes[bytes.indexOf('1234')] ^= 0x02;
    writeFileSync(path, bytes);
    const error = corruptionOf(directory);
    expect(error.file).toBe(path);
    expect(error.message).toMatch(/snapshot file is corrupt at byte \d+: its checksum does not match; refusing to start/);
    const whole = encodeSnapshot({ index: 4, term: 2, data: null });
    writeFileSync(path, whole.subarray(0, whole.length - 5));
    expect(corruptionOf(directory).message).toContain('bytes of snapshot after the header');
    writeFileSync(path, JSON.stringify({ index: 4, term: 2, data: null }));
    expect(corruptionOf(directory).message).toContain("expected a header line 'raftkv-snapshot length=N crc32=N'");
  });

  it('the server logs one fatal line naming the file and offset and does not start on mid-log corruption', async () => {
    const directory = freshDirectory();
    const { path, offsets } = await threeRecordLog(directory);
    const bytes = readFileSync(path);
    bytes[offsets[0] + 10] ^= 0x80;
    writeFileSync(path, bytes);
    const lines: string[] = [];
    // Port 1 is never bound: the refusal comes before the server listens.
    const options = parseServerArguments(['--id', 'n1', '--listen', '127.0.0.1:1', '--peers', 'n1=127.0.0.1:1', '--data', directory], (line) => lines.push(line));
    await expect(startServer(options)).rejects.toBeInstanceOf(StorageCorruptionError);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`n1 fatal: refusing to start: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt at byte 0 `));
  });

  it('writes nothing more after a failed write, so a half-written record stays the torn tail', async () => {
    const directory = freshDirectory();
    // Every write to /dev/full fails with ENOSPC, as on a full data volume.
    symlinkSync('/dev/full', join(directory, walFileName));
    const errors: string[] = [];
    let durableCount = 0;
    const wal = await WriteAheadLog.open(directory, { onError: (error) => errors.push((error as NodeJS.ErrnoException).code ?? error.message) });
    wal.append({ term: 1, votedFor: 'n1' }, [], () => durableCount++);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toEqual(['ENOSPC']);
    wal.afterQueued(() => durableCount++);
    expect(wal.idle).toBe(false);
    wal.append(null, [{ index: 1, term: 1, data: 'after' }], () => durableCount++);
    wal.afterQueued(() => durableCount++);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toEqual(['ENOSPC']);
    expect(durableCount).toBe(0);
    await wal.close();
  });

  it('forgets the vote under the forget-vote bug', async () => {
    const directory = freshDirectory();
    const wal = await WriteAheadLog.open(directory, { forgetVote: true, onError: (error) => { throw error; } });
    wal.append({ term: 7, votedFor: 'n3' }, [], () => {});
    await durable(wal);
    await wal.close();
    expect(recover(directory).state.hardState).toEqual({ term: 7, votedFor: null });
  });
});
