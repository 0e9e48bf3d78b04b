// The linearizability search for one independent sub-history (one key).
//
// Why this algorithm. Wing & Gong / Lowe with a memo of (linearized set, state), as Porcupine does,
// keys its memo by a bitset over the whole history: memory grows with the square of the history and
// runs out on highly concurrent histories. We walk the history once, in time order, with Lowe's
// "just-in-time" linearization (Knossos' `linear` checker): a *configuration* is a model state plus
// which pending ops are already linearized; an op is linearized only when it must be, at the return
// of op c, where each configuration without c is extended by sequences of pending ops ending in c
// (the *closure*); those that cannot reach c die. No configuration left: not linearizable. A
// configuration holds a bitset over *slots* (a slot is reused as soon as its op returns), never over
// the history, so memory follows the concurrency window, not the history's length.
//
// Two drivers over the same closure: 'frontier' keeps every configuration event by event (bounded
// memory, best for most histories); 'depth' follows one configuration and backtracks, with a memo of
// what it explored (a cache, cleared past its bound), for keys where the frontier grows too wide.
//
// What keeps configurations few. Each rule is a dominance argument ("this configuration can do
// everything that one can"); the brute-force oracle property tests check them together.
// - Read-only ops (model.readOnly) are linearized eagerly, as soon as legal (at invoke, or after any
//   state change): a legal read done dominates a read still to do. Info read-only ops are dropped.
// - Info ops (and ops that never completed) never return, so they are never forced: they are pools
//   a sequence may draw from. Identical info ops (same f and value) are interchangeable, so a
//   configuration counts how many of each it used; using fewer dominates. An info blind op is tried
//   only when the state it leaves enables some pending op (looked up through model.precondition,
//   following chains of info ops backwards).
// - Invisible episodes. A closure sequence holds at most one blind op (model.blind: a write), and no
//   blind op right after a bare total op (model.total: legal anywhere, an append): what ran before
//   the blind op was overwritten, and enumerating it is where other checkers blow up (2^pending
//   writes). Instead a configuration remembers when it last linearized a blind op (`vanish`); at
//   the return of an op that could have been in such an overwritten stretch, the stretch is placed
//   back in time, just before that blind op (everything in it invoked before), leaving the state
//   unchanged (invisibleAlternatives).
// - Reachability (model.reachable): a configuration from which a pending or the next read can no
//   longer be satisfied (an append-only string that lost the read's prefix) is dropped early.
// The search is bounded: a time budget (past it: 'unknown', never a guess) and a cap on
// configurations (a memory bound: 'unknown' with a reason).
import type { Key } from '../../src/history/types.js';
import { canonicalJson, type Model, type ModelOp } from './models.js';

/** One client op of a sub-history, paired with its completion (serializable: crosses to workers). */
export interface KeyOp {
  f: string;
  process: number;
  invokeValue: unknown;
  /** Completion value; null when there is no completion. */
  completionValue: unknown;
  /** 'info' also when the op never completed. */
  outcome: 'ok' | 'info' | 'fail';
  invokeIndex: number;
  /** History index of the completion, or -1. */
  completionIndex: number;
}

/** A sub-history: ops plus events in history order (op number + 1 for an invoke, -(op number + 1) for an ok return). */
export interface KeyInput {
  key: Key;
  ops: KeyOp[];
  events: number[];
}

export interface SearchLimits {
  /** Absolute time (Date.now()) after which the search gives up with 'unknown'. */
  deadline: number;
  /** Cap on configurations held at once (search stack, or visited in one step); past it: 'unknown'. */
  maxConfigurations: number;
  /** Cap on search steps; past it: 'unknown' with limit 'work' (lets the caller try the other strategy). */
  maxWork?: number;
  /**
   * Cap on the pace: past `maxWorkPerEvent` steps per event walked so far (plus `workPerEventSlack`),
   * 'unknown' with limit 'work'. Tells early that a search is blowing up, before it spends the whole cap.
   */
  maxWorkPerEvent?: number;
  workPerEventSlack?: number;
}

export interface CounterexampleOp {
  /** History index of the invocation. */
  index: number;
  /** History index of the completion; absent for info ops and ops that never completed. */
  completionIndex?: number;
  process: number;
  f: string;
  /** The value as the model saw it: the completion's value when ok, else the invocation's. */
  value: unknown;
  type: 'ok' | 'info';
  description: string;
}

export interface Counterexample {
  key: Key;
  /** The op(s) that could not be linearized: at their return no configuration could place them. */
  failedOps: CounterexampleOp[];
  /** Ops pending at that moment (ok ops in flight, then the most recent info ops), by invocation. */
  concurrentOps: CounterexampleOp[];
  /** How many ops the longest linearizable prefix reached holds. */
  prefixLength: number;
  /** The tail of that prefix (up to 40 ops), in linearization order. */
  prefix: CounterexampleOp[];
  /** Model states of the configurations that reached that point (up to 8), described. */
  states: string[];
  /** How many configurations reached that point and died there. */
  configurations: number;
  explanation: string;
}

export interface KeySearchResult {
  key: Key;
  valid: true | false | 'unknown';
  ops: number;
  counterexample?: Counterexample;
  reason?: string;
  /** Largest number of configurations held at once: a measure of how hard the sub-history was. */
  peakConfigurations: number;
  /** Which bound stopped an 'unknown' search. */
  limit?: 'time' | 'memory' | 'work';
  /** Search steps taken (closure nodes or depth frames): how much work the key cost. */
  work?: number;
}

interface PathNode {
  op: EngineOp;
  previous: PathNode | undefined;
  length: number;
}

interface EngineOp {
  id: number;
  source: KeyOp;
  modelOp: ModelOp;
  readOnly: boolean;
  blind: boolean;
  preconditionHash: string | undefined;
  /** Event sequence number of the invocation within this sub-history. */
  invokeSequence: number;
  slot: number;
  mask: bigint;
  group: InfoGroup | undefined;
  /** For blind ops: the state the op leaves whatever came before, and its hash. */
  blindState: unknown;
  blindHash: string;
  /** The state in which the op alone is legal (model.precondition), if any. */
  preconditionState: { state: unknown } | undefined;
  /** For read-only ops: blind ops invoked while this op was pending; undefined when too many to list. */
  blindDuring: EngineOp[] | undefined;
  /** Event sequence number of the return (Infinity for info ops). */
  returnSequence: number;
  /** Legal in every state (model.total, or blind). */
  total: boolean;
  /** For non-read ops with a precondition: hash of the state they leave. */
  resultHash: string | undefined;
  /** f and value: ops with equal identities behave the same in the model. */
  identity: string;
}

