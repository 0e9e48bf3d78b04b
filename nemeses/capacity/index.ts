// A mistyped capacity removal (S3 2017): an operator meant to take out a few nodes and took out more, at once;
// they come back one by one, slowly, as a large subsystem restarts. Kills and restarts through nemeses/kill.
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import { done, drawSeed, errorMessage, numberOption, opValue, refused, seededRandom, shuffle, throwIfErrors, type NemesisOptions } from '../common.js';
import { killNode, restartNode } from '../kill/index.js';

export const CAPACITY_DEFAULT_INTENDED = 1;
export const CAPACITY_DEFAULT_RESTART_DELAY_MS = 2000;
/** A heal restarts every node within one nemesis op, which the runner bounds at 60 s: keep the delays well inside. */
export const CAPACITY_RESTART_DELAY_MS_MAX = 20_000;
const RESTARTS_SPAN_MS_MAX = 40_000;

export type RemovedCount = number | 'one' | 'minority' | 'majority' | 'all';
const REMOVED_SELECTORS = ['one', 'minority', 'majority', 'all'] as const;

/** How many of `clusterSize` nodes a `removed` value names (selectors count the whole cluster, as a quorum does). */
export function removedCount(removed: RemovedCount, clusterSize: number): number {
  switch (removed) {
    case 'one':
      return 1;
    case 'minority':
      return Math.max(1, Math.floor((clusterSize - 1) / 2));
    case 'majority':
      return Math.floor(clusterSize / 2) + 1;
    case 'all':
      return clusterSize;
    default:
      return removed;
  }
}

export interface CapacityChoice {
  nodes: string[];
  /** What `removed` asked for, as a count of the whole cluster. */
  requested: number;
  note?: string;
}

/**
 * The nodes a removal takes: `removed` of them, drawn from the seed among those no other fault took out for
 * good (those stay down and are not chosen; when too few remain, all that remain go, and the note says so).
 */
export function chooseCapacityTargets(names: readonly string[], takenOut: ReadonlySet<string>, removed: RemovedCount, random: () => number): CapacityChoice {
  const requested = removedCount(removed, names.length);
  const available = names.filter((name) => !takenOut.has(name));
  const nodes = shuffle(available, random).slice(0, requested);
  const left = names.filter((name) => takenOut.has(name));
  const notes: string[] = [];
  if (left.length > 0) notes.push(`left alone, taken out by the disk fault: ${left.join(', ')}`);
  if (nodes.length < requested) notes.push(`asked for ${requested}, only ${nodes.length} could be removed`);
  return { nodes, requested, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) };
}

function parseRemoved(raw: unknown, clusterSize: number): RemovedCount {
  if (raw === undefined || raw === null) return 'majority';
  if (typeof raw === 'string' && (REMOVED_SELECTORS as readonly string[]).includes(raw)) return raw as RemovedCount;
  const count = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(count) || count < 1 || count > clusterSize) {
    throw new Error(`removed: expected ${REMOVED_SELECTORS.join(', ')} or an integer from 1 to ${clusterSize}, got ${JSON.stringify(raw)}`);
  }
  return count;
}

class CapacityNemesis implements Nemesis {
  readonly fs = ['remove-capacity', 'restore-capacity'] as const;
  /** Removed nodes not yet restarted, in the order they will come back. */
  private removed: string[] = [];
  private restartDelayMs: number;

  constructor(private readonly options: NemesisOptions) {
    this.restartDelayMs = CAPACITY_DEFAULT_RESTART_DELAY_MS;
  }

