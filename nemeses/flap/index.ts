// A flapping network (Target 2019): during its fault window a partition is cut and healed again and again, each
// spell's length drawn from the seed, through the partition nemesis's iptables code in a chain of its own.
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import {
  chainName,
  done,
  drawSeed,
  ensureChain,
  errorMessage,
  numberOption,
  opValue,
  pick,
  refused,
  seededRandom,
  selectTargets,
  settleAll,
  throwIfErrors,
  type NemesisOptions,
  type PartitionMode,
} from '../common.js';
import { applyGrudge, decidePartition, flushGrudge, isPartitionMode, removeChainEverywhere, type Grudge } from '../partition/index.js';

export const FLAP_DEFAULT_MODES: readonly PartitionMode[] = ['random-halves', 'one'];
export const FLAP_DEFAULT_MIN_MS = 200;
export const FLAP_DEFAULT_MAX_MS = 2000;
/** Bounds the loop when no stop comes (a run is always healed by teardown; this bounds a misuse). */
export const FLAP_DEFAULT_TOGGLES_MAX = 1000;
/** The completion's value lists at most this many toggles (the history has every one). */
const TOGGLES_LISTED_MAX = 500;

/** One cut of a flapping network: the partition, how long it stays cut, then how long the network stays whole. */
export interface FlapStep {
  grudge: Grudge;
  description: Record<string, unknown>;
  downMs: number;
  upMs: number;
}

/**
 * The seeded sequence of cuts: the same seed, mode, nodes and bounds give the same partitions and spells,
 * whatever the timing of the run (the loop only decides how far along the sequence it gets).
 */
export class FlapPlan {
  private readonly random: () => number;

  constructor(
    seed: number,
    private readonly mode: PartitionMode,
    private readonly names: readonly string[],
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly primaries: readonly string[] = [],
  ) {
    if (!(minMs >= 0 && maxMs >= minMs)) throw new Error(`flap: expected 0 <= flap-min-ms <= flap-max-ms, got ${minMs} and ${maxMs}`);
    this.random = seededRandom(seed);
  }

  private spellMs(): number {
    return Math.round(this.minMs + this.random() * (this.maxMs - this.minMs));
  }

  /** The next cut; `primaries` (mode primary) names the nodes leading now, else those the plan was made with. */
  next(primaries: readonly string[] = this.primaries): FlapStep {
    const decision = decidePartition(this.mode, this.names, this.random, primaries);
    return { grudge: decision.grudge, description: decision.description, downMs: this.spellMs(), upMs: this.spellMs() };
  }
}

/** What one toggle did, as recorded in the history and the stop's completion. */
export interface FlapToggle {
  toggle: number;
  action: 'cut' | 'heal';
  /** Since the flap started, on the controller's monotonic clock. */
  atMs: number;
  /** How long this spell was planned to last (a heal by stop or teardown has none). */
  spellMs?: number;
  errors?: string[];
  [description: string]: unknown;
}

/** The op `f`s each toggle is recorded under: the report reads them as the `flap-cut` family's periods. */
export const FLAP_CUT_F = 'start-flap-cut';
export const FLAP_HEAL_F = 'stop-flap-cut';

/** The running toggle loop of one flap window; stop() ends it between two iptables changes, never during one. */
class FlapRun {
  readonly toggles: FlapToggle[] = [];
  private readonly startedMs = performance.now();
  private readonly stopping = new AbortController();
  private cut = false;
  private loopError: string | undefined;
  readonly finished: Promise<void>;

  constructor(
    private readonly test: TestContext,
    private readonly chain: string,
    private readonly plan: FlapPlan,
    private readonly togglesMax: number,
    /** Mode primary: who leads before each cut, so every cut isolates the leader of the moment. */
    private readonly primariesNow?: () => Promise<string[] | undefined>,
  ) {
    this.finished = this.loop().catch((error: unknown) => {
      this.loopError = errorMessage(error);
    });
  }

  get isCut(): boolean {
    return this.cut;
  }

  get error(): string | undefined {
    return this.loopError;
  }

