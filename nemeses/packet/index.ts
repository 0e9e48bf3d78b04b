// Packet faults: random loss by an iptables statistic match; latency by tc netem where the kernel has it.
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { Node } from '../../src/backends/types.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import {
  chainName,
  done,
  errorMessage,
  ensureChain,
  iptablesRestore,
  opValue,
  refused,
  removeChain,
  settleAll,
  throwIfErrors,
  type NemesisOptions,
} from '../common.js';

/** The interface the local and docker backends give a node on the test network, when no route says otherwise. */
const DEFAULT_INTERFACE = 'eth0';
const TC_TIMEOUT_MS = 15_000;

function lossRules(chain: string, lossPercent: number): string[] {
  const probability = (lossPercent / 100).toFixed(4);
  // Loss applies where packets enter a node (so each crossing is judged once); loopback is left alone.
  return [`-F ${chain}`, `-A ${chain} ! -i lo -m statistic --mode random --probability ${probability} -j DROP`];
}

/** The interface a node sends to its peers through (a real machine's may not be eth0). */
async function interfaceTowardsPeers(test: TestContext, node: Node): Promise<string> {
  const peer = test.nodes.find((other) => other.name !== node.name);
  if (!peer || !/^\d+\.\d+\.\d+\.\d+$/.test(peer.host)) return DEFAULT_INTERFACE;
  const route = await test.backend
    .exec(node, ['ip', '-o', 'route', 'get', peer.host], { allowFailure: true, timeoutMs: TC_TIMEOUT_MS })
    .catch(() => null);
  return /\bdev (\S+)/.exec(route?.stdout ?? '')?.[1] ?? DEFAULT_INTERFACE;
}

class PacketNemesis implements Nemesis {
  readonly fs = ['start-packet', 'stop-packet', 'start-latency', 'stop-latency'] as const;
  /** Nodes that got a netem qdisc, and on which interface, so healing removes exactly those. */
  private readonly delayed = new Map<string, string>();

  async setup(test: TestContext): Promise<void> {
    const chain = chainName(test, 'LOSS');
    const errors = await settleAll(test.nodes, (node) => ensureChain(test, node, chain, ['INPUT']), (node) => node.name);
    throwIfErrors('packet nemesis setup (is iptables installed on the nodes?)', errors);
  }

  async invoke(test: TestContext, _db: unknown, op: Op): Promise<Op> {
    switch (op.f) {
      case 'start-packet':
        return this.startLoss(test, op);
      case 'start-latency':
        return this.startLatency(test, op);
      case 'stop-latency': {
        const errors = await this.removeLatency(test);
        return done(op, errors.length === 0 ? 'latency removed' : { errors });
      }
      default: {
        const errors = [...(await this.clearLoss(test)), ...(await this.removeLatency(test))];
        return done(op, errors.length === 0 ? 'packets flow normally' : { errors });
      }
    }
  }

  private async startLoss(test: TestContext, op: Op): Promise<Op> {
    const lossPercent = opValue(op).lossPercent;
    if (typeof lossPercent !== 'number' || !(lossPercent > 0 && lossPercent <= 100)) {
      return refused(op, `start-packet: lossPercent must be a number in (0, 100], got ${JSON.stringify(lossPercent)}`);
    }
    const chain = chainName(test, 'LOSS');
    const errors = await settleAll(test.nodes, (node) => iptablesRestore(test, node, lossRules(chain, lossPercent)), (node) => node.name);
    const value = { lossPercent, nodes: test.nodes.map((node) => node.name) };
    if (errors.length === test.nodes.length) return refused(op, `packet loss not applied: ${errors.join('; ')}`, value);
    return done(op, errors.length > 0 ? { ...value, errors } : value);
  }

  private async startLatency(test: TestContext, op: Op): Promise<Op> {
    const ms = opValue(op).ms;
    if (typeof ms !== 'number' || !(ms > 0 && ms <= 60_000)) {
      return refused(op, `start-latency: ms must be a number in (0, 60000], got ${JSON.stringify(ms)}`);
    }
    const applied: Node[] = [];
    for (const node of test.nodes) {
      const device = await interfaceTowardsPeers(test, node);
      const result = await test.backend
        .exec(node, ['tc', 'qdisc', 'replace', 'dev', device, 'root', 'netem', 'delay', `${ms}ms`], {
          allowFailure: true,
          timeoutMs: TC_TIMEOUT_MS,
        })
        .catch((error: unknown) => ({ exitCode: 127, stdout: '', stderr: errorMessage(error) }));
      if (result.exitCode !== 0) {
        // Undo the nodes already delayed: a latency fault on some nodes only is not what was asked for.
        await this.removeLatency(test);
        const stderr = result.stderr.trim();
        const reason = /qdisc kind is unknown|netem/i.test(stderr)
          ? `latency needs tc netem, which this kernel lacks (no sch_netem module: "${stderr}"); no delay was injected`
          : /not found|No such file|ENOENT|exited 127/i.test(stderr) || result.exitCode === 127
            ? `latency needs the tc command (iproute2) on the nodes: ${stderr}; no delay was injected`
            : `tc netem failed on ${node.name}: ${stderr}; no delay was injected`;
        return refused(op, reason, { ms });
      }
      this.delayed.set(node.name, device);
      applied.push(node);
    }
    return done(op, { ms, nodes: applied.map((node) => node.name) });
  }

  private async clearLoss(test: TestContext): Promise<string[]> {
    const chain = chainName(test, 'LOSS');
    return settleAll(test.nodes, (node) => iptablesRestore(test, node, [`-F ${chain}`]), (node) => node.name);
  }

  private async removeLatency(test: TestContext): Promise<string[]> {
    const nodes = test.nodes.filter((node) => this.delayed.has(node.name));
    return settleAll(
      nodes,
      async (node) => {
        const result = await test.backend.exec(node, ['tc', 'qdisc', 'del', 'dev', this.delayed.get(node.name) ?? DEFAULT_INTERFACE, 'root'], {
          allowFailure: true,
          timeoutMs: TC_TIMEOUT_MS,
        });
        // "No such file" / "Cannot delete qdisc with handle of zero": already gone, which is what we want.
        if (result.exitCode !== 0 && !/No such file|handle of zero|Invalid handle/i.test(result.stderr)) {
          throw new Error(result.stderr.trim());
        }
        this.delayed.delete(node.name);
      },
      (node) => node.name,
    );
  }

  async teardown(test: TestContext): Promise<void> {
    const chain = chainName(test, 'LOSS');
    const errors = [...(await this.removeLatency(test))];
    await Promise.all(test.nodes.map(async (node) => errors.push(...(await removeChain(test, node, chain, ['INPUT'])))));
    throwIfErrors('packet nemesis teardown', errors);
  }
}

/** Packet loss (start-packet {lossPercent}) and latency (start-latency {ms}); stop-packet heals both. */
export function packetPackage(options: NemesisOptions = {}): NemesisPackage {
  const lossPercent = options.packetLossPercent ?? 20;
  if (!(lossPercent > 0 && lossPercent <= 100)) throw new Error(`packet: lossPercent must be in (0, 100], got ${lossPercent}`);
  return {
    name: 'packet',
    nemesis: new PacketNemesis(),
    startOp(): FaultOp {
      return { f: 'start-packet', value: { lossPercent } };
    },
    healOp(): FaultOp {
      return { f: 'stop-packet', value: null };
    },
  };
}

export default packetPackage;
