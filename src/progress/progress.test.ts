// Proves the progress display's two forms: the plain form prints whole lines periodically (CI logs), the live
// form redraws one line and keeps logged lines above it; both show elapsed/limit, counts, rate and faults.
import { describe, expect, it } from 'vitest';
import { createProgress, formatProgress, type ProgressSnapshot } from './index.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, columns: 200, rows: 50, write: (chunk: string) => (writes.push(String(chunk)), true), on: () => stream, off: () => stream, once: () => stream, removeListener: () => stream } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

const snapshot: ProgressSnapshot = { phase: 'run', elapsedMs: 12_300, limitMs: 60_000, ops: 1234, ok: 1200, fail: 20, info: 14, activeFaults: ['partition', 'clock'] };

describe('progress', () => {
  it('formats elapsed/limit, counts, rate and active faults', () => {
    expect(formatProgress(snapshot, 98.6)).toBe('[run] 12s/60s  ops 1234  ok 1200  fail 20  info 14  99 ops/s  faults: partition,clock');
    expect(formatProgress({ ...snapshot, activeFaults: [] }, 0)).toMatch(/faults: none$/);
  });

  it('plain form: a line per interval and logged lines as they are', async () => {
    const { stream, writes } = fakeStream(false);
    const progress = createProgress({ stream, snapshot: () => snapshot, plainIntervalMs: 20 });
    progress.log('hello');
    await new Promise((resolve) => setTimeout(resolve, 70));
    progress.stop();
    const count = writes.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writes.length).toBe(count);
    expect(writes[0]).toBe('hello\n');
    expect(writes.slice(1).every((line) => line.startsWith('[run] 12s/60s') && line.endsWith('\n'))).toBe(true);
    expect(writes.length).toBeGreaterThanOrEqual(2);
  });

  it('live form: redraws in place and keeps logged lines', async () => {
    const { stream, writes } = fakeStream(true);
    const progress = createProgress({ stream, snapshot: () => snapshot, liveIntervalMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 40));
    progress.log('a fault started');
    progress.stop();
    const text = writes.join('');
    expect(text).toContain('a fault started\n');
    expect(text).toContain('faults: partition,clock');
    // Redrawing erases the previous line with ANSI escapes.
    expect(text).toMatch(/\u001b\[/);
  });
});
