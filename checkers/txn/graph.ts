// The dependency graph between transactions as flat typed arrays, with Tarjan's strongly connected components
// and the breadth-first cycle searches that name anomalies. Sized for millions of edges; the large arrays come
// from the check's Arena (see arena.ts for why).
import { noArena, type Arena } from './arena.js';

/** Edge kinds as bits, so one search can allow several at once. */
export const EdgeKind = {
  ww: 1,
  wr: 2,
  rw: 4,
  process: 8,
  realtime: 16,
} as const;
export type EdgeKindName = keyof typeof EdgeKind;

const emptyInts = new Int32Array(0);

export const dataEdges = EdgeKind.ww | EdgeKind.wr | EdgeKind.rw;

export function edgeKindName(kind: number): EdgeKindName {
  switch (kind) {
    case EdgeKind.ww:
      return 'ww';
    case EdgeKind.wr:
      return 'wr';
    case EdgeKind.rw:
      return 'rw';
    case EdgeKind.process:
      return 'process';
    default:
      return 'realtime';
  }
}

/**
 * Edges as they are found: from, to, kind, and the key of a data edge. The value that explains an edge is
 * recomputed from the two transactions when a cycle is reported: storing it would cost a pointer per edge.
 */
export class EdgeList {
  count = 0;
  from: Int32Array;
  to: Int32Array;
  kind: Uint8Array;
  /** Key id of a data edge (-1 for process and realtime edges). */
  key: Int32Array;

  /** Sized from an estimate (a few edges per transaction): each doubling copies every edge so far. */
  constructor(
    capacity = 1024,
    private readonly arena: Arena = noArena,
  ) {
    const size = Math.max(16, capacity);
    this.from = arena.int32(size);
    this.to = arena.int32(size);
    this.kind = arena.uint8(size);
    this.key = arena.int32(size);
  }
  add(from: number, to: number, kind: number, key: number): void {
    if (this.count === this.from.length) {
      const capacity = Math.ceil(this.from.length * 1.5);
      this.from = this.arena.grownInt32(this.from, capacity);
      this.to = this.arena.grownInt32(this.to, capacity);
      this.key = this.arena.grownInt32(this.key, capacity);
      this.kind = this.arena.grownUint8(this.kind, capacity);
    }
    this.from[this.count] = from;
    this.to[this.count] = to;
    this.kind[this.count] = kind;
    this.key[this.count] = key;
    this.count++;
  }
}

/** Bytes an EdgeList of `capacity` edges takes. */
export function edgeListBytes(capacity: number): number {
  return 13 * capacity + 64;
}

/** Bytes buildGraph takes for `nodeCount` nodes and `edgeCount` edges. */
export function graphBytes(nodeCount: number, edgeCount: number): number {
  return 8 * (nodeCount + 1) + 9 * edgeCount + 64;
}

/** Bytes a Searcher may take over `nodeCount` nodes: the acyclicity test, Tarjan's arrays and stacks, the searches' arrays. */
export function searcherBytes(nodeCount: number): number {
  return 61 * nodeCount + 512;
}

/** Compressed adjacency (CSR): out-edges of node n are positions offsets[n] .. offsets[n+1]-1. */
export interface Graph {
  nodeCount: number;
  offsets: Int32Array;
  targets: Int32Array;
  kinds: Uint8Array;
  /** Key id of each adjacency entry's data edge (-1 for order edges). */
  keys: Int32Array;
}

export function buildGraph(nodeCount: number, edges: EdgeList, arena: Arena = noArena): Graph {
  const offsets = arena.int32(nodeCount + 1);
  for (let edge = 0; edge < edges.count; edge++) offsets[edges.from[edge] + 1]++;
  for (let node = 0; node < nodeCount; node++) offsets[node + 1] += offsets[node];
  const cursor = arena.int32(nodeCount);
  cursor.set(offsets.subarray(0, nodeCount));
  const targets = arena.int32(edges.count);
  const kinds = arena.uint8(edges.count);
  const keys = arena.int32(edges.count);
  for (let edge = 0; edge < edges.count; edge++) {
    const slot = cursor[edges.from[edge]]++;
    targets[slot] = edges.to[edge];
    kinds[slot] = edges.kind[edge];
    keys[slot] = edges.key[edge];
  }
  return { nodeCount, offsets, targets, kinds, keys };
}

/**
 * Scratch space shared by every search over one graph: epoch-stamped arrays, so a search over a small
 * component costs its own size, not the whole graph's.
 */
