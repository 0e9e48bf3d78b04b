// The list-append inference as it was before its speed work (two passes over the micro-ops, every read compared
// with the longest): kept for tests only, which check that the optimized inference in ../list-append.ts finds the
// same edges and anomalies, in the same order. The helpers the two share (internal consistency, duplicates,
// explanations) are imported from it: only the inference's core is the old one.
import { EdgeKind, EdgeList } from '../graph.js';
import { show, type Inference, type PlainLog } from '../inference.js';
import { checkInternal, checkOwnList, explainEdge, readList, reportDuplicates } from '../list-append.js';
import { Outcome, repeatedKeys, WriterIndex, type Transactions } from '../transactions.js';

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
}

/** Lists up to this long are searched for duplicates without a set. */
const shortListMax = 64;

/** Past this many, unread committed appenders of one key get no rw edges from full reads (a quadratic case). */
const unreadAppendersMax = 64;

const emptyList: readonly unknown[] = [];

export function inferListAppendReference(transactions: Transactions, log: PlainLog): Inference {
  const { count, outcome, ops } = transactions;
  const states = new Map<unknown, KeyState>();
  const keys: unknown[] = [];
  let unreliable = false;
  const stateOf = (key: unknown): KeyState => {
    let state = states.get(key);
    if (!state) {
      state = { id: keys.length, writers: new WriterIndex(), intermediate: null, ordinal: null, longest: emptyList, longestReader: -1, after: null };
      states.set(key, state);
      keys.push(key);
    }
    return state;
  };

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
        const writes = repeated?.get(micro[1])?.writes ?? 1;
        if (appendsSoFar && writes > 1) {
          const ordinal = appendsSoFar.get(micro[1]) ?? 0;
          appendsSoFar.set(micro[1], ordinal + 1);
          if (ordinal > 0) (state.ordinal ??= new Map()).set(value, ordinal);
          if (ordinal < writes - 1) (state.intermediate ??= new Set()).add(value);
        }
      } else if (micro[0] === 'r' && committed) {
        const list = readList(micro, transactions, txn);
        if (list.length > state.longest.length) {
          state.longest = list;
          state.longestReader = txn;
        }
      }
    }
    if (committed && repeated) checkInternal(txn, micros, repeated, transactions, log);
  }

  // About one ww, wr and rw edge per micro-op, and three realtime edges per transaction when asked for.
  const edges = new EdgeList(count * 7);
  const usable = (writer: number | undefined): writer is number => writer !== undefined && outcome[writer] !== Outcome.fail;

  // Pass 2a: each key's version order, from its longest read.
  /** Info transactions some read shows: they committed. */
  const observed = new Uint8Array(count);
  const inLongest = new Map<KeyState, Set<unknown>>();
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

  // Pass 2a': a committed append no read shows still comes after every version the longest read holds.
  const notes: string[] = [];
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

  // Pass 2b: every committed read gives a wr edge (from the writer of its last element) and an rw edge (to the
  // writer of the next element in the version order).
  for (let txn = 0; txn < count; txn++) {
    if (outcome[txn] !== Outcome.ok) continue;
    const micros = ops[txn];
    for (const micro of micros) {
      if (micro[0] !== 'r') continue;
      const state = states.get(micro[1]) as KeyState;
      const list = readList(micro, transactions, txn);
      const longest = state.longest;
      let compatible = list === longest;
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
        log.add('incompatible-order', () => ({
          type: 'incompatible-order', txn, key: micro[1], read: list, expected: longest,
          explanation: `key ${show(micro[1])} was read as ${show(list)}, not a prefix of another read ${show(longest)}`,
        }));
        checkOwnList(txn, micro[1], list, state.writers, outcome, log);
      }
      if (list.length > 0) {
        const last = list[list.length - 1];
        const writer = state.writers.get(last);
        if (usable(writer) && writer !== txn) {
          edges.add(writer, txn, EdgeKind.wr, state.id);
          if (state.intermediate?.has(last)) {
            log.add('G1b', () => ({
              type: 'G1b', txn, writer, key: micro[1], value: last, read: list,
              explanation: `key ${show(micro[1])} was read ending in ${show(last)}, which its transaction followed with another append`,
            }));
          }
        }
      }
      if (compatible) {
        // The next committed version after what was read (skipping garbage and aborted elements).
        let found = false;
        for (let position = list.length; position < longest.length && !found; position++) {
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
  }

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