/** Interchangeable info ops: same f and value. */
interface InfoGroup {
  id: number;
  sample: EngineOp;
  /** Members in invocation order; the first `invokedCount` are invoked at the cursor. */
  members: EngineOp[];
  invokedCount: number;
  /** Members every configuration has used (moved out of their `used`, which would otherwise grow forever). */
  consumed: number;
  blind: boolean;
  /** For blind groups: hash of the state the op leaves, whatever came before. */
  blindHash: string;
}

interface Configuration {
  state: unknown;
  hash: string;
  bits: bigint;
  /** Sorted info group ids used, with repetition. */
  used: number[];
  usedKey: string;
  /** Event sequence number of the last blind linearization on this configuration's path. */
  vanish: number;
  path: PathNode | undefined;
}

interface SearchNode extends Configuration {
  /** The last op linearized in this step was total (legal anywhere) and no read saw its effect yet. */
  lastBare: boolean;
  hadBlind: boolean;
}

class SearchAbort extends Error {
  constructor(
    message: string,
    readonly limit: 'time' | 'memory' | 'work' = 'memory',
  ) {
    super(message);
  }
}

const MAX_PREFIX_SHOWN = 40;
const MAX_STATES_SHOWN = 8;
const MAX_INFO_SHOWN = 12;
/** Blind ops remembered per pending read, for the reachability pruning; past it, no pruning. */
const MAX_BLIND_DURING = 32;
/** Producers of one state scanned by the producibility pruning; past it, no pruning for that state. */
const MAX_PRODUCERS_SCANNED = 64;
/** Memo entries kept before the memo is cleared (a cache: clearing costs time, never correctness). */
const MAX_MEMO_ENTRIES = 500_000;

/** A copy of `node` with other bits and path (an explicit literal: faster than a spread, one shape). */
function withBits(node: SearchNode, bits: bigint, path: PathNode | undefined): SearchNode {
  return { state: node.state, hash: node.hash, bits, used: node.used, usedKey: node.usedKey, vanish: node.vanish, path, lastBare: node.lastBare, hadBlind: node.hadBlind };
}

/** Multiset inclusion of sorted arrays. */
function includesAll(superset: readonly number[], subset: readonly number[]): boolean {
  let i = 0;
  for (const id of subset) {
    while (i < superset.length && superset[i] < id) i++;
    if (i >= superset.length || superset[i] !== id) return false;
    i++;
  }
  return true;
}

function usedCount(used: readonly number[], groupId: number): number {
  let count = 0;
  for (const id of used) if (id === groupId) count++;
  return count;
}

function insertSorted(used: readonly number[], groupId: number): number[] {
  const result = used.slice();
  let position = result.length;
  while (position > 0 && result[position - 1] > groupId) position--;
  result.splice(position, 0, groupId);
  return result;
}


/**
 * How the configurations are explored: 'frontier' keeps every configuration, event by event (memory
 * follows the concurrency window; best when concurrent ops are observed soon); 'depth' follows one
 * configuration and backtracks (best on valid histories where unobserved orders multiply).
 */
export type SearchStrategy = 'frontier' | 'depth';

/**
 * What a search of one sub-history needs that depends only on the model and the input: built once per
 * key and shared by every search of it (the strategies tried in turn, then the one that explains a
 * violation), so its per-op allocation is paid once. Searches reset the only mutable parts (the info
 * groups' counters) when they start.
 */
export interface PreparedKey {
  model: Model;
  input: KeyInput;
  engineOps: (EngineOp | undefined)[];
  groupsByPrecondition: Map<string, InfoGroup[]>;
  blindGroupsByResult: Map<string, InfoGroup[]>;
  freeGroups: InfoGroup[];
  allGroups: InfoGroup[];
  slotMasks: bigint[];
  hasTwins: boolean;
  nextReadFrom: (EngineOp | undefined)[];
  blindInvokes: EngineOp[];
  producers: Map<string, EngineOp[]>;
  /** Some non-read op leaves a state that cannot be known in advance: no producibility pruning. */
  unknownProducer: boolean;
  preconditionGroupsByResult: Map<string, InfoGroup[]>;
}

// Twins: pending ok ops with the same identity. Linearizing the one that returns first dominates
// linearizing another (the other keeps the later deadline), so only that one is tried. Not for
// total non-blind ops (appends): one of those may vanish where its twin may not.
const twinnable = (op: EngineOp): boolean => !op.readOnly && !(op.total && !op.blind);

