// Elle's list-append inference: every read of a key returns the whole list, so the longest read gives the order
// of the versions it holds; ww, wr and rw edges follow from positions in that order.
import { noArena, type Arena } from './arena.js';
import { EdgeKind, EdgeList, edgeListBytes } from './graph.js';
import { show, type Inference, type PlainLog } from './inference.js';
import { Outcome, repeatedKeys, TransactionFormatError, WriterIndex, type MicroOp, type Transactions } from './transactions.js';

interface KeyState {
  id: number;
  /** Appended value -> the transaction that appended it. */
  writers: WriterIndex;
  /** Values a transaction appended and then followed with another append of its own to this key. */
  intermediate: Set<unknown> | null;
  /** For a transaction that appended several values to this key: each value's place among them (0, 1, ...). */
  ordinal: Map<unknown, number> | null;
  longest: readonly unknown[];
  longestReader: number;
  /** Committed transactions whose appends to this key no read shows: they come after the longest read, in some order. */
  after: number[] | null;
  /**
   * Whether every read so far was a prefix of the longest read at its time (each new longest extending the
   * previous one): then every read is a prefix of the final longest, and pass 2 need not compare them again.
   */
  chained: boolean;
}

/**
 * Committed reads in the order pass 2 visits them (transaction, then micro-op), as flat arrays filled by pass 1:
 * pass 2 then never walks the history's objects again, which over a million transactions is most of its time.
 * No list is kept: a read of a chained key is the longest read's prefix of its length, and the rare read of
 * another key is looked up again in its transaction's micro-ops.
 */
class ReadTable {
  count = 0;
  txn: Int32Array;
  /** Key state id (index into the inference's key list). */
  keyId: Int32Array;
  /** Position of the read among its transaction's micro-ops. */
  position: Int32Array;
  length: Int32Array;

  constructor(
    capacity: number,
    private readonly arena: Arena,
  ) {
    const size = Math.max(16, capacity);
    this.txn = arena.int32(size);
    this.keyId = arena.int32(size);
    this.position = arena.int32(size);
    this.length = arena.int32(size);
  }

  add(txn: number, keyId: number, position: number, length: number): void {
    if (this.count === this.txn.length) {
      const capacity = Math.ceil(this.txn.length * 1.5);
      this.txn = this.arena.grownInt32(this.txn, capacity);
      this.keyId = this.arena.grownInt32(this.keyId, capacity);
      this.position = this.arena.grownInt32(this.position, capacity);
      this.length = this.arena.grownInt32(this.length, capacity);
    }
    const read = this.count++;
    this.txn[read] = txn;
    this.keyId[read] = keyId;
    this.position[read] = position;
    this.length[read] = length;
  }
}

/** Whether `short` is an element-wise (===) prefix of `long`. */
function isPrefix(short: readonly unknown[], long: readonly unknown[]): boolean {
  if (short.length > long.length) return false;
  for (let position = 0; position < short.length; position++) if (short[position] !== long[position]) return false;
  return true;
}

/** Key ids below this are found through an array slot instead of a map entry. */
const denseKeyLimit = 1 << 20;

/** Lists up to this long are searched for duplicates without a set. */
const shortListMax = 64;

/** Past this many, unread committed appenders of one key get no rw edges from full reads (a quadratic case). */
const unreadAppendersMax = 64;

const emptyList: readonly unknown[] = [];

export function readList(micro: MicroOp, transactions: Transactions, txn: number): readonly unknown[] {
  const value = micro[2];
  if (value === null || value === undefined) return emptyList;
  if (!Array.isArray(value)) {
    const op = transactions.history[transactions.completionPosition[txn]];
    throw new TransactionFormatError(op.index, `op ${op.index}: expected a list-append read to return a list, got ${show(value)}`);
  }
  return value;
}

/**
 * What inferListAppend takes from its arena, and the most edges it can make (before the rare growth past it), on
 * `count` transactions holding `microOps` micro-ops in all: at most one ww edge per append and one wr and one rw
 * edge per read, with reads counted as the ReadTable sizes them.
 */
export function listAppendNeeds(count: number, microOps: number, orderEdges: number): { bytes: number; edges: number } {
  const reads = Math.min(microOps, count + (count >> 1));
  const edges = microOps + reads + orderEdges + 1024;
  return { bytes: 16 * reads + count + edgeListBytes(edges) + 256, edges };
}

