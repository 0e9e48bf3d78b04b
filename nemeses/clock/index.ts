// Clock skew: rewrites each node's libfaketime offset file, which processes started under it reread on every call.
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import {
  TARGET_SELECTORS,
  done,
  drawSeed,
  isTargetSelector,
  opRandom,
  opValue,
  pick,
  refused,
  selectTargets,
  settleAll,
  throwIfErrors,
  type NemesisOptions,
  type TargetSelector,
} from '../common.js';

/** Bounds on a strobe, which blocks the nemesis worker while it runs. */
export const STROBE_DURATION_MS_MAX = 60_000;
export const STROBE_PERIOD_MS_MIN = 10;
const STROBE_FLIPS_MAX = 2_000;

/** libfaketime's relative offset syntax in seconds: 1500 -> "+1.5", -250 -> "-0.25", 0 -> "+0". */
export function formatOffset(offsetMs: number): string {
  const seconds = Number((Math.abs(offsetMs) / 1000).toFixed(3));
  return `${offsetMs < 0 ? '-' : '+'}${seconds}`;
}

const NOT_SKEWABLE =
  'clock skew cannot reach this target: its process does not honour libfaketime (e.g. Go reads the clock through the vDSO); no clock fault was injected';

class ClockNemesis implements Nemesis {
  readonly fs = ['bump-clock', 'strobe-clock', 'reset-clock'] as const;
  /** Current offset per node, in ms, as last written. */
  private readonly offsets = new Map<string, number>();

  async setup(test: TestContext, db: Db): Promise<void> {
    if (!db.clockSkewable) test.log(`clock nemesis: ${NOT_SKEWABLE}; clock ops will complete as fail`);
  }

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    if (op.f === 'reset-clock') {
      const errors = await this.reset(test);
      return done(op, errors.length === 0 ? { nodes: test.nodes.map((node) => node.name), offset: '+0' } : { errors });
    }
    if (!db.clockSkewable) return refused(op, NOT_SKEWABLE);
    const value = opValue(op);
    const deltaMs = value.deltaMs;
    if (typeof deltaMs !== 'number' || !Number.isFinite(deltaMs)) return refused(op, `${op.f}: deltaMs must be a number, got ${JSON.stringify(deltaMs)}`);
    const targets = value.targets ?? 'one';
    if (!isTargetSelector(targets)) return refused(op, `${op.f}: targets must be one of ${TARGET_SELECTORS.join(', ')}`);
    const selection = await selectTargets(test, db, targets, opRandom(op));
    const note = selection.note ? { note: selection.note } : {};
    if (op.f === 'bump-clock') {
      const written: Record<string, string> = {};
      const errors = await settleAll(
        selection.nodes,
        async (node) => {
          const offsetMs = (this.offsets.get(node.name) ?? 0) + deltaMs;
          // Remember before writing: if the write half-happened, teardown still resets this node.
          this.offsets.set(node.name, offsetMs);
          await test.backend.writeFile(node, node.clockFile, `${formatOffset(offsetMs)}\n`);
          written[node.name] = formatOffset(offsetMs);
        },
        (node) => node.name,
      );
      if (Object.keys(written).length === 0) return refused(op, `bump-clock failed: ${errors.join('; ')}`);
      return done(op, { deltaMs, targets, offsets: written, ...note, ...(errors.length > 0 ? { errors } : {}) });
    }
    // strobe-clock: flip between the current offset and offset + delta, then settle back.
    const periodMs = Math.max(STROBE_PERIOD_MS_MIN, Number(value.periodMs ?? 100));
    const durationMs = Math.min(STROBE_DURATION_MS_MAX, Math.max(0, Number(value.durationMs ?? 2_000)));
    const flipsMax = Math.min(STROBE_FLIPS_MAX, Math.ceil(durationMs / periodMs));
    const deadline = Date.now() + durationMs;
    let flips = 0;
    const errors: string[] = [];
    for (const node of selection.nodes) if (!this.offsets.has(node.name)) this.offsets.set(node.name, 0);
    while (flips < flipsMax && Date.now() < deadline) {
      const shifted = flips % 2 === 0;
      errors.push(
        ...(await settleAll(
          selection.nodes,
          (node) => test.backend.writeFile(node, node.clockFile, `${formatOffset((this.offsets.get(node.name) ?? 0) + (shifted ? deltaMs : 0))}\n`),
          (node) => node.name,
        )),
      );
      flips++;
      if (errors.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, periodMs));
    }
    errors.push(
      ...(await settleAll(
        selection.nodes,
        (node) => test.backend.writeFile(node, node.clockFile, `${formatOffset(this.offsets.get(node.name) ?? 0)}\n`),
        (node) => node.name,
      )),
    );
    const nodes = selection.nodes.map((node) => node.name);
    if (flips === 0 && errors.length > 0) return refused(op, `strobe-clock failed: ${errors.join('; ')}`);
    return done(op, { deltaMs, periodMs, durationMs, flips, nodes, ...note, ...(errors.length > 0 ? { errors } : {}) });
  }

  private async reset(test: TestContext): Promise<string[]> {
    // Every node, not only those we touched: a reset must leave no skewed clock whatever came before.
    const errors = await settleAll(
      test.nodes,
      async (node) => {
        await test.backend.writeFile(node, node.clockFile, '+0\n');
        this.offsets.delete(node.name);
      },
      (node) => node.name,
    );
    return errors;
  }

  async teardown(test: TestContext): Promise<void> {
    const errors = await this.reset(test);
    this.offsets.clear();
    throwIfErrors('clock nemesis teardown', errors);
  }
}

/** bump-clock {deltaMs, targets} (cumulative), strobe-clock {deltaMs, periodMs, durationMs, targets}, reset-clock. */
export function clockPackage(options: NemesisOptions = {}): NemesisPackage {
  const deltaMsMax = options.clockDeltaMsMax ?? 10_000;
  if (!(deltaMsMax > 0)) throw new Error(`clock: clockDeltaMsMax must be positive, got ${deltaMsMax}`);
  const selectors: TargetSelector[] =
    options.clockTargets && options.clockTargets.length > 0 ? options.clockTargets : ['one', 'minority', 'majority', 'all'];
  return {
    name: 'clock',
    nemesis: new ClockNemesis(),
    startOp(random: () => number): FaultOp {
      const magnitude = Math.max(1, Math.round(random() * deltaMsMax));
      const deltaMs = random() < 0.5 ? -magnitude : magnitude;
      const targets = pick(selectors, random);
      const seed = drawSeed(random);
      if (random() < 0.75) return { f: 'bump-clock', value: { deltaMs, targets, seed } };
      return { f: 'strobe-clock', value: { deltaMs, periodMs: 50 + Math.round(random() * 150), durationMs: 1_000 + Math.round(random() * 4_000), targets, seed } };
    },
    healOp(): FaultOp {
      return { f: 'reset-clock', value: null };
    },
  };
}

export default clockPackage;