/** Builds the per-key structures of the search (see PreparedKey). */
export function prepareKey(model: Model, input: KeyInput): PreparedKey {
  const hashOf = model.hash ?? canonicalJson;
  const engineOps: (EngineOp | undefined)[] = [];
  const groupsByIdentity = new Map<string, InfoGroup>();
  const groupsByPrecondition = new Map<string, InfoGroup[]>();
  const blindGroupsByResult = new Map<string, InfoGroup[]>();
  const freeGroups: InfoGroup[] = [];
  const allGroups: InfoGroup[] = [];
  const addToIndex = (index: Map<string, InfoGroup[]>, key: string, group: InfoGroup): void => {
    const list = index.get(key);
    if (list) list.push(group);
    else index.set(key, [group]);
  };
  for (let id = 0; id < input.ops.length; id++) {
    const source = input.ops[id];
    if (source.outcome === 'fail') {
      engineOps.push(undefined);
      continue;
    }
    const modelOp: ModelOp = {
      f: source.f,
      value: source.outcome === 'ok' ? source.completionValue : source.invokeValue,
      outcome: source.outcome,
    };
    const readOnly = model.readOnly?.(modelOp) ?? false;
    if (readOnly && source.outcome === 'info') {
      engineOps.push(undefined);
      continue;
    }
    const precondition = model.precondition?.(modelOp);
    const op: EngineOp = {
      id,
      source,
      modelOp,
      readOnly,
      blind: model.blind?.(modelOp) ?? false,
      preconditionHash: precondition ? hashOf(precondition.state) : undefined,
      preconditionState: precondition,
      blindDuring: readOnly && model.reachable ? [] : undefined,
      returnSequence: Number.POSITIVE_INFINITY,
      total: false,
      invokeSequence: -1,
      slot: -1,
      mask: 0n,
      group: undefined,
      blindState: undefined,
      blindHash: '',
      resultHash: undefined,
      identity: '',
    };
    if (precondition && !readOnly) {
      const result = model.step(precondition.state, modelOp);
      if (result !== undefined) op.resultHash = hashOf(result);
    }
    op.total = op.blind || (model.total?.(modelOp) ?? false);
    if (op.blind) {
      op.blindState = model.step(model.init(input.key), modelOp);
      op.blindHash = op.blindState === undefined ? '' : hashOf(op.blindState);
    }
    // Only twins and info groups compare identities, and neither holds a read: spare the string.
    if (!readOnly) op.identity = modelOp.f + '\u0000' + canonicalJson(modelOp.value);
    if (source.outcome === 'info') {
      const identity = op.identity;
      let group = groupsByIdentity.get(identity);
      if (!group) {
        const blindHash = op.blindHash;
        group = { id: allGroups.length, sample: op, members: [], invokedCount: 0, consumed: 0, blind: op.blind, blindHash };
        allGroups.push(group);
        groupsByIdentity.set(identity, group);
        if (op.blind) addToIndex(blindGroupsByResult, blindHash, group);
        else if (op.preconditionHash !== undefined) addToIndex(groupsByPrecondition, op.preconditionHash, group);
        else freeGroups.push(group);
      }
      group.members.push(op);
      op.group = group;
    }
    engineOps.push(op);
  }

  // Slots are a deterministic function of the event order: assign them once, up front.
  const slotMasks: bigint[] = [];
  {
    const freeSlots: number[] = [];
    let slotCount = 0;
    const openReads = new Set<EngineOp>();
    for (let sequence = 0; sequence < input.events.length; sequence++) {
      const event = input.events[sequence];
      const op = engineOps[Math.abs(event) - 1];
      if (!op) continue;
      if (event > 0) {
        op.invokeSequence = sequence;
        if (op.blind) {
          for (const read of openReads) {
            if (read.blindDuring && read.blindDuring.length < MAX_BLIND_DURING) read.blindDuring.push(op);
            else read.blindDuring = undefined;
          }
        }
        if (op.readOnly && model.reachable && op.preconditionState) openReads.add(op);
        if (op.group) continue;
        const slot = freeSlots.length > 0 ? freeSlots.pop()! : slotCount++;
        if (slot === slotMasks.length) slotMasks.push(1n << BigInt(slot));
        op.slot = slot;
        op.mask = slotMasks[slot];
      } else if (!op.group) {
        freeSlots.push(op.slot);
        openReads.delete(op);
        op.returnSequence = sequence;
      }
    }
  }
  let hasTwins = false;
  {
    const seen = new Set<string>();
    for (const op of engineOps) {
      if (!op || op.group || !twinnable(op)) continue;
      if (seen.has(op.identity)) {
        hasTwins = true;
        break;
      }
      seen.add(op.identity);
    }
  }
  // For the reachability pruning: the next read (with a precondition) invoked at or after each event,
  // and every blind invocation in order.
  const nextReadFrom: (EngineOp | undefined)[] = model.reachable ? new Array(input.events.length + 1).fill(undefined) : [];
  const blindInvokes: EngineOp[] = [];
  if (model.reachable) {
    for (let sequence = input.events.length - 1; sequence >= 0; sequence--) {
      const event = input.events[sequence];
      const op = event > 0 ? engineOps[event - 1] : undefined;
      nextReadFrom[sequence] = op && op.readOnly && op.preconditionState ? op : nextReadFrom[sequence + 1];
    }
    for (let sequence = 0; sequence < input.events.length; sequence++) {
      const event = input.events[sequence];
      const op = event > 0 ? engineOps[event - 1] : undefined;
      if (op && op.blind) blindInvokes.push(op);
    }
  }
  // Which ops can leave each state: a pending op that needs a state nobody can produce any more is
  // dead weight (with unique values, a write that has returned can never be read again).
  const producers = new Map<string, EngineOp[]>();
  let unknownProducer = false;
  for (const op of engineOps) {
    if (!op || op.readOnly) continue;
    const produces = op.blind ? op.blindHash : op.resultHash;
    if (produces === undefined) unknownProducer = true;
    else {
      const list = producers.get(produces);
      if (list) list.push(op);
      else producers.set(produces, [op]);
    }
  }
  // Info ops with a precondition, by the state they leave: to follow chains of info ops backwards
  // (a lost write enabling a lost cas enabling a pending read).
  const preconditionGroupsByResult = new Map<string, InfoGroup[]>();
  for (const list of groupsByPrecondition.values()) {
    for (const group of list) {
      const result = model.step(group.sample.preconditionState!.state, group.sample.modelOp);
      if (result !== undefined) addToIndex(preconditionGroupsByResult, hashOf(result), group);
    }
  }
  return { model, input, engineOps, groupsByPrecondition, blindGroupsByResult, freeGroups, allGroups, slotMasks, hasTwins, nextReadFrom, blindInvokes, producers, unknownProducer, preconditionGroupsByResult };
}

/**
 * Searches one sub-history; `recordPaths` keeps linearization orders, for counterexamples. `prepared`
 * (from prepareKey, same model and input) skips rebuilding the per-key structures.
 */
