// Network partitions (Jepsen's grudges) by iptables DROP rules in each node's own network namespace.
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import {
  PARTITION_MODES,
  chainName,
  done,
  drawSeed,
  ensureChain,
  errorMessage,
  iptablesRestore,
  opRandom,
  opValue,
  pick,
  refused,
  removeChain,
  selectTargets,
  settleAll,
  shuffle,
  throwIfErrors,
  type NemesisOptions,
  type PartitionMode,
} from '../common.js';

/** For each node, the nodes it refuses to talk to. Symmetric in every mode. */
export type Grudge = Record<string, string[]>;

/** Every node drops every node outside its own component. */
export function grudgeFromComponents(names: readonly string[], components: readonly (readonly string[])[]): Grudge {
  const grudge: Grudge = {};
  for (const name of names) {
    const own = components.find((component) => component.includes(name)) ?? [name];
    grudge[name] = names.filter((other) => !own.includes(other));
  }
  return grudge;
}

/** The first floor(n/2) nodes against the rest (so the second half is the majority). */
export function halves(names: readonly string[]): string[][] {
  const cut = Math.floor(names.length / 2);
  return [names.slice(0, cut), names.slice(cut)];
}

/**
 * Each node (in ring order) sees itself and its nearest neighbours either side, enough to make a majority;
 * every node sees a majority, yet no two nodes see the same one.
 */
export function majoritiesRing(ring: readonly string[]): Grudge {
  const count = ring.length;
  const majority = Math.floor(count / 2) + 1;
  const reach = Math.ceil((majority - 1) / 2);
  const grudge: Grudge = {};
  ring.forEach((name, i) => {
    const visible = new Set<string>();
    for (let offset = -reach; offset <= reach; offset++) visible.add(ring[(((i + offset) % count) + count) % count]);
    grudge[name] = ring.filter((other) => !visible.has(other));
  });
  return grudge;
}

/** Two halves that cannot talk, and one node (the bridge) that talks to both. */
export function bridge(ring: readonly string[]): { grudge: Grudge; bridgeNode: string } {
  const [left, right] = halves(ring);
  const bridgeNode = right[0];
  const rightSide = right.slice(1);
  const grudge: Grudge = {};
  for (const name of left) grudge[name] = [...rightSide];
  for (const name of rightSide) grudge[name] = [...left];
  grudge[bridgeNode] = [];
  return { grudge, bridgeNode };
}

export interface PartitionDecision {
  grudge: Grudge;
  description: Record<string, unknown>;
}

/** Works out the grudge for a mode. `primaries` are used by 'primary' mode (empty: falls back to 'one'). */
export function decidePartition(mode: PartitionMode, names: readonly string[], random: () => number, primaries: readonly string[]): PartitionDecision {
  switch (mode) {
    case 'halves': {
      const components = halves(names);
      return { grudge: grudgeFromComponents(names, components), description: { components } };
    }
    case 'random-halves': {
      const components = halves(shuffle(names, random));
      return { grudge: grudgeFromComponents(names, components), description: { components } };
    }
    case 'majorities-ring': {
      const ring = shuffle(names, random);
      return { grudge: majoritiesRing(ring), description: { ring } };
    }
    case 'bridge': {
      const { grudge, bridgeNode } = bridge(shuffle(names, random));
      return { grudge, description: { bridge: bridgeNode } };
    }
    case 'one': {
      const isolated = pick(names, random);
      const components = [[isolated], names.filter((name) => name !== isolated)];
      return { grudge: grudgeFromComponents(names, components), description: { isolated: [isolated], components } };
    }
    case 'primary': {
      const isolated = names.filter((name) => primaries.includes(name));
      const components = [...isolated.map((name) => [name]), names.filter((name) => !isolated.includes(name))];
      return { grudge: grudgeFromComponents(names, components), description: { isolated, components } };
    }
    default:
      throw new Error(`unknown partition mode '${String(mode)}'`);
  }
}

/**
 * Replaces the rules of `chain` on every node with DROPs of the peers its grudge names (one atomic
 * iptables-restore per node). Returns the errors met, one per node that failed. Shared with the flap nemesis.
 */