  async setup(): Promise<void> {}

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    return op.f === 'restore-capacity' ? this.restore(test, db, op) : this.remove(test, db, op);
  }

  private async remove(test: TestContext, db: Db, op: Op): Promise<Op> {
    const value = opValue(op);
    const sources = [value, this.options as Record<string, unknown>];
    let intended: number;
    let removed: RemovedCount;
    let restartDelayMs: number;
    try {
      intended = numberOption(sources, 'intended', 0, test.nodes.length) ?? CAPACITY_DEFAULT_INTENDED;
      removed = parseRemoved(value.removed ?? this.options.removed, test.nodes.length);
      restartDelayMs = numberOption(sources, 'restart-delay-ms', 0, CAPACITY_RESTART_DELAY_MS_MAX) ?? CAPACITY_DEFAULT_RESTART_DELAY_MS;
    } catch (error) {
      return refused(op, `remove-capacity: ${errorMessage(error)}`);
    }
    if (!Number.isInteger(intended)) return refused(op, `remove-capacity: intended: expected an integer, got ${intended}`);
    const seed = typeof value.seed === 'number' ? value.seed : 0x5eed;
    const names = test.nodes.map((node) => node.name);
    // Nodes this nemesis already removed stay removed; the new choice is among the others.
    const choice = chooseCapacityTargets(names, new Set([...(test.nodesTakenOut ?? []), ...this.removed]), removed, seededRandom(seed));
    if ((this.removed.length + choice.nodes.length - 1) * restartDelayMs > RESTARTS_SPAN_MS_MAX) {
      return refused(op, `remove-capacity: restart-delay-ms ${restartDelayMs} between ${this.removed.length + choice.nodes.length} restarts would run past the heal's bound (${RESTARTS_SPAN_MS_MAX} ms)`);
    }
    if (choice.nodes.length === 0) return refused(op, `remove-capacity: no node left to remove${choice.note ? ` (${choice.note})` : ''}`);
    this.restartDelayMs = restartDelayMs;
    const results = await Promise.allSettled(choice.nodes.map((name) => killNode(db, test, name)));
    const hit: string[] = [];
    const errors: string[] = [];
    results.forEach((result, index) => {
      // Remembered even on error: a half-done kill is still worth a restart.
      this.removed.push(choice.nodes[index]);
      if (result.status === 'fulfilled') hit.push(choice.nodes[index]);
      else errors.push(`${choice.nodes[index]}: ${errorMessage(result.reason)}`);
    });
    const completion = {
      intended,
      removed: hit.length,
      requested: typeof removed === 'number' ? removed : `${removed} (${choice.requested})`,
      extra: hit.length - intended,
      nodes: hit,
      restartDelayMs,
      ...(choice.note ? { note: choice.note } : {}),
      ...(errors.length > 0 ? { errors } : {}),
    };
    test.log(`capacity: meant to remove ${intended} node(s), removed ${hit.length}: ${hit.join(', ') || 'none'}`);
    return hit.length === 0 ? refused(op, `remove-capacity failed on every node: ${errors.join('; ')}`, completion) : done(op, completion);
  }

  /** Restarts the removed nodes one at a time, `delayMs` apart; returns the errors met. */
  private async restartAll(test: TestContext, db: Db, delayMs: number, restarted: Array<{ node: string; atMs: number }>): Promise<string[]> {
    const errors: string[] = [];
    const startedMs = performance.now();
    // A node a disk fault took out since is that fault's now: it refuses to start.
    this.removed = this.removed.filter((name) => !test.nodesTakenOut?.has(name));
    const queue = [...this.removed];
    for (const [position, name] of queue.entries()) {
      if (position > 0 && delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      try {
        await restartNode(db, test, name);
        this.removed = this.removed.filter((other) => other !== name);
        const entry = { node: name, atMs: Math.round(performance.now() - startedMs), restarted: `${position + 1} of ${queue.length}` };
        restarted.push(entry);
        try {
          test.recordNemesisEvent?.({ f: 'capacity-restart', value: entry });
        } catch (error) {
          test.log(`capacity: could not record the restart of ${name}: ${errorMessage(error)}`);
        }
      } catch (error) {
        errors.push(`${name}: ${errorMessage(error)}`);
      }
    }
    return errors;
  }

  private async restore(test: TestContext, db: Db, op: Op): Promise<Op> {
    let delayMs: number;
    try {
      delayMs = numberOption([opValue(op)], 'restart-delay-ms', 0, CAPACITY_RESTART_DELAY_MS_MAX) ?? this.restartDelayMs;
    } catch (error) {
      return refused(op, `restore-capacity: ${errorMessage(error)}`);
    }
    const restarted: Array<{ node: string; atMs: number }> = [];
    const errors = await this.restartAll(test, db, delayMs, restarted);
    return done(op, { nodes: restarted.map((entry) => entry.node), restartDelayMs: delayMs, restarts: restarted, ...(errors.length > 0 ? { errors } : {}) });
  }

  async teardown(test: TestContext, db: Db): Promise<void> {
    // The run is ending: no need to stagger, only to bring every node back.
    const errors = await this.restartAll(test, db, 0, []);
    // One attempt per node: what failed is forgotten, so a second teardown does not retry it forever.
    this.removed = [];
    throwIfErrors('capacity nemesis teardown', errors);
  }
}

/**
 * remove-capacity {intended, removed, restart-delay-ms, seed} kills `removed` nodes (default a majority) where
 * `intended` were meant; restore-capacity restarts them one by one, restart-delay-ms apart.
 */
export function capacityPackage(options: NemesisOptions = {}): NemesisPackage {
  return {
    name: 'capacity',
    nemesis: new CapacityNemesis(options),
    startOp(random: () => number): FaultOp {
      return { f: 'remove-capacity', value: { seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'restore-capacity', value: null };
    },
  };
}

export default capacityPackage;