/** `orderEdges`: how many process or realtime edges the caller will add (room is made for them up front). */
export function inferListAppend(transactions: Transactions, log: PlainLog, orderEdges = 0, arena: Arena = noArena): Inference {
  const { count, outcome, ops } = transactions;
  const states = new Map<unknown, KeyState>();
  /** Small non-negative integer keys (what workloads use) by array slot: cheaper than a map lookup per micro-op. */
  const denseStates: Array<KeyState | undefined> = [];
  /** Every key's state by id. */
  const stateList: KeyState[] = [];
  const keys: unknown[] = [];
  let unreliable = false;
  const stateOf = (key: unknown): KeyState => {
    const dense = typeof key === 'number' && key >= 0 && key < denseKeyLimit && Number.isInteger(key);
    let state = dense ? denseStates[key as number] : states.get(key);
    if (!state) {
      state = { id: keys.length, writers: new WriterIndex(), intermediate: null, ordinal: null, longest: emptyList, longestReader: -1, after: null, chained: true };
      states.set(key, state);
      if (dense) {
        // Fill holes so the array stays packed.
        while (denseStates.length < (key as number)) denseStates.push(undefined);
        denseStates[key as number] = state;
      }
      stateList.push(state);
      keys.push(key);
    }
    return state;
  };
  // Elle-style workloads read about 1.3 keys per transaction: room for 1.5 avoids copies (and their garbage).
  const reads = new ReadTable(count + (count >> 1), arena);
  let appendCount = 0;

  // Each pass is a function of its own: V8 then optimizes each loop by itself, instead of recompiling one huge
  // function (and falling back to the interpreter) every time its next pass is reached.
  const scanTransactions = (): void => {
    // Pass 1: who appended what, the longest read of every key, and each transaction's own consistency.
    for (let txn = 0; txn < count; txn++) {
      const micros = ops[txn];
      const committed = outcome[txn] === Outcome.ok;
      const repeated = repeatedKeys(micros);
      /** Appends so far per repeated key: a value's place among its transaction's appends to the key. */
      const appendsSoFar = repeated ? new Map<unknown, number>() : null;
      for (let position = 0; position < micros.length; position++) {
        const micro = micros[position];
        const state = stateOf(micro[1]);
        if (micro[0] === 'append') {
          const value = micro[2];
          const previous = state.writers.get(value);
          if (previous !== undefined) {
            unreliable = true;
            log.add('duplicate-write', () => ({
              type: 'duplicate-write', txn, writer: previous, key: micro[1], value,
              explanation: `${show(value)} was appended to key ${show(micro[1])} twice; list-append needs unique values`,
            }));
            continue;
          }
          state.writers.set(value, txn);
          appendCount++;
          const writes = repeated?.get(micro[1])?.writes ?? 1;
          if (appendsSoFar && writes > 1) {
            const ordinal = appendsSoFar.get(micro[1]) ?? 0;
            appendsSoFar.set(micro[1], ordinal + 1);
            if (ordinal > 0) (state.ordinal ??= new Map()).set(value, ordinal);
            if (ordinal < writes - 1) (state.intermediate ??= new Set()).add(value);
          }
        } else if (micro[0] === 'r' && committed) {
          const list = readList(micro, transactions, txn);
          const longest = state.longest;
          if (list.length > longest.length) {
            if (state.chained && !isPrefix(longest, list)) state.chained = false;
            state.longest = list;
            state.longestReader = txn;
          } else if (state.chained && list !== longest && !isPrefix(list, longest)) {
            state.chained = false;
          }
          reads.add(txn, state.id, position, list.length);
        }
      }
      if (committed && repeated) checkInternal(txn, micros, repeated, transactions, log);
    }
  };
  scanTransactions();

  // At most one ww edge per append and one wr and one rw edge per read, but for the rare unread appenders (which
  // grow the list): within listAppendNeeds' bound, so it comes from the arena's reservation.
  const edges = new EdgeList(appendCount + 2 * reads.count + orderEdges + 1024, arena);
  const usable = (writer: number | undefined): writer is number => writer !== undefined && outcome[writer] !== Outcome.fail;

  /** Info transactions some read shows: they committed. */
  const observed = arena.uint8(count);
  /** The values of each key's longest read, for the keys with appends that read does not show. */
  const inLongest = new Map<KeyState, Set<unknown>>();
  const orderVersions = (): void => {
    // Pass 2a: each key's version order, from its longest read.
    for (const [key, state] of states) {
      const list = state.longest;
      if (list.length === 0) continue;
      // Short lists (the usual case: keys retire after a few dozen appends) find duplicates by scanning back,
      // which allocates nothing; a set per key would be tens of megabytes of garbage over a million transactions.
      const seen = list.length > shortListMax ? new Set<unknown>(list) : null;
      if (seen && seen.size !== list.length) reportDuplicates(list, key, state.longestReader, log);
      if (!seen) {
        for (let position = 1; position < list.length; position++) {
          if (list.lastIndexOf(list[position], position - 1) < 0) continue;
          const value = list[position];
          log.add('duplicate-elements', () => ({
            type: 'duplicate-elements', txn: state.longestReader, key, value, read: list,
            explanation: `a read of key ${show(key)} holds ${show(value)} more than once: ${show(list)}`,
          }));
        }
      }
      let readWithWriter = 0;
      let failedAt = -1;
      let previousWriter = -1;
      /** How many of each multi-append writer's values the scan has passed: they must come in its own order. */
      const passed = state.ordinal ? new Map<number, number>() : null;
      for (let position = 0; position < list.length; position++) {
        const value = list[position];
        const writer = state.writers.get(value);
        if (writer === undefined) {
          log.add('garbage-read', () => ({
            type: 'garbage-read', txn: state.longestReader, key, value, read: list,
            explanation: `key ${show(key)} was read holding ${show(value)}, which no transaction appended`,
          }));
          // The neighbours' order is still known: the chain of ww edges skips the bad element.
          continue;
        }
        if (outcome[writer] === Outcome.fail) {
          log.add('G1a', () => ({
            type: 'G1a', txn: state.longestReader, writer, key, value, read: list,
            explanation: `key ${show(key)} was read holding ${show(value)}, appended by a transaction that failed`,
          }));
          failedAt = position;
          continue;
        }
        if (failedAt >= 0 && failedAt === position - 1) {
          const failedValue = list[failedAt];
          const failedWriter = state.writers.get(failedValue) as number;
          log.add('dirty-update', () => ({
            type: 'dirty-update', txn: writer, writer: failedWriter, key, value,
            explanation: `${show(value)} was appended to key ${show(key)} on top of ${show(failedValue)}, whose transaction failed`,
          }));
        }
        observed[writer] = 1;
        readWithWriter++;
        if (passed) {
          const ordinal = state.ordinal?.get(value) ?? 0;
          const expected = passed.get(writer) ?? 0;
          if (ordinal !== expected) {
            log.add('incompatible-order', () => ({
              type: 'incompatible-order', txn: state.longestReader, writer, key, value, read: list,
              explanation: `key ${show(key)} was read as ${show(list)}: ${show(value)} does not follow its transaction's earlier appends to the key in its own order`,
            }));
          }
          passed.set(writer, Math.max(expected, ordinal + 1));
        }
        if (previousWriter >= 0 && previousWriter !== writer) edges.add(previousWriter, writer, EdgeKind.ww, state.id);
        previousWriter = writer;
      }
      // Only keys with appends no read shows need the set again (pass 2a').
      if (state.writers.size > readWithWriter) inLongest.set(state, seen ?? new Set(list));
    }
  };
  orderVersions();

  const notes: string[] = [];
  const placeUnreadAppends = (): void => {
    // Pass 2a': a committed append no read shows still comes after every version the longest read holds.
    for (const state of states.values()) {
      const seen = inLongest.get(state);
      if (!seen && state.longest.length > 0) continue; // every append to the key was read
      const lastWriter = state.longest.length > 0 ? state.writers.get(state.longest[state.longest.length - 1]) : undefined;
      state.writers.forEach((value, writer) => {
        if (seen?.has(value) || !(outcome[writer] === Outcome.ok || observed[writer] === 1)) return;
        if (usable(lastWriter) && lastWriter !== writer) edges.add(lastWriter, writer, EdgeKind.ww, state.id);
        const after = (state.after ??= []);
        if (after[after.length - 1] !== writer) after.push(writer);
      });
      if (state.after && state.after.length > unreadAppendersMax) {
        notes.push(`key ${show(keys[state.id])}: ${state.after.length} committed transactions appended values no read shows; their rw edges were left out`);
        state.after = null;
      }
    }
  };
  placeUnreadAppends();

  /** A read's micro-op, looked up again only off the fast path. */
  const microOf = (read: number): MicroOp => ops[reads.txn[read]][reads.position[read]];
  const addReadEdges = (): void => {
    // Pass 2b: every committed read gives a wr edge (from the writer of its last element) and an rw edge (to the
    // writer of the next element in the version order).
    for (let read = 0; read < reads.count; read++) {
      const txn = reads.txn[read];
      const state = stateList[reads.keyId[read]];
      const length = reads.length[read];
      const longest = state.longest;
      let compatible = state.chained;
      /** The list read: on a chained key, the longest read's prefix of its length. */
      let last: unknown = length > 0 ? longest[length - 1] : undefined;
      if (!compatible) {
        const list = readList(microOf(read), transactions, txn);
        if (length > 0) last = list[length - 1];
        compatible = list === longest;
        if (!compatible) {
          compatible = true;
          for (let position = 0; position < list.length; position++) {
            if (list[position] !== longest[position]) {
              compatible = false;
              break;
            }
          }
        }
        if (!compatible) {
          const key = microOf(read)[1];
          log.add('incompatible-order', () => ({
            type: 'incompatible-order', txn, key, read: list, expected: longest,
            explanation: `key ${show(key)} was read as ${show(list)}, not a prefix of another read ${show(longest)}`,
          }));
          checkOwnList(txn, key, list, state.writers, outcome, log);
        }
      }
      if (length > 0) {
        const writer = state.writers.get(last);
        if (usable(writer) && writer !== txn) {
          edges.add(writer, txn, EdgeKind.wr, state.id);
          if (state.intermediate?.has(last)) {
            const key = microOf(read)[1];
            const list = readList(microOf(read), transactions, txn);
            log.add('G1b', () => ({
              type: 'G1b', txn, writer, key, value: last, read: list,
              explanation: `key ${show(key)} was read ending in ${show(last)}, which its transaction followed with another append`,
            }));
          }
        }
      }
      if (compatible) {
        // The next committed version after what was read (skipping garbage and aborted elements).
        let found = false;
        for (let position = length; position < longest.length && !found; position++) {
          const next = longest[position];
          const writer = state.writers.get(next);
          if (!usable(writer)) continue;
          if (writer !== txn) edges.add(txn, writer, EdgeKind.rw, state.id);
          found = true;
        }
        // Read everything any read shows: each unread committed append overwrote what this one saw.
        if (!found && state.after) {
          for (const writer of state.after) if (writer !== txn) edges.add(txn, writer, EdgeKind.rw, state.id);
        }
      }
    }
  };
  addReadEdges();

  return {
    edges,
    keys,
    notes,
    unreliable,
    explain(kind, from, to, keyId, name) {
      const key = keys[keyId];
      const state = states.get(key) as KeyState;
      return explainEdge(kind, from, to, key, state.longest, state.writers, ops, name);
    },
  };
}

