// Kill and pause are the same shape: act on chosen nodes through the Db, remember them, undo on heal.
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { Nemesis } from '../src/nemesis.js';
import type { TestContext } from '../src/test-context.js';
import type { FaultOp, NemesisPackage } from './types.js';
import {
  TARGET_SELECTORS,
  done,
  drawSeed,
  errorMessage,
  isTargetSelector,
  opRandom,
  opValue,
  pick,
  refused,
  selectTargets,
  throwIfErrors,
  type TargetSelector,
} from './common.js';

export interface ProcessFaultSpec {
  startF: string;
  stopF: string;
  /** What starts the fault on one node, e.g. db.kill. */
  act(db: Db, test: TestContext, name: string): Promise<void>;
  /** What undoes it, e.g. db.start. */
  undo(db: Db, test: TestContext, name: string): Promise<void>;
}

/** A process-fault package: which fault, whom it may choose (from the options; empty means every selector). */
export interface ProcessFaultPackageSpec extends ProcessFaultSpec {
  name: 'kill' | 'pause';
  targets: readonly TargetSelector[] | undefined;
}

/** `startF {targets, seed}` picks a selector and a seed for the nodes; `stopF` undoes every node hit so far. */
export function processFaultPackage(spec: ProcessFaultPackageSpec): NemesisPackage {
  const selectors = spec.targets && spec.targets.length > 0 ? [...spec.targets] : [...TARGET_SELECTORS];
  for (const selector of selectors) if (!isTargetSelector(selector)) throw new Error(`${spec.name}: unknown target '${String(selector)}'`);
  return {
    name: spec.name,
    nemesis: new ProcessFaultNemesis(spec),
    startOp(random: () => number): FaultOp {
      return { f: spec.startF, value: { targets: pick(selectors, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: spec.stopF, value: null };
    },
  };
}

export class ProcessFaultNemesis implements Nemesis {
  readonly fs: readonly string[];
  /** Nodes currently killed or paused by this nemesis (so heal and teardown undo exactly these). */
  private readonly affected = new Set<string>();
  /** The nodes the latest heal brought back, for the completion's value. */
  private lastUndone: string[] = [];

  constructor(private readonly spec: ProcessFaultSpec) {
    this.fs = [spec.startF, spec.stopF];
  }

  async setup(): Promise<void> {}

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    return op.f === this.spec.startF ? this.start(test, db, op) : this.stop(test, db, op);
  }

  private async start(test: TestContext, db: Db, op: Op): Promise<Op> {
    const targets = opValue(op).targets ?? 'one';
    if (!isTargetSelector(targets)) return refused(op, `${op.f}: targets must be one of ${TARGET_SELECTORS.join(', ')}, got ${JSON.stringify(targets)}`);
    const selection = await selectTargets(test, db, targets, opRandom(op));
    // A node a disk fault took out stays down: no kill or pause acts on it (and no heal would bring it back).
    const takenOut = selection.nodes.filter((node) => test.nodesTakenOut?.has(node.name)).map((node) => node.name);
    const names = selection.nodes.map((node) => node.name).filter((name) => !takenOut.includes(name));
    if (takenOut.length > 0) {
      const note = `left alone, taken out by the disk fault: ${takenOut.join(', ')}`;
      selection.note = selection.note ? `${selection.note}; ${note}` : note;
    }
    if (names.length === 0) return refused(op, `${op.f}: every chosen node was taken out by the disk fault (${takenOut.join(', ')})`);
    const results = await Promise.allSettled(names.map((name) => this.spec.act(db, test, name)));
    const hit: string[] = [];
    const errors: string[] = [];
    results.forEach((result, i) => {
      // Recorded even on error: a half-done kill or pause is still worth undoing.
      this.affected.add(names[i]);
      if (result.status === 'fulfilled') hit.push(names[i]);
      else errors.push(`${names[i]}: ${errorMessage(result.reason)}`);
    });
    const value = { targets, nodes: hit, ...(selection.note ? { note: selection.note } : {}), ...(errors.length > 0 ? { errors } : {}) };
    return hit.length === 0 ? refused(op, `${op.f} failed on every node: ${errors.join('; ')}`, value) : done(op, value);
  }

  private async stop(test: TestContext, db: Db, op: Op): Promise<Op> {
    const errors = await this.undoAll(test, db);
    return done(op, errors.length === 0 ? { nodes: [...this.lastUndone] } : { nodes: [...this.lastUndone], errors });
  }

  private async undoAll(test: TestContext, db: Db): Promise<string[]> {
    // A node the disk fault took out after this nemesis hit it refuses to start: it is the disk fault's now.
    for (const name of [...this.affected]) if (test.nodesTakenOut?.has(name)) this.affected.delete(name);
    const names = [...this.affected].sort();
    const results = await Promise.allSettled(names.map((name) => this.spec.undo(db, test, name)));
    const errors: string[] = [];
    this.lastUndone = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        this.affected.delete(names[i]);
        this.lastUndone.push(names[i]);
      } else {
        errors.push(`${names[i]}: ${errorMessage(result.reason)}`);
      }
    });
    return errors;
  }

  async teardown(test: TestContext, db: Db): Promise<void> {
    const errors = await this.undoAll(test, db);
    // One attempt per fault: what failed is forgotten, so a second teardown does not retry it forever.
    this.affected.clear();
    throwIfErrors(`${this.spec.startF} nemesis teardown`, errors);
  }
}
