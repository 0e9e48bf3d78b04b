// Sequential specifications (models) the linearizability engine checks histories against.
import type { Key, Op } from '../../src/history/types.js';

/**
 * One operation as the model sees it: `value` is the completion's value when the outcome is known
 * (`ok`), otherwise the invocation's value (`info`: the result was never seen).
 */
export interface ModelOp {
  f: string;
  value: unknown;
  outcome: 'ok' | 'info';
}

/**
 * A sequential specification. `init` and `step` are required; the rest are optional and either
 * describe the model (hash, equal, describe) or let the engine prune its search (readOnly, blind,
 * precondition). Every optional hint must be true of `step`, or the engine's verdicts are wrong.
 */
export interface Model<State = unknown> {
  readonly name: string;
  /** The state every (independent) key starts in. */
  init(key: Key): State;
  /** The state after `op`, or undefined when `op` cannot happen in `state`. Never mutates `state`. */
  step(state: State, op: ModelOp): State | undefined;
  /** Equality of states; defaults to equality of `hash`. */
  equal?(a: State, b: State): boolean;
  /** A string that is equal exactly when states are equal; defaults to canonical JSON. */
  hash?(state: State): string;
  /** Splits one key's ops into independent sub-histories (beyond op.key); default: one. */
  partition?(ops: readonly Op[]): Op[][];
  /** Human-readable state, for counterexamples. */
  describe?(state: State): string;
  /** Human-readable op, for counterexamples. */
  describeOp?(op: ModelOp): string;
  /** True when `op`, whenever it is legal, leaves the state unchanged (a read). */
  readOnly?(op: ModelOp): boolean;
  /** True when `op` is legal in every state and its result does not depend on the state (a write). */
  blind?(op: ModelOp): boolean;
  /** True when `op` is legal in every state (an append, an add, an enqueue; blind ops are). */
  total?(op: ModelOp): boolean;
  /**
   * When `op` is legal in exactly one state (a read of v, a cas expecting v), that state; otherwise
   * undefined. Lets the engine look up, instead of try, the ops that could enable it.
   */
  precondition?(op: ModelOp): { state: State } | undefined;
  /**
   * False only when no sequence of non-blind ops can lead from `from` to `to` (an append-only string
   * never loses its prefix; a grow-only set never loses an element). Lets the engine drop, early, a
   * configuration in which a pending read can no longer be satisfied.
   */
  reachable?(from: State, to: State): boolean;
}

export interface ModelOptions {
  initial?: unknown;
  /** Knossos' rule: a read that completed with nil (null) matches any state. */
  nilReadsAny?: boolean;
}

/** Canonical JSON: object keys sorted, undefined as null; equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'number':
    case 'boolean':
      return String(value);
    case 'string':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    default:
      break;
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return '{' + keys.map((key) => JSON.stringify(key) + ':' + canonicalJson(record[key])).join(',') + '}';
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  return canonicalJson(a) === canonicalJson(b);
}

function show(value: unknown): string {
  return value === undefined ? 'null' : canonicalJson(value);
}

function describeGenericOp(op: ModelOp): string {
  return `${op.f} ${show(op.value)}${op.outcome === 'info' ? ' (info)' : ''}`;
}

function isPair(value: unknown): value is [unknown, unknown] {
  return Array.isArray(value) && value.length === 2;
}

/** Registers: read / write, plus cas [expected, new] when `withCas`. */
function registerModel(name: string, withCas: boolean, options: ModelOptions): Model<unknown> {
  const initial = options.initial === undefined ? null : options.initial;
  const nilReadsAny = options.nilReadsAny === true;
  const readIsFree = (op: ModelOp): boolean =>
    op.outcome === 'info' || (nilReadsAny && (op.value === null || op.value === undefined));
  return {
    name,
    init: () => initial,
    step(state, op) {
      switch (op.f) {
        case 'read':
          return readIsFree(op) || sameValue(state, op.value) ? state : undefined;
        case 'write':
          return op.value ?? null;
        case 'cas':
          if (!withCas || !isPair(op.value)) return undefined;
          return sameValue(state, op.value[0]) ? (op.value[1] ?? null) : undefined;
        default:
          return undefined;
      }
    },
    hash: canonicalJson,
    describe: show,
    describeOp(op) {
      if (op.f === 'cas' && isPair(op.value)) return `cas ${show(op.value[0])}→${show(op.value[1])}${op.outcome === 'info' ? ' (info)' : ''}`;
      if (op.f === 'read') return op.outcome === 'info' ? 'read (info)' : `read → ${show(op.value)}`;
      return describeGenericOp(op);
    },
    readOnly: (op) => op.f === 'read',
    blind: (op) => op.f === 'write',
    precondition(op) {
      if (op.f === 'read') return readIsFree(op) ? undefined : { state: op.value ?? null };
      if (op.f === 'cas' && withCas && isPair(op.value)) return { state: op.value[0] ?? null };
      return undefined;
    },
  };
}