export async function applyGrudge(test: TestContext, chain: string, grudge: Grudge): Promise<string[]> {
  return settleAll(
    test.nodes,
    async (node) => {
      const lines = [`-F ${chain}`];
      for (const peerName of grudge[node.name] ?? []) {
        const peer = test.nodes.find((candidate) => candidate.name === peerName)!;
        lines.push(`-A ${chain} -s ${peer.host} -j DROP`, `-A ${chain} -d ${peer.host} -j DROP`);
      }
      await iptablesRestore(test, node, lines);
    },
    (node) => node.name,
  );
}

/** Empties `chain` on every node (the jumps stay, so the next grudge takes effect at once). Returns the errors met. */
export async function flushGrudge(test: TestContext, chain: string): Promise<string[]> {
  return settleAll(test.nodes, (node) => iptablesRestore(test, node, [`-F ${chain}`]), (node) => node.name);
}

export function isPartitionMode(value: unknown): value is PartitionMode {
  return typeof value === 'string' && (PARTITION_MODES as readonly string[]).includes(value);
}

class PartitionNemesis implements Nemesis {
  readonly fs = ['start-partition', 'stop-partition'] as const;

  async setup(test: TestContext): Promise<void> {
    const chain = chainName(test, 'PART');
    const errors = await settleAll(test.nodes, (node) => ensureChain(test, node, chain, ['INPUT', 'OUTPUT']), (node) => node.name);
    throwIfErrors('partition nemesis setup (is iptables installed on the nodes?)', errors);
  }

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    if (op.f === 'stop-partition') {
      const errors = await this.heal(test);
      return errors.length === 0 ? done(op, 'network healed') : done(op, { healed: false, errors });
    }
    const requested = opValue(op).mode ?? 'random-halves';
    if (!isPartitionMode(requested)) return refused(op, `unknown partition mode '${String(requested)}'`);
    const random = opRandom(op);
    const names = test.nodes.map((node) => node.name);
    let mode: PartitionMode = requested;
    let primaries: string[] = [];
    let note: string | undefined;
    if (mode === 'primary') {
      const selection = await selectTargets(test, db, 'primary', random);
      if (selection.note) {
        // Jepsen would isolate the primary; with none to name, isolating a random node is the nearest fault.
        mode = 'one';
        note = `${selection.note}; partitioned as 'one'`;
      } else {
        primaries = selection.nodes.map((node) => node.name);
      }
    }
    const decision = decidePartition(mode, names, random, primaries);
    const errors = await applyGrudge(test, chainName(test, 'PART'), decision.grudge);
    const value = { mode: requested, ...(mode !== requested ? { appliedMode: mode } : {}), grudge: decision.grudge, ...decision.description, ...(note ? { note } : {}) };
    if (errors.length === test.nodes.length) return refused(op, `partition not applied: ${errors.join('; ')}`, value);
    return done(op, errors.length > 0 ? { ...value, errors } : value);
  }

  private async heal(test: TestContext): Promise<string[]> {
    return flushGrudge(test, chainName(test, 'PART'));
  }

  async teardown(test: TestContext): Promise<void> {
    const errors = await removeChainEverywhere(test, chainName(test, 'PART'));
    throwIfErrors('partition nemesis teardown', errors);
  }
}

/** Removes `chain` and its jumps from INPUT and OUTPUT on every node; the errors, one per node that failed. */
export async function removeChainEverywhere(test: TestContext, chain: string): Promise<string[]> {
  const errors: string[] = [];
    await Promise.all(
      test.nodes.map(async (node) => {
        try {
          errors.push(...(await removeChain(test, node, chain, ['INPUT', 'OUTPUT'])));
        } catch (error) {
          errors.push(`${node.name}: ${errorMessage(error)}`);
        }
      }),
    );
  return errors;
}

/** Partitions: start-partition {mode, seed} cuts node-to-node traffic (the controller still reaches every node). */
export function partitionPackage(options: NemesisOptions = {}): NemesisPackage {
  const modes = options.partitionModes && options.partitionModes.length > 0 ? options.partitionModes : [...PARTITION_MODES];
  for (const mode of modes) if (!isPartitionMode(mode)) throw new Error(`partition: unknown mode '${String(mode)}'`);
  return {
    name: 'partition',
    nemesis: new PartitionNemesis(),
    startOp(random: () => number): FaultOp {
      return { f: 'start-partition', value: { mode: pick(modes, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'stop-partition', value: null };
    },
  };
}

export default partitionPackage;