  private record(toggle: { action: 'cut' | 'heal'; [detail: string]: unknown }): void {
    const entry: FlapToggle = { ...toggle, toggle: this.toggles.length + 1, action: toggle.action, atMs: Math.round(performance.now() - this.startedMs) };
    this.toggles.push(entry);
    try {
      this.test.recordNemesisEvent?.({ f: entry.action === 'cut' ? FLAP_CUT_F : FLAP_HEAL_F, value: entry });
    } catch (error) {
      // The history may already be closed by a late teardown; the fault itself matters more than its record.
      this.test.log(`flap: could not record toggle ${entry.toggle}: ${errorMessage(error)}`);
    }
  }

  /** Resolves after `ms`, or at once when stopping. */
  private wait(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  private async loop(): Promise<void> {
    // Bounded by togglesMax cuts; stop() ends it sooner.
    for (let cuts = 0; cuts < this.togglesMax && !this.stopping.signal.aborted; cuts++) {
      const primaries = this.primariesNow ? await this.primariesNow() : undefined;
      if (this.stopping.signal.aborted) return;
      const step = this.plan.next(primaries);
      this.cut = true;
      const cutErrors = await applyGrudge(this.test, this.chain, step.grudge);
      this.record({ action: 'cut', spellMs: step.downMs, ...step.description, grudge: step.grudge, ...(cutErrors.length > 0 ? { errors: cutErrors } : {}) });
      if (cutErrors.length === this.test.nodes.length) throw new Error(`cut ${cuts + 1} failed on every node: ${cutErrors.join('; ')}`);
      await this.wait(step.downMs);
      if (this.stopping.signal.aborted) return;
      const healErrors = await flushGrudge(this.test, this.chain);
      this.record({ action: 'heal', spellMs: step.upMs, ...(healErrors.length > 0 ? { errors: healErrors } : {}) });
      // A heal that failed on a node leaves it cut: the next heal (by stop or teardown) must still run.
      if (healErrors.length === 0) this.cut = false;
      await this.wait(step.upMs);
    }
  }

  /** Ends the loop after the iptables change in flight (if any), then heals on `test`'s nodes. */
  async stop(test: TestContext): Promise<string[]> {
    this.stopping.abort();
    await this.finished;
    const errors = await flushGrudge(test, this.chain);
    if (this.cut) this.record({ action: 'heal', by: 'stop', ...(errors.length > 0 ? { errors } : {}) });
    if (errors.length === 0) this.cut = false;
    return errors;
  }

  summary(): Record<string, unknown> {
    const cuts = this.toggles.filter((toggle) => toggle.action === 'cut').length;
    const listed = this.toggles.slice(0, TOGGLES_LISTED_MAX).map(({ grudge: _grudge, ...rest }) => rest);
    return {
      cuts,
      heals: this.toggles.length - cuts,
      toggles: listed,
      ...(this.toggles.length > listed.length ? { togglesNotListed: this.toggles.length - listed.length } : {}),
      ...(this.loopError ? { loopError: this.loopError } : {}),
    };
  }
}

class FlapNemesis implements Nemesis {
  readonly fs = ['start-flap', 'stop-flap'] as const;
  private running: FlapRun | undefined;

  constructor(private readonly options: NemesisOptions) {}

  async setup(test: TestContext): Promise<void> {
    const chain = chainName(test, 'FLAP');
    const errors = await settleAll(test.nodes, (node) => ensureChain(test, node, chain, ['INPUT', 'OUTPUT']), (node) => node.name);
    throwIfErrors('flap nemesis setup (is iptables installed on the nodes?)', errors);
  }

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    if (op.f === 'stop-flap') return this.stop(test, op);
    return this.start(test, db, op);
  }