type MicroOp = [string, string, unknown];

function microOps(value: unknown): MicroOp[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const micro of value) if (!Array.isArray(micro) || micro.length < 2) return undefined;
  return value as MicroOp[];
}

/** Knossos' multi-register: `txn` of [read k v] / [write k v] micro-ops over named registers. */
function multiRegisterModel(options: ModelOptions): Model<Record<string, unknown>> {
  const initial = (options.initial ?? {}) as Record<string, unknown>;
  const nilReadsAny = options.nilReadsAny === true;
  return {
    name: 'multi-register',
    init: () => initial,
    step(state, op) {
      if (op.f !== 'txn') return undefined;
      const micros = microOps(op.value);
      if (!micros) return undefined;
      let next: Record<string, unknown> | undefined;
      for (const [f, register, value] of micros) {
        const current = (next ?? state)[register] ?? null;
        if (f === 'read') {
          const free = op.outcome === 'info' || (nilReadsAny && (value === null || value === undefined));
          if (!free && !sameValue(current, value)) return undefined;
        } else if (f === 'write') {
          next ??= { ...state };
          next[register] = value ?? null;
        } else {
          return undefined;
        }
      }
      return next ?? state;
    },
    hash: canonicalJson,
    describe: canonicalJson,
    describeOp(op) {
      const micros = microOps(op.value) ?? [];
      const body = micros.map(([f, register, value]) => `${f} ${register} ${show(value)}`).join(', ');
      return `txn [${body}]${op.outcome === 'info' ? ' (info)' : ''}`;
    },
    readOnly: (op) => op.f === 'txn' && (microOps(op.value) ?? []).every(([f]) => f === 'read'),
  };
}

/** Porcupine's kv (one key per independent sub-history): get / put / append on strings. */
function kvAppendModel(options: ModelOptions): Model<string> {
  const initial = typeof options.initial === 'string' ? options.initial : '';
  const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
  return {
    name: 'kv-append',
    init: () => initial,
    step(state, op) {
      switch (op.f) {
        case 'get':
          return op.outcome === 'info' || state === text(op.value) ? state : undefined;
        case 'put':
          return text(op.value);
        case 'append':
          return state + text(op.value);
        default:
          return undefined;
      }
    },
    hash: (state) => state,
    describe: (state) => JSON.stringify(state),
    describeOp(op) {
      if (op.f === 'get') return op.outcome === 'info' ? 'get (info)' : `get → ${JSON.stringify(text(op.value))}`;
      return `${op.f} ${JSON.stringify(text(op.value))}${op.outcome === 'info' ? ' (info)' : ''}`;
    },
    readOnly: (op) => op.f === 'get',
    blind: (op) => op.f === 'put',
    total: (op) => op.f === 'put' || op.f === 'append',
    precondition: (op) => (op.f === 'get' && op.outcome === 'ok' ? { state: text(op.value) } : undefined),
    reachable: (from, to) => to.startsWith(from),
  };
}

