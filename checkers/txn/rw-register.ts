// Elle's rw-register inference, weaker than list-append's: a read shows only one version, so the version order is
// known only where a transaction read a version and then wrote the key (its write comes right after what it read).
import { noArena, type Arena } from './arena.js';
import { EdgeKind, EdgeList, edgeListBytes } from './graph.js';
import { show, type Inference, type PlainLog } from './inference.js';
import { Outcome, repeatedKeys, type MicroOp, type Transactions } from './transactions.js';

/** The version every key starts at; reads of null see it. */
const initial = Symbol('initial');

interface KeyState {
  id: number;
  writers: Map<unknown, number>;
  intermediate: Set<unknown> | null;
  /** Version -> the committed transactions that read it and then wrote the key (their final write follows it). */
  successors: Map<unknown, number[]>;
}

/** A committed transaction's view of one key as it runs: what it read first, what it wrote last. */
interface OwnView {
  externalRead: unknown;
  hasExternalRead: boolean;
  lastWrite: unknown;
  hasWrite: boolean;
}

/** What inferRwRegister takes from its arena on `count` transactions, and the edges it makes room for. */
export function rwRegisterNeeds(count: number): { bytes: number; edges: number } {
  return { bytes: edgeListBytes(count * 7), edges: count * 7 };
}

