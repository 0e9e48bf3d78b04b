// What every nemesis shares: options, seeded choices, target selection, iptables chains and op completions.
import { createHash } from 'node:crypto';
import type { Node } from '../src/backends/types.js';
import { createRandom } from '../src/generator/random.js';
import type { Db } from '../src/db.js';
import type { Op } from '../src/history/types.js';
import type { TestContext } from '../src/test-context.js';

export type PartitionMode = 'halves' | 'random-halves' | 'majorities-ring' | 'bridge' | 'one' | 'primary';
export const PARTITION_MODES: readonly PartitionMode[] = ['halves', 'random-halves', 'majorities-ring', 'bridge', 'one', 'primary'];

export type TargetSelector = 'one' | 'minority' | 'majority' | 'all' | 'primary';
export const TARGET_SELECTORS: readonly TargetSelector[] = ['one', 'minority', 'majority', 'all', 'primary'];

export type CorruptMode = 'bitflip' | 'truncate';

/** Options of every nemesis package; each reads the fields it knows. */
export interface NemesisOptions {
  /** Modes start-partition chooses among. Default: all six. */
  partitionModes?: PartitionMode[];
  /** Whom kill chooses among. Default: all five selectors. */
  killTargets?: TargetSelector[];
  /** Whom pause chooses among. Default: all five selectors. */
  pauseTargets?: TargetSelector[];
  /** Loss rate start-packet asks for. Default 20. */
  packetLossPercent?: number;
  /** Largest clock offset a bump or strobe uses, either way. Default 10 000 ms. */
  clockDeltaMsMax?: number;
  /** Whom clock faults choose among. Default one, minority, majority, all. */
  clockTargets?: TargetSelector[];
  /** Disk faults startOp chooses among. Default all three. */
  diskFaults?: Array<'bitflip' | 'truncate' | 'fill'>;
  /** Upper bound of a fill-disk filler file, in MiB (the volume should fill long before). Default 1024. */
  fillMbMax?: number;
  /** Partition shapes a flapping network cuts with. Default random-halves and one (a node isolated). */
  flapModes?: PartitionMode[];
  /** Shortest and longest cut or healed spell of a flapping network (also `flap-min-ms`, `flap-max-ms`). Default 200 and 2000. */
  flapMinMs?: number;
  flapMaxMs?: number;
  /** capacity: how many nodes the operator meant to remove (default 1) and how many go (a count or a selector; default majority). */
  intended?: number;
  removed?: number | 'one' | 'minority' | 'majority' | 'all';
  /** capacity: pause between one node's restart and the next on heal (also `restart-delay-ms`). Default 2000. */
  restartDelayMs?: number;
}

/**
 * The project's one seeded PRNG (src/generator/random.ts) as the plain [0, 1) source nemesis packages take:
 * a fault op carries its seed, so the same op picks the same nodes.
 */
export function seededRandom(seed: number): () => number {
  return createRandom(seed).next;
}

/** A 32-bit seed drawn from the schedule's random source, stored in the op's value. */
export function drawSeed(random: () => number): number {
  return Math.floor(random() * 4294967296) >>> 0;
}

export function pick<T>(items: readonly T[], random: () => number): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))];
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** The seed an op carries in its value, or a fixed one when a hand-written op has none. */
export function opRandom(op: Op): () => number {
  const value = op.value as { seed?: unknown } | null | undefined;
  const seed = typeof value?.seed === 'number' ? value.seed : 0x5eed;
  return seededRandom(seed);
}

export function opValue(op: Op): Record<string, unknown> {
  return op.value !== null && typeof op.value === 'object' ? (op.value as Record<string, unknown>) : {};
}

/** A fault that was carried out: Jepsen completes nemesis ops as info, with what was done as the value. */
export function done(op: Op, value: unknown): Op {
  return { ...op, type: 'info', value };
}