  private async start(test: TestContext, db: Db, op: Op): Promise<Op> {
    const value = opValue(op);
    const sources = [value, this.options as Record<string, unknown>];
    let minMs: number;
    let maxMs: number;
    let togglesMax: number;
    try {
      minMs = numberOption(sources, 'flap-min-ms', 10, 3_600_000) ?? FLAP_DEFAULT_MIN_MS;
      maxMs = numberOption(sources, 'flap-max-ms', 10, 3_600_000) ?? Math.max(minMs, FLAP_DEFAULT_MAX_MS);
      togglesMax = numberOption(sources, 'flap-toggles-max', 1, 100_000) ?? FLAP_DEFAULT_TOGGLES_MAX;
    } catch (error) {
      return refused(op, errorMessage(error));
    }
    if (minMs > maxMs) return refused(op, `flap-min-ms (${minMs}) is above flap-max-ms (${maxMs})`);
    const requested = value.mode ?? 'random-halves';
    if (!isPartitionMode(requested)) return refused(op, `unknown partition mode '${String(requested)}'`);
    const seed = typeof value.seed === 'number' ? value.seed : 0x5eed;
    let mode: PartitionMode = requested;
    let primaries: string[] = [];
    let note: string | undefined;
    if (mode === 'primary') {
      const selection = await selectTargets(test, db, 'primary', seededRandom(seed));
      if (selection.note) {
        mode = 'one';
        note = `${selection.note}; flapping as 'one'`;
      } else {
        primaries = selection.nodes.map((node) => node.name);
      }
    }
    // A second start while one flaps (a hand-written timeline) replaces it: healed first, so cuts never stack.
    const previous = this.running;
    this.running = undefined;
    const previousErrors = previous ? await previous.stop(test) : [];
    const plan = new FlapPlan(seed, mode, test.nodes.map((node) => node.name), minMs, maxMs, primaries);
    // A leader that is cut off loses its lead: mode primary asks again before each cut, keeping the last answer
    // when the target names none (mid-election), so the flap follows the leadership around.
    let lastPrimaries = primaries;
    const primariesNow = mode === 'primary'
      ? async () => {
        const selection = await selectTargets(test, db, 'primary', seededRandom(seed));
        if (!selection.note) lastPrimaries = selection.nodes.map((node) => node.name);
        return lastPrimaries;
      }
      : undefined;
    this.running = new FlapRun(test, chainName(test, 'FLAP'), plan, togglesMax, primariesNow);
    return done(op, {
      mode: requested,
      ...(mode !== requested ? { appliedMode: mode } : {}),
      seed,
      flapMinMs: minMs,
      flapMaxMs: maxMs,
      ...(primaries.length > 0 ? { isolated: primaries } : {}),
      ...(note ? { note } : {}),
      ...(previous ? { replaced: previous.summary(), ...(previousErrors.length > 0 ? { errors: previousErrors } : {}) } : {}),
    });
  }

  private async stop(test: TestContext, op: Op): Promise<Op> {
    const run = this.running;
    if (!run) {
      // Nothing flaps; still flush, since a stop must leave the network whole whatever came before.
      const errors = await flushGrudge(test, chainName(test, 'FLAP'));
      return done(op, errors.length === 0 ? { cuts: 0, note: 'no flap was running' } : { healed: false, errors });
    }
    const errors = await run.stop(test);
    if (errors.length === 0) this.running = undefined;
    return done(op, { ...run.summary(), ...(errors.length > 0 ? { healed: false, errors } : {}) });
  }

  async teardown(test: TestContext): Promise<void> {
    const errors: string[] = [];
    const run = this.running;
    this.running = undefined;
    if (run) errors.push(...(await run.stop(test)));
    errors.push(...(await removeChainEverywhere(test, chainName(test, 'FLAP'))));
    throwIfErrors('flap nemesis teardown', errors);
  }
}

/**
 * A flapping network: start-flap {mode, seed, flap-min-ms, flap-max-ms} starts the toggling and completes at
 * once; stop-flap ends it, heals, and completes with every toggle. Each cut and heal is also its own nemesis
 * op in the history (start-flap-cut, stop-flap-cut), so the report draws every cut.
 */
export function flapPackage(options: NemesisOptions = {}): NemesisPackage {
  const modes = options.flapModes && options.flapModes.length > 0 ? options.flapModes : [...FLAP_DEFAULT_MODES];
  for (const mode of modes) if (!isPartitionMode(mode)) throw new Error(`flap: unknown mode '${String(mode)}'`);
  return {
    name: 'flap',
    nemesis: new FlapNemesis(options),
    startOp(random: () => number): FaultOp {
      return { f: 'start-flap', value: { mode: pick(modes, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'stop-flap', value: null };
    },
  };
}

export default flapPackage;