/** `_orderEdges`: room for order edges is part of its estimate already (three per transaction). */
export function inferRwRegister(transactions: Transactions, log: PlainLog, _orderEdges = 0, arena: Arena = noArena): Inference {
  const { count, outcome, ops } = transactions;
  const states = new Map<unknown, KeyState>();
  const keys: unknown[] = [];
  let unreliable = false;
  const stateOf = (key: unknown): KeyState => {
    let state = states.get(key);
    if (!state) {
      state = { id: keys.length, writers: new Map(), intermediate: null, successors: new Map() };
      states.set(key, state);
      keys.push(key);
    }
    return state;
  };
  const versionOf = (value: unknown): unknown => (value === null || value === undefined ? initial : value);

  // Pass 1: writers, intermediate writes, internal consistency, and which versions committed writes follow.
  for (let txn = 0; txn < count; txn++) {
    const micros = ops[txn];
    const committed = outcome[txn] === Outcome.ok;
    const repeated = repeatedKeys(micros);
    const writesSoFar = repeated ? new Map<unknown, number>() : null;
    // Only a key touched twice can show a read-then-write order or an internal contradiction.
    const views = committed && repeated ? new Map<unknown, OwnView>() : null;
    for (let position = 0; position < micros.length; position++) {
      const micro = micros[position];
      const key = micro[1];
      const state = stateOf(key);
      if (micro[0] === 'w' || micro[0] === 'append') {
        const value = micro[2];
        const previous = state.writers.get(value);
        if (previous !== undefined) {
          unreliable = true;
          log.add('duplicate-write', () => ({
            type: 'duplicate-write', txn, writer: previous, key, value,
            explanation: `${show(value)} was written to key ${show(key)} twice; rw-register needs unique values`,
          }));
        } else {
          state.writers.set(value, txn);
        }
        const writes = repeated?.get(key)?.writes ?? 1;
        if (writesSoFar && writes > 1) {
          const ordinal = writesSoFar.get(key) ?? 0;
          writesSoFar.set(key, ordinal + 1);
          if (ordinal < writes - 1) (state.intermediate ??= new Set()).add(value);
        }
      }
      if (!views || !repeated?.has(key)) continue;
      let view = views.get(key);
      if (!view) views.set(key, (view = { externalRead: undefined, hasExternalRead: false, lastWrite: undefined, hasWrite: false }));
      if (micro[0] === 'r') {
        const read = micro[2] ?? null;
        const expected = view.hasWrite ? view.lastWrite : view.hasExternalRead ? view.externalRead : undefined;
        if (expected !== undefined && expected !== read) {
          log.add('internal', () => ({
            type: 'internal', txn, key, read, expected,
            explanation: `the transaction read key ${show(key)} as ${show(read)} after its own reads and writes implied ${show(expected)}`,
          }));
        }
        for (let later = position + 1; later < micros.length; later++) {
          const future = micros[later];
          if (future[0] !== 'r' && future[1] === key && future[2] === read) {
            log.add('future-read', () => ({
              type: 'future-read', txn, key, value: read,
              explanation: `the transaction read key ${show(key)} as ${show(read)}, which it wrote only afterwards`,
            }));
          }
        }
        if (!view.hasWrite && !view.hasExternalRead) {
          view.externalRead = read;
          view.hasExternalRead = true;
        }
      } else {
        view.lastWrite = micro[2];
        view.hasWrite = true;
      }
    }
    if (!views) {
      // A one-op transaction reads or writes, never both: no version order from it.
      continue;
    }
    for (const [key, view] of views) {
      if (!view.hasExternalRead || !view.hasWrite) continue;
      const state = states.get(key) as KeyState;
      const version = versionOf(view.externalRead);
      let list = state.successors.get(version);
      if (!list) state.successors.set(version, (list = []));
      list.push(txn);
    }
  }

  // About one ww, wr and rw edge per micro-op, and three realtime edges per transaction when asked for.
  const edges = new EdgeList(count * 7, arena);
  const usable = (writer: number | undefined): writer is number => writer !== undefined && outcome[writer] !== Outcome.fail;

  // ww: a version's writer precedes each transaction that read it and wrote next. Two of them: a lost update.
  for (const [key, state] of states) {
    for (const [version, followers] of state.successors) {
      if (followers.length > 1) {
        log.add('lost-update', () => ({
          type: 'lost-update', txn: followers[1], writer: followers[0], key, value: version === initial ? null : version,
          explanation: `${followers.length} committed transactions read key ${show(key)} = ${show(version === initial ? null : version)} and each wrote it`,
        }));
      }
      if (version === initial) continue;
      const writer = state.writers.get(version);
      if (!usable(writer)) continue;
      for (const follower of followers) {
        if (follower !== writer) edges.add(writer, follower, EdgeKind.ww, state.id);
      }
    }
  }

  // wr and rw from every committed transaction's first read of each key (later reads are its own business).
  for (let txn = 0; txn < count; txn++) {
    if (outcome[txn] !== Outcome.ok) continue;
    const micros = ops[txn];
    const repeated = repeatedKeys(micros);
    const touched = repeated ? new Set<unknown>() : null;
    for (let position = 0; position < micros.length; position++) {
      const micro = micros[position];
      const key = micro[1];
      if (touched) {
        const before = touched.has(key);
        touched.add(key);
        if (before) continue;
      }
      if (micro[0] !== 'r') continue;
      const state = states.get(key) as KeyState;
      const read = micro[2] ?? null;
      if (read !== null) {
        const writer = state.writers.get(read);
        if (writer === undefined) {
          log.add('garbage-read', () => ({
            type: 'garbage-read', txn, key, value: read,
            explanation: `key ${show(key)} was read as ${show(read)}, which no transaction wrote`,
          }));
          continue;
        }
        if (outcome[writer] === Outcome.fail) {
          log.add('G1a', () => ({
            type: 'G1a', txn, writer, key, value: read,
            explanation: `key ${show(key)} was read as ${show(read)}, written by a transaction that failed`,
          }));
          continue;
        }
        if (writer !== txn) {
          edges.add(writer, txn, EdgeKind.wr, state.id);
          if (state.intermediate?.has(read)) {
            log.add('G1b', () => ({
              type: 'G1b', txn, writer, key, value: read,
              explanation: `key ${show(key)} was read as ${show(read)}, which its transaction overwrote before committing`,
            }));
          }
        }
      }
      for (const follower of state.successors.get(versionOf(read)) ?? []) {
        if (follower !== txn) edges.add(txn, follower, EdgeKind.rw, state.id);
      }
    }
  }

  return {
    edges,
    keys,
    notes: [
      'rw-register: the version order is known only where a transaction read a key and then wrote it; writes nobody read-then-overwrote are unordered, so some anomalies cannot be seen',
    ],
    unreliable,
    explain(kind, from, to, keyId, name) {
      const key = keys[keyId];
      const keyText = show(key);
      if (kind === EdgeKind.wr) {
        const value = firstRead(ops[to], key);
        return { value, text: `${name(to)} read key ${keyText} = ${show(value)}, which ${name(from)} wrote` };
      }
      const value = finalWrite(ops[to], key);
      if (kind === EdgeKind.ww) return { value, text: `${name(to)} read key ${keyText} as ${name(from)}'s version and then wrote ${show(value)} over it` };
      return { value, text: `${name(from)} read key ${keyText} before ${name(to)} overwrote that version with ${show(value)}` };
    },
  };
}

function firstRead(micros: readonly MicroOp[], key: unknown): unknown {
  for (const micro of micros) if (micro[0] === 'r' && micro[1] === key) return micro[2] ?? null;
  return null;
}

function finalWrite(micros: readonly MicroOp[], key: unknown): unknown {
  let value: unknown = null;
  for (const micro of micros) if (micro[0] !== 'r' && micro[1] === key) value = micro[2];
  return value;
}
