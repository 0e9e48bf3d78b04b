// Turns one decoded record (from JSONL or EDN) into an Op, or says exactly which field is wrong; shared by both readers.
import { inputError } from '../errors.js';
import type { Op, OpType } from './types.js';

const opTypes: ReadonlySet<string> = new Set<OpType>(['invoke', 'ok', 'fail', 'info']);

/** A short, one-line rendering of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks the fields of a decoded record in place and completes it into an Op: `index` is the position
 * unless `keepIndex` and the record has an integer index; `time` defaults to the index (file order is
 * real-time order, as in Knossos' histories); `value` defaults to null. Unknown fields are kept.
 * Throws a UserError "FILE:LINE: expected ..." on the first wrong field.
 */
export function completeOp(
  record: unknown,
  position: number,
  fileName: string,
  line: number,
  keepIndex: boolean,
): Op {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw inputError(fileName, line, `expected an operation object, got ${describeValue(record)}`);
  }
  const op = record as Record<string, unknown>;
  const process = op.process;
  if (!(typeof process === 'number' && Number.isInteger(process)) && process !== 'nemesis') {
    throw inputError(fileName, line, `expected "process" to be an integer or "nemesis", got ${describeValue(process)}`);
  }
  const type = op.type;
  if (typeof type !== 'string' || !opTypes.has(type)) {
    throw inputError(fileName, line, `expected "type" to be invoke, ok, fail or info, got ${describeValue(type)}`);
  }
  if (typeof op.f !== 'string') {
    throw inputError(fileName, line, `expected "f" to be a string, got ${describeValue(op.f)}`);
  }
  const key = op.key;
  if (key !== undefined && key !== null && typeof key !== 'string' && typeof key !== 'number') {
    throw inputError(fileName, line, `expected "key" to be a string, a number or null, got ${describeValue(key)}`);
  }
  const index = op.index;
  if (!keepIndex || index === undefined) {
    op.index = position;
  } else if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    throw inputError(fileName, line, `expected "index" to be a non-negative integer, got ${describeValue(index)}`);
  }
  const time = op.time;
  if (time === undefined || time === null) {
    op.time = position;
  } else if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw inputError(fileName, line, `expected "time" to be a number of nanoseconds, got ${describeValue(time)}`);
  }
  if (op.value === undefined) op.value = null;
  if (op.node !== undefined && op.node !== null && typeof op.node !== 'string') {
    throw inputError(fileName, line, `expected "node" to be a string, got ${describeValue(op.node)}`);
  }
  // Jepsen errors are often data ([:timeout nil]); the contract says string, so keep a faithful rendering.
  if (op.error !== undefined && op.error !== null && typeof op.error !== 'string') {
    op.error = JSON.stringify(op.error);
  }
  return op as Op;
}

/** Process ids this small are tracked in an array; others (negative, huge) in a map. */
const smallProcessLimit = 1 << 20;

/**
 * Jepsen's pairing rule for client processes, checked line by line as a history is read: a process has
 * at most one invocation open, and every completion (ok, fail, info) closes one. A process that invokes
 * twice without a completion, or a completion with nothing open, is a bad history (a UserError naming the
 * file and line): no checker can know which invocation a completion answers. After an `info` the process
 * is retired by Jepsen and Faultline, so a later invocation by it is never reached here in their
 * histories; it would be accepted, since a completion did come. The nemesis (any non-integer process) is
 * not a client and follows its own pairing, so it is not checked.
 */
export class ProcessPairing {
  /** Line of each small process's open invocation, 0 when none is open. */
  private small = new Float64Array(64);
  private readonly large = new Map<number, number>();

  constructor(private readonly fileName: string) {}

  /** Records one event; throws the UserError of a broken pairing. */
  observe(process: unknown, type: string, line: number): void {
    if (typeof process !== 'number') return;
    const openLine = this.openLine(process);
    if (type === 'invoke') {
      if (openLine > 0) {
        throw inputError(this.fileName, line, `expected process ${process} to complete its invocation of line ${openLine} before invoking again`);
      }
      this.setOpenLine(process, line);
    } else {
      if (openLine === 0) throw inputError(this.fileName, line, `expected an open invocation by process ${process} before this "${type}" completion`);
      this.setOpenLine(process, 0);
    }
  }

  private openLine(process: number): number {
    if (process >= 0 && process < smallProcessLimit) return process < this.small.length ? this.small[process] : 0;
    return this.large.get(process) ?? 0;
  }

  private setOpenLine(process: number, line: number): void {
    if (process >= 0 && process < smallProcessLimit) {
      if (process >= this.small.length) {
        const larger = new Float64Array(Math.max(process + 1, this.small.length * 2));
        larger.set(this.small);
        this.small = larger;
      }
      this.small[process] = line;
    } else if (line === 0) {
      this.large.delete(process);
    } else {
      this.large.set(process, line);
    }
  }
}