/** A data edge of list-append in words: the value behind it and one sentence (shared with the test reference). */
export function explainEdge(
  kind: number,
  from: number,
  to: number,
  key: unknown,
  longest: readonly unknown[],
  writers: WriterIndex,
  ops: ReadonlyArray<readonly MicroOp[]>,
  name: (txn: number) => string,
): { value: unknown; text: string } {
  const keyText = show(key);
  if (kind === EdgeKind.wr) {
    // The reader's read of the key whose last element the writer appended.
    const value = lastReadBy(ops[to], key, (last) => writers.get(last) === from);
    return { value, text: `${name(to)} read key ${keyText} ending in ${show(value)}, which ${name(from)} appended` };
  }
  const value = firstAppend(ops[to], key);
  const where = longest.includes(value) ? 'next' : 'after every version any read shows';
  if (kind === EdgeKind.ww) {
    const before = lastAppend(ops[from], key);
    return { value, text: `${name(from)} appended ${show(before)} to key ${keyText}; ${name(to)} appended ${show(value)} ${where}` };
  }
  return { value, text: `${name(from)} read key ${keyText} without ${show(value)}, which ${name(to)} appended ${where}` };
}

export function reportDuplicates(list: readonly unknown[], key: unknown, reader: number, log: PlainLog): void {
  const seen = new Set<unknown>();
  for (const value of list) {
    if (seen.has(value)) {
      log.add('duplicate-elements', () => ({
        type: 'duplicate-elements', txn: reader, key, value, read: list,
        explanation: `a read of key ${show(key)} holds ${show(value)} more than once: ${show(list)}`,
      }));
    }
    seen.add(value);
  }
}

