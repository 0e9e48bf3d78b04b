// nemesis.jsonl: the nemesis's completions (which keep their history index) and the backend's connection
// events (which have none), one JSON line each, without ever inventing an index that history.jsonl may also use.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { OpSink } from './recorder.js';

/** A backend event line: an op-like record with no `index`, so it can never collide with a history op's. */
export interface NemesisLogRecord {
  process: 'nemesis';
  type: 'info';
  f: string;
  value: unknown;
  time: number;
  node?: string;
  [extra: string]: unknown;
}

/**
 * Writes each line at once (a few dozen lines per run, so a synchronous write is cheap and a crashed
 * controller loses none of them); fsync'd on close and on `flushSync`. Unlike HistoryWriter it never
 * assigns an index: a nemesis op arrives with its history index, a backend event stays without one.
 */
export class NemesisLog implements OpSink {
  readonly path: string;
  private descriptor: number | undefined;

  constructor(path: string) {
    this.path = path;
    this.descriptor = openSync(path, 'w');
  }

  /** A nemesis op (with its history index, which it keeps). Returns that index, or -1 for none. */
  append(op: { index?: number; [field: string]: unknown }): number {
    this.write(op);
    return typeof op.index === 'number' ? op.index : -1;
  }

  /** A backend event, written without any `index` (one it carries is dropped): its place is its line. */
  appendEvent(record: NemesisLogRecord): void {
    const { index: _ignored, ...withoutIndex } = record as NemesisLogRecord & { index?: unknown };
    this.write(withoutIndex);
  }

  private write(record: object): void {
    if (this.descriptor === undefined) throw new Error(`NemesisLog(${this.path}) is closed`);
    writeSync(this.descriptor, `${JSON.stringify(record)}\n`);
  }

  flushSync(): void {
    if (this.descriptor !== undefined) fsyncSync(this.descriptor);
  }

  async close(): Promise<void> {
    if (this.descriptor === undefined) return;
    const descriptor = this.descriptor;
    this.descriptor = undefined;
    try {
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
  }
}