/** A fault that certainly was not injected, with the reason. */
export function refused(op: Op, error: string, value: unknown = op.value): Op {
  return { ...op, type: 'fail', value, error };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function nodeNamed(test: TestContext, name: string): Node {
  const node = test.nodes.find((candidate) => candidate.name === name);
  if (!node) throw new Error(`no node named ${name}`);
  return node;
}

/**
 * The nodes a selector names. 'primary' asks the Db and falls back to one random node, with a note,
 * when it cannot name one.
 */
export async function selectTargets(
  test: TestContext,
  db: Db,
  selector: TargetSelector,
  random: () => number,
): Promise<{ nodes: Node[]; note?: string }> {
  const nodes = test.nodes;
  const count = nodes.length;
  switch (selector) {
    case 'one':
      return { nodes: [pick(nodes, random)] };
    case 'minority':
      return { nodes: shuffle(nodes, random).slice(0, Math.max(1, Math.floor((count - 1) / 2))) };
    case 'majority':
      return { nodes: shuffle(nodes, random).slice(0, Math.floor(count / 2) + 1) };
    case 'all':
      return { nodes: [...nodes] };
    case 'primary': {
      if (!db.primaries) return { nodes: [pick(nodes, random)], note: 'the target cannot name a primary: chose one random node' };
      let names: string[];
      try {
        names = await db.primaries(test);
      } catch (error) {
        return { nodes: [pick(nodes, random)], note: `asking for primaries failed (${errorMessage(error)}): chose one random node` };
      }
      const primaries = nodes.filter((node) => names.includes(node.name));
      if (primaries.length === 0) return { nodes: [pick(nodes, random)], note: 'no node claims to be primary: chose one random node' };
      return { nodes: primaries };
    }
    default:
      throw new Error(`unknown target selector '${String(selector)}'`);
  }
}

export function isTargetSelector(value: unknown): value is TargetSelector {
  return typeof value === 'string' && (TARGET_SELECTORS as readonly string[]).includes(value);
}

/**
 * A per-run iptables chain name for one kind of fault. Partition, packet loss and the flapping network get
 * separate chains so healing one (a flush of its chain) never heals another. Short enough for iptables' 28-character limit.
 */
export function chainName(test: TestContext, kind: 'PART' | 'LOSS' | 'FLAP'): string {
  return `FL-${kind}-${createHash('sha256').update(test.runId).digest('hex').slice(0, 8)}`;
}

const IPTABLES_TIMEOUT_MS = 15_000;

/** Runs `iptables-restore --noflush` with the given rule lines on a node (atomic: all or nothing). */
export async function iptablesRestore(test: TestContext, node: Node, lines: readonly string[]): Promise<void> {
  const script = `*filter\n${lines.join('\n')}\nCOMMIT\n`;
  await test.backend.exec(node, ['iptables-restore', '--noflush', '-w', '5'], { stdin: script, timeoutMs: IPTABLES_TIMEOUT_MS });
}

export async function iptables(test: TestContext, node: Node, args: readonly string[], allowFailure = false): Promise<number> {
  const result = await test.backend.exec(node, ['iptables', '-w', '5', ...args], { allowFailure, timeoutMs: IPTABLES_TIMEOUT_MS });
  return result.exitCode;
}

/**
 * Creates the chain on the node (if missing) and jumps to it from the given built-in chains (once).
 * Idempotent, so a second setup or a retried one adds nothing twice.
 */
export async function ensureChain(test: TestContext, node: Node, chain: string, from: readonly ('INPUT' | 'OUTPUT')[]): Promise<void> {
  if ((await iptables(test, node, ['-S', chain], true)) !== 0) await iptables(test, node, ['-N', chain]);
  for (const builtIn of from) {
    if ((await iptables(test, node, ['-C', builtIn, '-j', chain], true)) !== 0) {
      await iptables(test, node, ['-I', builtIn, '1', '-j', chain]);
    }
  }
}

/** Removes the chain and its jumps; every step tolerates its absence. Returns the errors met. */
export async function removeChain(test: TestContext, node: Node, chain: string, from: readonly ('INPUT' | 'OUTPUT')[]): Promise<string[]> {
  const errors: string[] = [];
  try {
    for (const builtIn of from) {
      // Bounded: a jump added twice by a crashed setup is removed twice.
      for (let attempt = 0; attempt < 5; attempt++) {
        if ((await iptables(test, node, ['-D', builtIn, '-j', chain], true)) !== 0) break;
      }
    }
    if ((await iptables(test, node, ['-S', chain], true)) === 0) {
      await iptables(test, node, ['-F', chain]);
      await iptables(test, node, ['-X', chain]);
    }
  } catch (error) {
    errors.push(`${node.name}: ${errorMessage(error)}`);
  }
  return errors;
}

/** Runs fn on every item at once and collects the failures instead of stopping at the first. */
export async function settleAll<T>(items: readonly T[], fn: (item: T) => Promise<void>, label: (item: T) => string): Promise<string[]> {
  const results = await Promise.allSettled(items.map(fn));
  const errors: string[] = [];
  results.forEach((result, i) => {
    if (result.status === 'rejected') errors.push(`${label(items[i])}: ${errorMessage(result.reason)}`);
  });
  return errors;
}

/** Throws one error naming every problem, or nothing when there were none. */
export function throwIfErrors(what: string, errors: readonly string[]): void {
  if (errors.length > 0) throw new Error(`${what}: ${errors.join('; ')}`);
}

/**
 * A numeric option looked up in order in each source (an op's value first, then the package's options) under
 * each spelling (`flap-min-ms` and `flapMinMs`). Returns undefined when no source names it, and throws one
 * line naming the option and the range when a source holds anything but a number in [min, max].
 */
export function numberOption(sources: readonly Record<string, unknown>[], name: string, min: number, max: number): number | undefined {
  const camel = name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  for (const source of sources) {
    for (const spelling of [name, camel]) {
      if (!(spelling in source) || source[spelling] === undefined || source[spelling] === null) continue;
      const raw = source[spelling];
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name}: expected a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return value;
    }
  }
  return undefined;
}