function lastAppend(micros: readonly MicroOp[], key: unknown): unknown {
  let value: unknown = null;
  for (const micro of micros) if (micro[0] === 'append' && micro[1] === key) value = micro[2];
  return value;
}

/** The last element of the first read of `key` whose last element satisfies `wanted`. */
function lastReadBy(micros: readonly MicroOp[], key: unknown, wanted: (last: unknown) => boolean): unknown {
  for (const micro of micros) {
    if (micro[0] !== 'r' || micro[1] !== key || !Array.isArray(micro[2]) || micro[2].length === 0) continue;
    const last = micro[2][micro[2].length - 1];
    if (wanted(last)) return last;
  }
  return null;
}

function firstAppend(micros: readonly MicroOp[], key: unknown): unknown {
  for (const micro of micros) if (micro[0] === 'append' && micro[1] === key) return micro[2];
  return null;
}

/** An incompatible read is not covered by the checks of the longest read: look at its elements too. */
export function checkOwnList(txn: number, key: unknown, list: readonly unknown[], writers: WriterIndex, outcome: Uint8Array, log: PlainLog): void {
  const seen = new Set<unknown>();
  for (const value of list) {
    if (seen.has(value)) {
      log.add('duplicate-elements', () => ({
        type: 'duplicate-elements', txn, key, value, read: list,
        explanation: `a read of key ${show(key)} holds ${show(value)} more than once: ${show(list)}`,
      }));
    }
    seen.add(value);
    const writer = writers.get(value);
    if (writer === undefined) {
      log.add('garbage-read', () => ({
        type: 'garbage-read', txn, key, value, read: list,
        explanation: `key ${show(key)} was read holding ${show(value)}, which no transaction appended`,
      }));
    } else if (outcome[writer] === Outcome.fail) {
      log.add('G1a', () => ({
        type: 'G1a', txn, writer, key, value, read: list,
        explanation: `key ${show(key)} was read holding ${show(value)}, appended by a transaction that failed`,
      }));
    }
  }
}

