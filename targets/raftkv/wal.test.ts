// Proves the WAL's recovery rules on real files: entries replay in order with overwrites, a torn or corrupt
// tail is cut off (and only the tail), and a snapshot record drops the entries it covers.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recover, WriteAheadLog, walFileName } from './wal.js';

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

  it('forgets the vote under the forget-vote bug', async () => {
    const directory = freshDirectory();
    const wal = await WriteAheadLog.open(directory, { forgetVote: true, onError: (error) => { throw error; } });
    wal.append({ term: 7, votedFor: 'n3' }, [], () => {});
    await durable(wal);
    await wal.close();
    expect(recover(directory).state.hardState).toEqual({ term: 7, votedFor: null });
  });
});