/** A grow-only set: add v / read → all elements. State: sorted canonical JSON of the elements. */
function setModel(options: ModelOptions): Model<readonly string[]> {
  const initial = Array.isArray(options.initial) ? [...new Set(options.initial.map(canonicalJson))].sort() : [];
  const elementsOf = (value: unknown): string[] | undefined =>
    Array.isArray(value) ? [...new Set(value.map(canonicalJson))].sort() : undefined;
  return {
    name: 'set',
    init: () => initial,
    step(state, op) {
      if (op.f === 'add') {
        const element = canonicalJson(op.value);
        if (state.includes(element)) return state;
        return [...state, element].sort();
      }
      if (op.f === 'read') {
        if (op.outcome === 'info') return state;
        const read = elementsOf(op.value);
        if (!read || read.length !== state.length) return undefined;
        for (let i = 0; i < read.length; i++) if (read[i] !== state[i]) return undefined;
        return state;
      }
      return undefined;
    },
    hash: (state) => state.join('\u0000'),
    describe: (state) => '#{' + state.join(' ') + '}',
    describeOp: describeGenericOp,
    readOnly: (op) => op.f === 'read',
    total: (op) => op.f === 'add',
    precondition(op) {
      if (op.f !== 'read' || op.outcome === 'info') return undefined;
      const read = elementsOf(op.value);
      return read ? { state: read } : undefined;
    },
    reachable: (from, to) => from.every((element) => to.includes(element)),
  };
}

/** A FIFO queue: enqueue v / dequeue → v (null when empty). State: canonical JSON of the elements. */
function fifoQueueModel(options: ModelOptions): Model<readonly string[]> {
  const initial = Array.isArray(options.initial) ? options.initial.map(canonicalJson) : [];
  return {
    name: 'fifo-queue',
    init: () => initial,
    step(state, op) {
      if (op.f === 'enqueue') return [...state, canonicalJson(op.value)];
      if (op.f === 'dequeue') {
        // An info dequeue has no known result: it took the head (or found the queue empty, a no-op).
        if (op.outcome === 'info') return state.length > 0 ? state.slice(1) : state;
        if (op.value === null || op.value === undefined) return state.length === 0 ? state : undefined;
        return state.length > 0 && state[0] === canonicalJson(op.value) ? state.slice(1) : undefined;
      }
      return undefined;
    },
    hash: (state) => state.join('\u0000'),
    describe: (state) => '[' + state.join(' ') + ']',
    describeOp(op) {
      if (op.f === 'dequeue') return op.outcome === 'info' ? 'dequeue (info)' : `dequeue → ${show(op.value)}`;
      return describeGenericOp(op);
    },
    readOnly: (op) => op.f === 'dequeue' && op.outcome === 'ok' && (op.value === null || op.value === undefined),
    total: (op) => op.f === 'enqueue',
    precondition: (op) =>
      op.f === 'dequeue' && op.outcome === 'ok' && (op.value === null || op.value === undefined) ? { state: [] } : undefined,
  };
}

type MutexState = 'free' | 'held';

/** Knossos' mutex: acquire succeeds only when free, release only when held. */
function mutexModel(options: ModelOptions): Model<MutexState> {
  const initial: MutexState = options.initial === 'held' || options.initial === true ? 'held' : 'free';
  return {
    name: 'mutex',
    init: () => initial,
    step(state, op) {
      if (op.f === 'acquire') return state === 'free' ? 'held' : undefined;
      if (op.f === 'release') return state === 'held' ? 'free' : undefined;
      return undefined;
    },
    hash: (state) => state,
    describe: (state) => state,
    describeOp: (op) => op.f + (op.outcome === 'info' ? ' (info)' : ''),
    precondition(op) {
      if (op.f === 'acquire') return { state: 'free' };
      if (op.f === 'release') return { state: 'held' };
      return undefined;
    },
  };
}

const factories: Record<string, (options: ModelOptions) => Model<any>> = {
  register: (options) => registerModel('register', false, options),
  'cas-register': (options) => registerModel('cas-register', true, options),
  'multi-register': multiRegisterModel,
  'kv-append': kvAppendModel,
  set: setModel,
  'fifo-queue': fifoQueueModel,
  mutex: mutexModel,
};

export const modelNames: readonly string[] = Object.freeze(Object.keys(factories));

/** The named model; throws an Error naming the valid models when `name` is not one. */
export function getModel(name: string, options: ModelOptions = {}): Model {
  const factory = factories[name];
  if (!factory) throw new Error(`unknown model "${name}"; expected one of: ${modelNames.join(', ')}`);
  return factory(options);
}