/**
 * A transaction must see its own appends and its own earlier reads: after reading L and appending v, a read
 * must return L+[v]; after appending without reading, a read must end with what it appended.
 */
export function checkInternal(txn: number, micros: readonly MicroOp[], repeated: ReadonlyMap<unknown, unknown>, transactions: Transactions, log: PlainLog): void {
  const known = new Map<unknown, { list: unknown[] | null; suffix: unknown[] }>();
  for (let position = 0; position < micros.length; position++) {
    const micro = micros[position];
    const key = micro[1];
    if (!repeated.has(key)) continue; // a key touched once cannot contradict the transaction
    let state = known.get(key);
    if (micro[0] === 'append') {
      if (!state) known.set(key, (state = { list: null, suffix: [] }));
      if (state.list) state.list.push(micro[2]);
      else state.suffix.push(micro[2]);
      continue;
    }
    if (micro[0] !== 'r') continue;
    const list = readList(micro, transactions, txn);
    for (let later = position + 1; later < micros.length; later++) {
      const future = micros[later];
      if (future[0] === 'append' && future[1] === key && list.includes(future[2])) {
        log.add('future-read', () => ({
          type: 'future-read', txn, key, value: future[2], read: list,
          explanation: `the transaction read key ${show(key)} as ${show(list)}, holding ${show(future[2])} which it appended only afterwards`,
        }));
      }
    }
    if (state) {
      let expected: unknown;
      let consistent: boolean;
      if (state.list) {
        expected = state.list;
        consistent = list.length === state.list.length && state.list.every((value, position) => list[position] === value);
      } else {
        const suffix = state.suffix;
        expected = ['...', ...suffix];
        const offset = list.length - suffix.length;
        consistent = offset >= 0 && suffix.every((value, position) => list[offset + position] === value);
      }
      if (!consistent) {
        log.add('internal', () => ({
          type: 'internal', txn, key, read: list, expected,
          explanation: `the transaction read key ${show(key)} as ${show(list)} after its own reads and appends implied ${show(expected)}`,
        }));
      }
    }
    known.set(key, { list: [...list], suffix: [] });
  }
}
