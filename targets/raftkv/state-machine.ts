// raftkv's replicated state machine: a JSON key-value map with put, delete, cas and atomic transactions,
// plus a table of request ids so that a retried write is applied at most once.
import { executeExtension, validateExtension, type ExtensionCommand, type ExtensionResult } from './commands/index.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One micro-operation of a transaction, in Elle's shape: [f, key, value]. `add` increments a number. */
export type TransactionOperation = ['r', string, JsonValue] | ['w', string, JsonValue] | ['append', string, JsonValue] | ['add', string, JsonValue];

export type Command =
  | { op: 'put'; key: string; value: JsonValue; requestId?: string }
  | { op: 'delete'; key: string; requestId?: string }
  | { op: 'cas'; key: string; expected: JsonValue; value: JsonValue; requestId?: string }
  | { op: 'txn'; ops: TransactionOperation[]; requestId?: string }
  | ExtensionCommand;

export type CommandResult =
  | { ok: true; results?: TransactionOperation[] }
  | { ok: false; error: 'cas-mismatch'; value: JsonValue }
  | { ok: false; error: 'not-a-list' | 'not-a-number'; key: string }
  | ExtensionResult;

export interface StateMachineImage {
  data: Array<[string, JsonValue]>;
  requests: Array<[string, CommandResult]>;
}

/** Remembered request ids; the oldest are forgotten past this, bounding memory and snapshot size. */
const requestMemoryLimit = 100_000;

export class KeyValueStateMachine {
  private data = new Map<string, JsonValue>();
  private requests = new Map<string, CommandResult>();

  get(key: string): JsonValue {
    return this.data.get(key) ?? null;
  }

  get size(): number {
    return this.data.size;
  }

  apply(command: Command): CommandResult {
    if (command.requestId !== undefined) {
      const earlier = this.requests.get(command.requestId);
      if (earlier) return earlier;
    }
    const result = this.execute(command);
    if (command.requestId !== undefined) {
      this.requests.set(command.requestId, result);
      if (this.requests.size > requestMemoryLimit) {
        const oldest = this.requests.keys().next().value as string;
        this.requests.delete(oldest);
      }
    }
    return result;
  }

  private execute(command: Command): CommandResult {
    switch (command.op) {
      case 'put':
        this.data.set(command.key, command.value);
        return { ok: true };
      case 'delete':
        this.data.delete(command.key);
        return { ok: true };
      case 'cas': {
        const current = this.get(command.key);
        if (!jsonEqual(current, command.expected)) return { ok: false, error: 'cas-mismatch', value: current };
        this.data.set(command.key, command.value);
        return { ok: true };
      }
      case 'txn': {
        // Validate first so that a failing transaction changes nothing (atomicity).
        const overlay = new Map<string, JsonValue>();
        const read = (key: string) => (overlay.has(key) ? overlay.get(key)! : this.get(key));
        const results: TransactionOperation[] = [];
        for (const [f, key, value] of command.ops) {
          if (f === 'r') {
            results.push(['r', key, cloneJson(read(key))]);
          } else if (f === 'w') {
            overlay.set(key, value);
            results.push(['w', key, value]);
          } else if (f === 'add') {
            const current = read(key);
            if ((current !== null && typeof current !== 'number') || typeof value !== 'number') return { ok: false, error: 'not-a-number', key };
            const sum = ((current as number | null) ?? 0) + value;
            overlay.set(key, sum);
            results.push(['add', key, sum]);
          } else {
            const current = read(key);
            if (current !== null && !Array.isArray(current)) return { ok: false, error: 'not-a-list', key };
            overlay.set(key, [...((current as JsonValue[] | null) ?? []), value]);
            results.push(['append', key, value]);
          }
        }
        for (const [key, value] of overlay) this.data.set(key, value);
        return { ok: true, results };
      }
      default:
        return executeExtension(command, { get: (key) => this.get(key), set: (key, value) => this.data.set(key, value) });
    }
  }

  image(): StateMachineImage {
    return { data: [...this.data], requests: [...this.requests] };
  }

  restore(image: StateMachineImage | null): void {
    this.data = new Map(image?.data ?? []);
    this.requests = new Map(image?.requests ?? []);
  }
}

export function jsonEqual(left: JsonValue, right: JsonValue): boolean {
  if (left === right) return true;
  if (left === null || right === null || typeof left !== 'object' || typeof right !== 'object') return false;
  return JSON.stringify(left) === JSON.stringify(right);
}

function cloneJson(value: JsonValue): JsonValue {
  return value !== null && typeof value === 'object' ? (JSON.parse(JSON.stringify(value)) as JsonValue) : value;
}

/** Checks a decoded request body is a well-formed command; returns a reason when it is not. */
export function validateCommand(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'expected a JSON object';
  const command = value as Record<string, unknown>;
  if (command.requestId !== undefined && typeof command.requestId !== 'string') return 'requestId must be a string';
  switch (command.op) {
    case 'put':
      return typeof command.key === 'string' && command.value !== undefined ? null : 'put needs key and value';
    case 'delete':
      return typeof command.key === 'string' ? null : 'delete needs key';
    case 'cas':
      return typeof command.key === 'string' && command.expected !== undefined && command.value !== undefined ? null : 'cas needs key, expected and value';
    case 'txn': {
      if (!Array.isArray(command.ops) || command.ops.length === 0 || command.ops.length > 1000) return 'txn needs ops: 1 to 1000 [f, key, value] triples';
      for (const operation of command.ops) {
        if (!Array.isArray(operation) || operation.length !== 3 || !['r', 'w', 'append', 'add'].includes(operation[0]) || typeof operation[1] !== 'string') {
          return 'each txn op must be ["r"|"w"|"append"|"add", key (string), value]';
        }
      }
      return null;
    }
    default: {
      const problem = validateExtension(command);
      return problem === undefined ? 'op must be put, delete, cas, txn or a lock, bank or queue command' : problem;
    }
  }
}