export function searchKey(model: Model, input: KeyInput, limits: SearchLimits, recordPaths = false, strategy: SearchStrategy = 'frontier', prepared?: PreparedKey): KeySearchResult {
  const ready = prepared !== undefined && prepared.model === model && prepared.input === input ? prepared : prepareKey(model, input);
  const { engineOps, groupsByPrecondition, blindGroupsByResult, freeGroups, allGroups, slotMasks, hasTwins, nextReadFrom, blindInvokes, producers, preconditionGroupsByResult } = ready;
  // An earlier search of the same prepared key may have stopped anywhere: start from a clean world.
  for (const group of allGroups) {
    group.invokedCount = 0;
    group.consumed = 0;
  }
  const hashOf = model.hash ?? canonicalJson;
  // Recording paths (to explain a violation): no early pruning, so the blame falls on the op whose
  // return finds no configuration left, not on an earlier one.
  const unknownProducer = ready.unknownProducer || recordPaths;
  const clientOps = input.ops.length;
  /** Blind ops invoked in [from, to), or undefined when there are more than MAX_BLIND_DURING. */
  const blindInvokedBetween = (from: number, to: number): EngineOp[] | undefined => {
    let low = 0;
    let high = blindInvokes.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (blindInvokes[middle].invokeSequence < from) low = middle + 1;
      else high = middle;
    }
    const found: EngineOp[] = [];
    for (let i = low; i < blindInvokes.length && blindInvokes[i].invokeSequence < to; i++) {
      if (found.length >= MAX_BLIND_DURING) return undefined;
      found.push(blindInvokes[i]);
    }
    return found;
  };

  /**
   * False when some pending op not yet linearized needs a state that is not the current one and that
   * no op still to come (pending and not linearized, info, or invoked before its return) can produce.
   * Needs the cursor just past the event that made `node`.
   */
  const producible = (node: SearchNode): boolean => {
    if (unknownProducer) return true;
    for (let slot = 0; slot < slotOps.length; slot++) {
      const needy = slotOps[slot];
      if (!needy || needy.preconditionHash === undefined || needy.preconditionHash === node.hash || (node.bits & needy.mask) !== 0n) continue;
      const list = producers.get(needy.preconditionHash);
      if (!list) return false;
      if (list.length > MAX_PRODUCERS_SCANNED) continue;
      let found = false;
      for (const op of list) {
        if (op === needy) continue;
        if (op.group) found = true;
        else if (op.invokeSequence >= cursor) found = op.invokeSequence < needy.returnSequence;
        else found = slotOps[op.slot] === op && (node.bits & op.mask) === 0n;
        if (found) break;
      }
      if (!found) return false;
    }
    return true;
  };


  /**
   * The info blind groups worth starting from when the next op needs one of `wanted` (state hashes),
   * or every blind group when `everyState`; only groups with an invoked, unused member are returned.
   */
  const blindGroupsFor = (wanted: Set<string>, everyState: boolean, exceptHash: string): InfoGroup[] => {
    const found: InfoGroup[] = [];
    const consider = (list: InfoGroup[] | undefined): void => {
      if (list) for (const group of list) if (group.invokedCount > 0 && group.blindHash !== exceptHash) found.push(group);
    };
    if (everyState) {
      for (const list of blindGroupsByResult.values()) consider(list);
      return found;
    }
    const queue = [...wanted];
    while (queue.length > 0) {
      const hash = queue.pop()!;
      const enabling = preconditionGroupsByResult.get(hash);
      if (!enabling) continue;
      for (const group of enabling) {
        const needed = group.sample.preconditionHash!;
        if (group.invokedCount > 0 && !wanted.has(needed)) {
          wanted.add(needed);
          queue.push(needed);
        }
      }
    }
    for (const hash of wanted) consider(blindGroupsByResult.get(hash));
    return found;
  };

  /** Precondition hashes of the pending non-blind ops not yet linearized; everyState when one has none. */
  const pendingNeeds = (bits: bigint, target: EngineOp | undefined): { wanted: Set<string>; everyState: boolean } => {
    let everyState = freeGroups.some((group) => group.invokedCount > 0);
    const wanted = new Set<string>();
    const add = (op: EngineOp): void => {
      if (op.preconditionHash === undefined) everyState = true;
      else wanted.add(op.preconditionHash);
    };
    if (target) add(target);
    for (let slot = 0; slot < slotOps.length && !everyState; slot++) {
      const op = slotOps[slot];
      if (!op || op.blind || (bits & op.mask) !== 0n) continue;
      add(op);
    }
    return { wanted, everyState };
  };

  // The world at the cursor: which op holds each slot, how many of each info group are invoked.
  // The search moves the cursor forward and, when it backtracks, backward.
  const slotOps: (EngineOp | undefined)[] = new Array(slotMasks.length).fill(undefined);
  let invokedInfo = 0;
  let cursor = 0;
  const apply = (sequence: number): void => {
    const event = input.events[sequence];
    const op = engineOps[Math.abs(event) - 1];
    if (!op) return;
    if (op.group) {
      if (event > 0) {
        op.group.invokedCount++;
        invokedInfo++;
      }
    } else slotOps[op.slot] = event > 0 ? op : undefined;
  };
  const unapply = (sequence: number): void => {
    const event = input.events[sequence];
    const op = engineOps[Math.abs(event) - 1];
    if (!op) return;
    if (op.group) {
      if (event > 0) {
        op.group.invokedCount--;
        invokedInfo--;
      }
    } else slotOps[op.slot] = event > 0 ? undefined : op;
  };
  const moveCursor = (target: number): void => {
    while (cursor < target) apply(cursor++);
    while (cursor > target) unapply(--cursor);
  };

  let work = 0;
  const maxWork = limits.maxWork ?? Number.POSITIVE_INFINITY;
  const maxWorkPerEvent = limits.maxWorkPerEvent;
  const workPerEventSlack = limits.workPerEventSlack ?? 0;
  const checkBudget = (): void => {
    // The first call checks too, so a budget already spent stops the search at once.
    if ((work++ & 1023) === 0) {
      if (Date.now() >= limits.deadline) throw new SearchAbort('time budget exhausted', 'time');
      if (work > maxWork) throw new SearchAbort(`more than ${maxWork} search steps`, 'work');
      if (maxWorkPerEvent !== undefined && work > maxWorkPerEvent * cursor + workPerEventSlack) throw new SearchAbort(`more than ${maxWorkPerEvent} search steps per event`, 'work');
    }
  };
  const extendPath = (path: PathNode | undefined, op: EngineOp): PathNode | undefined =>
    recordPaths ? { op, previous: path, length: (path?.length ?? 0) + 1 } : undefined;

  /** Linearizes every pending read-only op legal in `state`; returns the new bits and path. */
  const eagerReads = (state: unknown, bits: bigint, path: PathNode | undefined): { bits: bigint; path: PathNode | undefined; any: boolean } => {
    let any = false;
    for (let slot = 0; slot < slotOps.length; slot++) {
      const op = slotOps[slot];
      if (!op || !op.readOnly || (bits & op.mask) !== 0n) continue;
      if (model.step(state, op.modelOp) === undefined) continue;
      bits |= op.mask;
      path = extendPath(path, op);
      any = true;
    }
    return { bits, path, any };
  };

  interface Child {
    node: SearchNode;
    /** True when the child has linearized the target: it is a configuration after the return. */
    goal: boolean;
  }

  const reachable = model.reachable?.bind(model);
  /**
   * False when some pending read can no longer be satisfied from `state`: no sequence of non-blind
   * ops reaches its state, from here or from any blind op that could still come before it.
   */
  const viable = (state: unknown, bits: bigint): boolean => {
    if (!reachable) return true;
    const satisfiable = (read: EngineOp, blindLater: EngineOp[] | undefined): boolean => {
      const goal = read.preconditionState!.state;
      if (reachable(state, goal)) return true;
      if (!blindLater) return true;
      let possible = false;
      for (let other = 0; other < slotOps.length && !possible; other++) {
        const op = slotOps[other];
        possible = !!op && op.blind && (bits & op.mask) === 0n && op.blindState !== undefined && reachable(op.blindState, goal);
      }
      for (const op of blindLater) if (!possible && op.blindState !== undefined && reachable(op.blindState, goal)) possible = true;
      for (const list of blindGroupsByResult.values()) for (const group of list) if (!possible && group.sample.blindState !== undefined && reachable(group.sample.blindState, goal)) possible = true;
      return possible;
    };
    // The next read not yet invoked will see a state reached from this one.
    const future = nextReadFrom[cursor + 1];
    if (future && !satisfiable(future, blindInvokedBetween(cursor + 1, future.returnSequence))) return false;
    for (let slot = 0; slot < slotOps.length; slot++) {
      const read = slotOps[slot];
      if (!read || !read.readOnly || !read.preconditionState || (bits & read.mask) !== 0n) continue;
      if (!satisfiable(read, read.blindDuring)) return false;
    }
    return true;
  };

  /** Like eagerReads, but only reads invoked before `vanish` (they are placed back in time). */
  const retroReads = (state: unknown, bits: bigint, vanish: number, path: PathNode | undefined): { bits: bigint; path: PathNode | undefined } => {
    for (let slot = 0; slot < slotOps.length; slot++) {
      const op = slotOps[slot];
      if (!op || !op.readOnly || (bits & op.mask) !== 0n || op.invokeSequence >= vanish) continue;
      if (model.step(state, op.modelOp) === undefined) continue;
      bits |= op.mask;
      path = extendPath(path, op);
    }
    return { bits, path };
  };

  /**
   * Invisible episodes. A closure sequence never holds two blind ops: whatever ran from the first up
   * to the second (an *episode*: a blind op, then non-blind ops) was overwritten and is invisible.
   * Instead, at the return of an op of such an episode, the episode is placed back in time, just
   * before the configuration's last blind op (everything in it invoked before that point): the
   * state after it is unchanged. Returns the configurations past the return (target's bit clear).
   */
  const invisibleAlternatives = (node: SearchNode, target: EngineOp): SearchNode[] => {
    const alternatives: SearchNode[] = [];
    const vanish = node.vanish;
    if (target.invokeSequence >= vanish) return alternatives;
    if (target.total && !target.blind) {
      // Legal anywhere, so it may have happened just before the last blind op, which hid it.
      alternatives.push({ ...node, lastBare: false, hadBlind: false });
    }
    if (!target.blind) {
      // Nothing to start an episode from: no pending blind op invoked early enough, no info pool.
      let anyStart = invokedInfo > 0 && blindGroupsByResult.size > 0;
      for (let slot = 0; slot < slotOps.length && !anyStart; slot++) {
        const op = slotOps[slot];
        anyStart = !!op && op.blind && (node.bits & op.mask) === 0n && op.invokeSequence < vanish;
      }
      if (!anyStart) return alternatives;
    }
    interface EpisodeNode {
      state: unknown;
      hash: string;
      bits: bigint;
      used: number[];
      usedKey: string;
      path: PathNode | undefined;
    }
    const visited = new Set<string>();
    const stack: EpisodeNode[] = [];
    const start = (op: EngineOp, bits: bigint, used: number[], usedKey: string): void => {
      if (op.blindState === undefined) return;
      const retro = retroReads(op.blindState, bits, vanish, extendPath(node.path, op));
      const key = op.blindHash + '|' + retro.bits.toString(36) + '|' + usedKey;
      if (visited.has(key)) return;
      visited.add(key);
      stack.push({ state: op.blindState, hash: op.blindHash, bits: retro.bits, used, usedKey, path: retro.path });
    };
    if (target.blind) {
      start(target, node.bits, node.used, node.usedKey);
    } else {
      for (let slot = 0; slot < slotOps.length; slot++) {
        const op = slotOps[slot];
        if (op && op.blind && (node.bits & op.mask) === 0n && op.invokeSequence < vanish) start(op, node.bits | op.mask, node.used, node.usedKey);
      }
      const needs = invokedInfo > 0 && blindGroupsByResult.size > 0 ? pendingNeeds(node.bits, target) : undefined;
      for (const group of needs ? blindGroupsFor(needs.wanted, needs.everyState, '') : []) {
        const usedAlready = group.consumed + usedCount(node.used, group.id);
        if (usedAlready >= group.invokedCount || group.members[usedAlready].invokeSequence >= vanish) continue;
        const used = insertSorted(node.used, group.id);
        start(group.members[usedAlready], node.bits, used, used.join(','));
      }
    }
    while (stack.length > 0) {
      checkBudget();
      const episode = stack.pop()!;
      if (target.blind || (episode.bits & target.mask) !== 0n) {
        alternatives.push({ ...node, bits: episode.bits & ~target.mask, used: episode.used, usedKey: episode.usedKey, path: episode.path, lastBare: false, hadBlind: false });
      }
      const extend = (op: EngineOp, bits: bigint, used: number[], usedKey: string): void => {
        const next = model.step(episode.state, op.modelOp);
        if (next === undefined) return;
        const nextHash = next === episode.state ? episode.hash : hashOf(next);
        const retro = nextHash === episode.hash ? { bits, path: extendPath(episode.path, op) } : retroReads(next, bits, vanish, extendPath(episode.path, op));
        const key = nextHash + '|' + retro.bits.toString(36) + '|' + usedKey;
        if (visited.has(key)) return;
        visited.add(key);
        if (visited.size > limits.maxConfigurations) throw new SearchAbort(`more than ${limits.maxConfigurations} configurations in one step (memory bound)`);
        stack.push({ state: next, hash: nextHash, bits: retro.bits, used, usedKey, path: retro.path });
      };
      for (let slot = 0; slot < slotOps.length; slot++) {
        const op = slotOps[slot];
        if (!op || op.blind || op.readOnly || (episode.bits & op.mask) !== 0n || op.invokeSequence >= vanish) continue;
        extend(op, episode.bits | op.mask, episode.used, episode.usedKey);
      }
      if (invokedInfo === 0) continue;
      const tryGroup = (group: InfoGroup): void => {
        const usedAlready = group.consumed + usedCount(episode.used, group.id);
        if (usedAlready >= group.invokedCount || group.members[usedAlready].invokeSequence >= vanish) return;
        const used = insertSorted(episode.used, group.id);
        extend(group.members[usedAlready], episode.bits, used, used.join(','));
      };
      const enabled = groupsByPrecondition.get(episode.hash);
      if (enabled) for (const group of enabled) tryGroup(group);
      for (const group of freeGroups) tryGroup(group);
    }
    return alternatives;
  };


  /** The ways to extend `node` by one pending op (then eager reads) towards linearizing `target`. */
  const expand = (node: SearchNode, target: EngineOp, sequence: number): Child[] => {
    const children: Child[] = [];
    const visit = (op: EngineOp, next: unknown, bits: bigint, used: number[], usedKey: string): void => {
      const nextHash = next === node.state ? node.hash : hashOf(next);
      let path = extendPath(node.path, op);
      let anyRead = false;
      if (nextHash !== node.hash) {
        const eager = eagerReads(next, bits, path);
        bits = eager.bits;
        path = eager.path;
        anyRead = eager.any;
        if (reachable && !viable(next, bits)) return;
      }
      const hadBlind = node.hadBlind || op.blind;
      if ((bits & target.mask) !== 0n) {
        children.push({
          goal: true,
          node: { state: next, hash: nextHash, bits: bits & ~target.mask, used, usedKey, vanish: hadBlind ? sequence : node.vanish, path, lastBare: false, hadBlind: false },
        });
        return;
      }
      children.push({ goal: false, node: { state: next, hash: nextHash, bits, used, usedKey, vanish: node.vanish, path, lastBare: op.total && !anyRead, hadBlind } });
    };
    // Pending ops that will return.
    let firstReturn: Map<string, number> | undefined;
    if (hasTwins) {
      firstReturn = new Map();
      for (const op of slotOps) {
        if (!op || !twinnable(op) || (node.bits & op.mask) !== 0n) continue;
        const known = firstReturn.get(op.identity);
        if (known === undefined || op.returnSequence < known) firstReturn.set(op.identity, op.returnSequence);
      }
    }
    for (let slot = 0; slot < slotOps.length; slot++) {
      const op = slotOps[slot];
      if (!op || op.readOnly || (node.bits & op.mask) !== 0n) continue;
      if (firstReturn && twinnable(op) && firstReturn.get(op.identity)! < op.returnSequence) continue;
      // A second blind op would make an episode invisible; a blind op right after a bare total op
      // would hide that op: both are accounted for at the returns instead (invisibleAlternatives).
      if (op.blind && (node.hadBlind || node.lastBare)) continue;
      const next = model.step(node.state, op.modelOp);
      if (next === undefined) continue;
      visit(op, next, node.bits | op.mask, node.used, node.usedKey);
    }
    if (invokedInfo === 0) return children;
    const tryGroup = (group: InfoGroup): void => {
      const usedAlready = group.consumed + usedCount(node.used, group.id);
      if (usedAlready >= group.invokedCount) return;
      const next = model.step(node.state, group.sample.modelOp);
      if (next === undefined) return;
      const used = insertSorted(node.used, group.id);
      visit(group.members[usedAlready], next, node.bits, used, used.join(','));
    };
    const enabled = groupsByPrecondition.get(node.hash);
    if (enabled) for (const group of enabled) tryGroup(group);
    for (const group of freeGroups) tryGroup(group);
    if (node.hadBlind || node.lastBare || blindGroupsByResult.size === 0) return children;
    // An info blind op is worth trying only when its state enables a pending op.
    const needs = pendingNeeds(node.bits, undefined);
    for (const group of blindGroupsFor(needs.wanted, needs.everyState, node.hash)) tryGroup(group);
    return children;
  };


  const describeOp = (op: EngineOp): CounterexampleOp => {
    const entry: CounterexampleOp = {
      index: op.source.invokeIndex,
      process: op.source.process,
      f: op.source.f,
      value: op.modelOp.value,
      type: op.modelOp.outcome,
      description: model.describeOp ? model.describeOp(op.modelOp) : `${op.modelOp.f} ${canonicalJson(op.modelOp.value)}`,
    };
    if (op.source.completionIndex >= 0) entry.completionIndex = op.source.completionIndex;
    return entry;
  };
  const describeState = (state: unknown): string => (model.describe ? model.describe(state) : canonicalJson(state));

  // The furthest return any configuration reached: when the search is exhausted, where it failed.
  let furthest = -1;
  let furthestOp: EngineOp | undefined;
  /** The ops in the slots when the furthest return was reached: only described if it is where the search fails. */
  let furthestSlots: (EngineOp | undefined)[] = [];
  let furthestConfigurations: Configuration[] = [];
  let furthestCount = 0;
  const recordArrival = (configuration: Configuration, target: EngineOp, sequence: number): void => {
    if (!recordPaths || sequence < furthest) return;
    if (sequence > furthest) {
      // Reached at every return of a valid stretch: keep it cheap (the slots are the concurrency window).
      furthest = sequence;
      furthestOp = target;
      furthestConfigurations = [];
      furthestCount = 0;
      furthestSlots = slotOps.slice();
    }
    furthestCount++;
    if (furthestConfigurations.length < 64) furthestConfigurations.push(configuration);
  };
  /** Ops pending at the furthest return: ok ops in the slots, then the most recent info ops invoked before it. */
  const describeFurthestConcurrent = (): CounterexampleOp[] => {
    const concurrent: CounterexampleOp[] = [];
    for (const op of furthestSlots) if (op && op !== furthestOp) concurrent.push(describeOp(op));
    const info: EngineOp[] = [];
    // Members are in invocation order; those invoked before the return were the invoked ones then.
    for (const group of allGroups) for (const member of group.members) if (member.invokeSequence < furthest) info.push(member);
    info.sort((a, b) => b.invokeSequence - a.invokeSequence);
    for (const op of info.slice(0, MAX_INFO_SHOWN)) concurrent.push(describeOp(op));
    concurrent.sort((a, b) => a.index - b.index);
    return concurrent;
  };

  const buildCounterexample = (): Counterexample => {
    const target = furthestOp!;
    let longest: PathNode | undefined;
    for (const configuration of furthestConfigurations) if (configuration.path && (!longest || configuration.path.length > longest.length)) longest = configuration.path;
    const prefix: CounterexampleOp[] = [];
    for (let node = longest; node && prefix.length < MAX_PREFIX_SHOWN; node = node.previous) prefix.push(describeOp(node.op));
    prefix.reverse();
    const states = [...new Set(furthestConfigurations.map((configuration) => describeState(configuration.state)))];
    const failed = describeOp(target);
    const furthestConcurrent = describeFurthestConcurrent();
    const infoCount = furthestConcurrent.filter((op) => op.type === 'info').length;
    const pendingCount = furthestConcurrent.length - infoCount;
    const keyText = input.key === null || input.key === undefined ? '' : `key ${JSON.stringify(input.key)}: `;
    const shown = states.slice(0, MAX_STATES_SHOWN).join(', ') + (states.length > MAX_STATES_SHOWN ? ', …' : '');
    const stateText = states.length === 1 ? `the state was ${states[0]}` : `the state was one of ${shown}`;
    const explanation =
      `${keyText}${failed.description} by process ${failed.process} (history ${failed.index}–${failed.completionIndex ?? '?'}) cannot be linearized: ` +
      `after the ${longest?.length ?? 0} ops linearized before it ${stateText}, and no order of the ${pendingCount} concurrent ops` +
      `${infoCount > 0 ? ` and ${infoCount}${infoCount >= MAX_INFO_SHOWN ? '+' : ''} info ops` : ''} makes it legal` +
      `${target.total ? ' and consistent with the reads that follow' : ''}`;
    return {
      key: input.key,
      failedOps: [failed],
      concurrentOps: furthestConcurrent,
      prefixLength: longest?.length ?? 0,
      prefix,
      states: states.slice(0, MAX_STATES_SHOWN),
      configurations: furthestCount,
      explanation,
    };
  };

  const initialState = model.init(input.key);
  const initialNode: SearchNode = { state: initialState, hash: hashOf(initialState), bits: 0n, used: [], usedKey: '', vanish: -1, path: undefined, lastBare: false, hadBlind: false };
  if (strategy === 'frontier') return searchFrontier(initialNode);
  return searchDepth(initialNode);

  function searchFrontier(initial: SearchNode): KeySearchResult {
    let frontier: SearchNode[] = [initial];
    let peak = 1;
    const events = input.events;
    try {
      for (let sequence = 0; sequence < events.length; sequence++) {
        const event = events[sequence];
        const target = engineOps[Math.abs(event) - 1];
        if (event > 0 || !target) {
          apply(cursor++);
          if (target && target.readOnly && event > 0) {
            for (let i = 0; i < frontier.length; i++) {
              const node = frontier[i];
              if (model.step(node.state, target.modelOp) === undefined) continue;
              frontier[i] = withBits(node, node.bits | target.mask, extendPath(node.path, target));
            }
          }
          continue;
        }
        // Fast path: every configuration already linearized the target (a read, done eagerly).
        let allDone = !recordPaths;
        for (let i = 0; i < frontier.length && allDone; i++) allDone = (frontier[i].bits & target.mask) !== 0n;
        if (allDone) {
          apply(cursor++);
          frontier = frontier.map((node) => withBits(node, node.bits & ~target.mask, node.path));
          continue;
        }
        const next: SearchNode[] = [];
        let visited: Set<string> | undefined;
        // Later `vanish` first: a node reached again from another source can only have an earlier one.
        if (frontier.length > 1) frontier.sort((a, b) => b.vanish - a.vanish);
        for (const source of frontier) {
          recordArrival(source, target, sequence);
          if ((source.bits & target.mask) !== 0n) {
            next.push(withBits(source, source.bits & ~target.mask, source.path));
            continue;
          }
          for (const alternative of invisibleAlternatives(source, target)) next.push(alternative);
          const stack: SearchNode[] = [source];
          while (stack.length > 0) {
            checkBudget();
            const node = stack.pop()!;
            for (const child of expand(node, target, sequence)) {
              if (child.goal) {
                next.push(child.node);
                continue;
              }
              const key = child.node.hash + '|' + child.node.bits.toString(36) + '|' + child.node.usedKey + (child.node.lastBare ? '|b' : '|') + (child.node.hadBlind ? 'h' : '');
              visited ??= new Set<string>();
              if (visited.has(key)) continue;
              visited.add(key);
              if (visited.size > limits.maxConfigurations) throw new SearchAbort(`more than ${limits.maxConfigurations} configurations in one step (memory bound)`);
              stack.push(child.node);
            }
          }
        }
        apply(cursor++);
        // Pruning only pays when there is something to choose between.
        frontier = deduplicate(unknownProducer || next.length < 2 ? next : next.filter(producible));
        if (frontier.length === 0) break;
        consumeCommonInfo(frontier);
        if (frontier.length > peak) {
          peak = frontier.length;
          if (peak > limits.maxConfigurations) throw new SearchAbort(`more than ${limits.maxConfigurations} configurations (memory bound)`);
        }
      }
    } catch (error) {
      if (error instanceof SearchAbort) return { key: input.key, valid: 'unknown', ops: clientOps, reason: error.message, limit: error.limit, peakConfigurations: peak, work };
      throw error;
    }
    if (frontier.length > 0) return { key: input.key, valid: true, ops: clientOps, peakConfigurations: peak, work };
    const result: KeySearchResult = { key: input.key, valid: false, ops: clientOps, peakConfigurations: peak, work };
    if (recordPaths && furthestOp) result.counterexample = buildCounterexample();
    return result;
  }

  /**
   * Info ops used by every configuration are used for good: count them on the group instead, so that
   * `used` stays as small as the configurations' disagreement, not as long as the history.
   */
  function consumeCommonInfo(nodes: SearchNode[]): void {
    for (const node of nodes) if (node.used.length === 0) return;
    let common = nodes[0].used;
    for (let i = 1; i < nodes.length && common.length > 0; i++) {
      const other = nodes[i].used;
      const kept: number[] = [];
      let j = 0;
      for (const id of common) {
        while (j < other.length && other[j] < id) j++;
        if (j < other.length && other[j] === id) {
          kept.push(id);
          j++;
        }
      }
      common = kept;
    }
    if (common.length === 0) return;
    for (const id of common) allGroups[id].consumed++;
    for (let i = 0; i < nodes.length; i++) {
      const remaining: number[] = [];
      let j = 0;
      for (const id of nodes[i].used) {
        if (j < common.length && common[j] === id) j++;
        else remaining.push(id);
      }
      nodes[i] = { ...nodes[i], used: remaining, usedKey: remaining.join(',') };
    }
  }

  /** Deduplicates configurations and drops those dominated by one that used fewer info ops. */
  function deduplicate(nodes: SearchNode[]): SearchNode[] {
    if (nodes.length <= 1) return nodes;
    const byKey = new Map<string, SearchNode>();
    let anyUsed = false;
    for (const node of nodes) {
      const key = node.hash + '|' + node.bits.toString(36) + '|' + node.usedKey;
      const existing = byKey.get(key);
      if (!existing || existing.vanish < node.vanish) byKey.set(key, node);
      if (node.used.length > 0) anyUsed = true;
    }
    const unique = [...byKey.values()];
    if (!anyUsed) return unique;
    const byState = new Map<string, SearchNode[]>();
    for (const node of unique) {
      const key = node.hash + '|' + node.bits.toString(36);
      const list = byState.get(key);
      if (list) list.push(node);
      else byState.set(key, [node]);
    }
    const kept: SearchNode[] = [];
    for (const list of byState.values()) {
      if (list.length === 1) {
        kept.push(list[0]);
        continue;
      }
      list.sort((a, b) => a.used.length - b.used.length || b.vanish - a.vanish);
      for (let i = 0; i < list.length; i++) {
        const candidate = list[i];
        let dominated = false;
        for (let j = 0; j < i && !dominated; j++) {
          const other = list[j];
          dominated = other.vanish >= candidate.vanish && includesAll(candidate.used, other.used);
        }
        if (!dominated) kept.push(candidate);
      }
    }
    return kept;
  }

  function searchDepth(initial: SearchNode): KeySearchResult {
    interface Frame {
      /** Event the frame stands at: the events before it have happened. */
      sequence: number;
      node: SearchNode;
      /** True: a configuration just past a return, to walk forward; false: mid-way to linearizing the op returning at `sequence`. */
      fresh: boolean;
    }
    const stack: Frame[] = [{ sequence: 0, fresh: true, node: initial }];
    let memo = new Set<string>();
    const remember = (key: string): boolean => {
      if (memo.has(key)) return false;
      if (memo.size >= MAX_MEMO_ENTRIES) memo = new Set<string>();
      memo.add(key);
      return true;
    };
    const nodeKey = (node: SearchNode): string =>
      node.hash + '|' + node.bits.toString(36) + '|' + node.usedKey + '|' + node.vanish + (node.lastBare ? '|b' : '|') + (node.hadBlind ? 'h' : '');
    let peakConfigurations = 1;
    const events = input.events;
    try {
      while (stack.length > 0) {
        checkBudget();
        const frame = stack.pop()!;
        moveCursor(frame.sequence);
        let node = frame.node;
        if (frame.fresh && !unknownProducer && frame.sequence > 0 && !producible(node)) continue;
        if (frame.fresh) {
          // Invocations need no choice: walk to the next return, linearizing reads that are legal.
          while (cursor < events.length && events[cursor] > 0) {
            const op = engineOps[events[cursor] - 1];
            apply(cursor++);
            if (op && op.readOnly && model.step(node.state, op.modelOp) !== undefined) {
              node = withBits(node, node.bits | op.mask, extendPath(node.path, op));
            }
          }
          if (cursor >= events.length) return { key: input.key, valid: true, ops: clientOps, peakConfigurations, work };
        }
        const sequence = cursor;
        const target = engineOps[-events[sequence] - 1];
        if (!target) {
          stack.push({ sequence: sequence + 1, node, fresh: true });
          continue;
        }
        const before = stack.length;
        if (frame.fresh) {
          if (!remember(sequence + '|' + nodeKey(node))) continue;
          recordArrival(node, target, sequence);
          if ((node.bits & target.mask) !== 0n) {
            stack.push({ sequence: sequence + 1, node: withBits(node, node.bits & ~target.mask, node.path), fresh: true });
            continue;
          }
          for (const alternative of invisibleAlternatives(node, target)) stack.push({ sequence: sequence + 1, node: alternative, fresh: true });
        }
        const children = expand(node, target, sequence);
        // Explored last: ops that do not yet reach the target; first: the target reached directly.
        for (const child of children) {
          if (child.goal) continue;
          if (remember(sequence + '~' + nodeKey(child.node))) stack.push({ sequence, node: child.node, fresh: false });
        }
        for (const child of children) {
          if (child.goal) stack.push({ sequence: sequence + 1, node: child.node, fresh: true });
        }
        if (stack.length > before && stack.length > peakConfigurations) {
          peakConfigurations = stack.length;
          if (peakConfigurations > limits.maxConfigurations) throw new SearchAbort(`more than ${limits.maxConfigurations} configurations waiting (memory bound)`);
        }
      }
    } catch (error) {
      if (error instanceof SearchAbort) return { key: input.key, valid: 'unknown', ops: clientOps, reason: error.message, limit: error.limit, peakConfigurations, work };
      throw error;
    }
    const result: KeySearchResult = { key: input.key, valid: false, ops: clientOps, peakConfigurations, work };
    if (recordPaths && furthestOp) result.counterexample = buildCounterexample();
    return result;
  }
}