export class Searcher {
  private epoch = 0;
  // Made on first use, as the breadth-first searches' arrays: a valid history needs only `acyclic`.
  private seen: Int32Array = emptyInts;
  private index: Int32Array = emptyInts;
  private low: Int32Array = emptyInts;
  private onStack: Uint8Array = new Uint8Array(0);
  // The breadth-first searches' arrays are made on first use: a valid history never needs them.
  private parentEdge: Int32Array = emptyInts;
  /** The node (or search state) each reached one was reached from. */
  private parentSlot: Int32Array = emptyInts;
  private member: Int32Array = emptyInts;
  private memberEpoch = 0;
  private queue: Int32Array = emptyInts;
  /** Adjacency positions spent by searches so far: the budget every search draws from. */
  steps = 0;

  constructor(
    readonly graph: Graph,
    private readonly arena: Arena = noArena,
  ) {}

  private ensureTarjanArrays(): void {
    if (this.seen.length > 0) return;
    this.seen = this.arena.int32(this.graph.nodeCount * 2);
    this.index = this.arena.int32(this.graph.nodeCount);
    this.low = this.arena.int32(this.graph.nodeCount);
    this.onStack = this.arena.uint8(this.graph.nodeCount);
  }

  private ensureSearchArrays(): void {
    this.ensureTarjanArrays();
    if (this.queue.length > 0) return;
    const size = this.graph.nodeCount * 2;
    this.parentEdge = this.arena.int32(size);
    this.parentSlot = this.arena.int32(size);
    this.member = this.arena.int32(this.graph.nodeCount);
    this.queue = this.arena.int32(size);
  }

  /** Restricts later searches to these nodes (null: every node). */
  restrictTo(nodes: Int32Array | null): void {
    this.ensureSearchArrays();
    this.memberEpoch++;
    if (nodes) for (const node of nodes) this.member[node] = this.memberEpoch;
    this.restricted = nodes !== null;
  }
  private restricted = false;

  contains(node: number): boolean {
    return !this.restricted || this.member[node] === this.memberEpoch;
  }

  /**
   * Tarjan's algorithm, iteratively, over `roots` (and what they reach inside the restriction) using only
   * edges whose kind is in `mask`. Returns the components that hold a cycle (two or more nodes).
   */
  components(roots: Int32Array | null, mask: number): Int32Array[] {
    this.ensureTarjanArrays();
    const { offsets, targets, kinds } = this.graph;
    const epoch = ++this.epoch;
    const found: Int32Array[] = [];
    // Typed stacks: a component search over millions of nodes should not grow JS arrays.
    const capacity = roots ? roots.length : this.graph.nodeCount;
    const stack = this.stackScratch(capacity, 0);
    const frameNode = this.stackScratch(capacity, 1);
    const frameEdge = this.stackScratch(capacity, 2);
    let stackSize = 0;
    let frames = 0;
    let counter = 0;
    const rootCount = roots ? roots.length : this.graph.nodeCount;
    for (let rootPosition = 0; rootPosition < rootCount; rootPosition++) {
      const root = roots ? roots[rootPosition] : rootPosition;
      if (this.seen[root] === epoch) continue;
      this.seen[root] = epoch;
      this.index[root] = this.low[root] = counter++;
      stack[stackSize++] = root;
      this.onStack[root] = 1;
      frameNode[frames] = root;
      frameEdge[frames++] = offsets[root];
      while (frames > 0) {
        const top = frames - 1;
        const node = frameNode[top];
        const edge = frameEdge[top];
        if (edge < offsets[node + 1]) {
          frameEdge[top] = edge + 1;
          if ((kinds[edge] & mask) === 0) continue;
          const next = targets[edge];
          if (!this.contains(next)) continue;
          if (this.seen[next] !== epoch) {
            this.seen[next] = epoch;
            this.index[next] = this.low[next] = counter++;
            stack[stackSize++] = next;
            this.onStack[next] = 1;
            frameNode[frames] = next;
            frameEdge[frames++] = offsets[next];
          } else if (this.onStack[next] === 1 && this.index[next] < this.low[node]) {
            this.low[node] = this.index[next];
          }
          continue;
        }
        frames--;
        if (this.low[node] === this.index[node]) {
          let start = stackSize - 1;
          while (stack[start] !== node) start--;
          if (stackSize - start > 1) found.push(stack.slice(start, stackSize));
          for (let position = start; position < stackSize; position++) this.onStack[stack[position]] = 0;
          stackSize = start;
        }
        if (frames > 0) {
          const parent = frameNode[frames - 1];
          if (this.low[node] < this.low[parent]) this.low[parent] = this.low[node];
        }
      }
    }
    return found;
  }

  /**
   * Whether the graph (every node, edges whose kind is in `mask`; self-loops aside, as `components` reports
   * none of one node) has no cycle: Kahn's peeling of nodes with no incoming edge left. A linear pass with two
   * array touches per edge, where Tarjan makes several: a valid history, the common case, is decided by it alone.
   */
  acyclic(mask: number): boolean {
    const { nodeCount, offsets, targets, kinds } = this.graph;
    const incoming = this.arena.int32(nodeCount);
    for (let node = 0; node < nodeCount; node++) {
      for (let edge = offsets[node]; edge < offsets[node + 1]; edge++) {
        if ((kinds[edge] & mask) !== 0 && targets[edge] !== node) incoming[targets[edge]]++;
      }
    }
    const ready = this.stackScratch(nodeCount, 0);
    let readyCount = 0;
    for (let node = 0; node < nodeCount; node++) if (incoming[node] === 0) ready[readyCount++] = node;
    let peeled = 0;
    while (readyCount > 0) {
      const node = ready[--readyCount];
      peeled++;
      for (let edge = offsets[node]; edge < offsets[node + 1]; edge++) {
        const next = targets[edge];
        if ((kinds[edge] & mask) !== 0 && next !== node && --incoming[next] === 0) ready[readyCount++] = next;
      }
    }
    return peeled === nodeCount;
  }

  private readonly stacks: Int32Array[] = [];
  /** Reused stacks for Tarjan: the whole graph's search and each component's share them. */
  private stackScratch(capacity: number, slot: number): Int32Array {
    const existing = this.stacks[slot];
    if (existing && existing.length >= capacity) return existing;
    const created = this.arena.int32(Math.max(capacity, 16));
    this.stacks[slot] = created;
    return created;
  }

  /**
   * Shortest path from `from` to `to` over edges in `mask` (inside the restriction), as adjacency positions;
   * `from === to` finds the shortest cycle through it. Null when there is none or the step budget ran out.
   */
  shortestPath(from: number, to: number, mask: number, stepsMax: number): number[] | null {
    this.ensureSearchArrays();
    const { offsets, targets, kinds } = this.graph;
    const epoch = ++this.epoch;
    let head = 0;
    let tail = 0;
    this.queue[tail++] = from;
    this.seen[from] = epoch;
    while (head < tail) {
      const node = this.queue[head++];
      for (let edge = offsets[node]; edge < offsets[node + 1]; edge++) {
        if (++this.steps > stepsMax) return null;
        if ((kinds[edge] & mask) === 0) continue;
        const next = targets[edge];
        if (next === to) return this.tracePath(from, node, edge);
        if (this.seen[next] === epoch || !this.contains(next)) continue;
        this.seen[next] = epoch;
        this.parentEdge[next] = edge;
        this.parentSlot[next] = node;
        this.queue[tail++] = next;
      }
    }
    return null;
  }

  /** Follows parent links back from `last` (reached from `lastEdge`'s source) to `from`. */
  private tracePath(from: number, last: number, lastEdge: number): number[] {
    const path = [lastEdge];
    let slot = last;
    while (slot !== from) {
      path.push(this.parentEdge[slot]);
      slot = this.parentSlot[slot];
    }
    return path.reverse();
  }

  /**
   * A closed walk through `start`, entered by a non-rw edge, on which no two rw edges follow one another:
   * what snapshot isolation forbids (G-nonadjacent and everything weaker). States are (node, last edge rw).
   */
  walkWithoutAdjacentRw(start: number, mask: number, stepsMax: number): number[] | null {
    this.ensureSearchArrays();
    const { offsets, targets, kinds } = this.graph;
    const epoch = ++this.epoch;
    let head = 0;
    let tail = 0;
    this.queue[tail++] = start * 2;
    this.seen[start * 2] = epoch;
    while (head < tail) {
      const state = this.queue[head++];
      const node = state >> 1;
      const lastRw = state & 1;
      for (let edge = offsets[node]; edge < offsets[node + 1]; edge++) {
        if (++this.steps > stepsMax) return null;
        const kind = kinds[edge];
        if ((kind & mask) === 0) continue;
        const isRw = kind === EdgeKind.rw ? 1 : 0;
        if (isRw && lastRw) continue;
        const next = targets[edge];
        if (next === start && !isRw) return this.tracePath(start * 2, state, edge);
        const nextState = next * 2 + isRw;
        if (this.seen[nextState] === epoch || !this.contains(next)) continue;
        this.seen[nextState] = epoch;
        this.parentEdge[nextState] = edge;
        this.parentSlot[nextState] = state;
        this.queue[tail++] = nextState;
      }
    }
    return null;
  }
}
