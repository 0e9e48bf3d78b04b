// Disk faults: corrupt a stopped node's data file (bit flips or a cut tail), and fill its data volume to ENOSPC.
// A node that will not start on its corrupted data (a store's fail-stop) is recorded as taken out by the fault.
import type { Node } from '../../src/backends/types.js';
import type { Db } from '../../src/db.js';
import type { Op } from '../../src/history/types.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
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
  settleAll,
  throwIfErrors,
  type CorruptMode,
  type NemesisOptions,
} from '../common.js';

/** The filler file fill-disk writes into the node's directory. */
export const FILLER_NAME = 'faultline-filler';
const BITS_FLIPPED = 8;
const TAIL_CUT_BYTES_MAX = 64 * 1024;
const DISK_COMMAND_TIMEOUT_MS = 30_000;
const FILL_TIMEOUT_MS = 50_000;

export function fillerPath(node: Node): string {
  return `${node.dir.replace(/\/+$/, '')}/${FILLER_NAME}`;
}

interface CorruptionRecord {
  node: string;
  file: string;
  mode: CorruptMode;
  flips?: Array<{ offset: number; bit: number; before: number; after: number }>;
  truncatedFrom?: number;
  truncatedTo?: number;
  note?: string;
  /**
   * 'refused': the node did not start again on its corrupted data. A careful store refuses mid-log damage
   * rather than forget what it acknowledged; the fault took the node out, and it stays down for the run.
   */
  restart?: 'ok' | 'refused';
  restartError?: string;
}

async function fileSize(test: TestContext, node: Node, file: string): Promise<number> {
  const result = await test.backend.exec(node, ['stat', '-c', '%s', file], { timeoutMs: DISK_COMMAND_TIMEOUT_MS });
  const size = Number(result.stdout.trim());
  if (!Number.isInteger(size) || size < 0) throw new Error(`stat ${file}: unexpected output '${result.stdout.trim()}'`);
  return size;
}

/** Flips one bit per chosen byte; bytes are read with od and written back with dd (no shell, any backend). */
async function flipBits(test: TestContext, node: Node, file: string, size: number, random: () => number): Promise<CorruptionRecord['flips']> {
  const flips: NonNullable<CorruptionRecord['flips']> = [];
  const offsets = new Set<number>();
  for (let attempt = 0; attempt < BITS_FLIPPED * 4 && offsets.size < Math.min(BITS_FLIPPED, size); attempt++) {
    offsets.add(Math.floor(random() * size));
  }
  for (const offset of [...offsets].sort((a, b) => a - b)) {
    const read = await test.backend.exec(node, ['od', '-An', '-tu1', '-j', String(offset), '-N', '1', file], { timeoutMs: DISK_COMMAND_TIMEOUT_MS });
    const before = Number(read.stdout.trim());
    if (!Number.isInteger(before)) throw new Error(`od ${file}@${offset}: unexpected output '${read.stdout.trim()}'`);
    const bit = Math.floor(random() * 8);
    const after = before ^ (1 << bit);
    await test.backend.exec(node, ['dd', `of=${file}`, 'bs=1', `seek=${offset}`, 'count=1', 'conv=notrunc', 'status=none'], {
      stdin: Buffer.from([after]),
      timeoutMs: DISK_COMMAND_TIMEOUT_MS,
    });
    flips.push({ offset, bit, before, after });
  }
  return flips;
}

class DiskNemesis implements Nemesis {
  readonly fs = ['corrupt-file', 'fill-disk', 'free-disk'] as const;
  /** Nodes holding a filler file. */
  private readonly filled = new Set<string>();
  /** Nodes this nemesis killed to corrupt and could not start again: teardown tries once more. */
  private readonly stopped = new Set<string>();
  /** Nodes that did not start again on their corrupted data: left down to the end. */
  private readonly takenOut = new Set<string>();

  constructor(private readonly fillMbMax: number) {}

  async setup(): Promise<void> {}

  async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
    if (op.f === 'free-disk') {
      const errors = await this.free(test, test.nodes.filter((node) => this.filled.has(node.name)));
      return done(op, errors.length === 0 ? 'filler files removed' : { errors });
    }
    const value = opValue(op);
    const targets = value.targets ?? 'one';
    if (!isTargetSelector(targets)) return refused(op, `${op.f}: targets must be one of ${TARGET_SELECTORS.join(', ')}`);
    const random = opRandom(op);
    // Nodes the disk fault already took out are down for good: a fault aimed at them would do nothing.
    const up = test.nodes.filter((node) => !this.takenOut.has(node.name));
    if (up.length === 0) return refused(op, `${op.f}: every node was taken out by corrupt-file; nothing left to fault`);
    const selection = await selectTargets(up.length === test.nodes.length ? test : { ...test, nodes: up }, db, targets, random);
    const note = selection.note ? { note: selection.note } : {};
    if (op.f === 'fill-disk') return this.fill(test, op, selection.nodes, note);
    const mode = value.mode ?? 'bitflip';
    if (mode !== 'bitflip' && mode !== 'truncate') return refused(op, `corrupt-file: mode must be bitflip or truncate, got ${JSON.stringify(mode)}`);
    const only = (value as { file?: unknown }).file;
    if (only !== undefined && (typeof only !== 'string' || only === '' || only.includes('/'))) {
      return refused(op, `corrupt-file: file must be a data file's name without a directory (e.g. wal.log), got ${JSON.stringify(only)}`);
    }
    if (!db.dataFiles) return refused(op, 'corrupt-file: the target names no data files (Db.dataFiles); nothing was corrupted');
    const records: CorruptionRecord[] = [];
    const errors: string[] = [];
    // At most a minority may be taken out, so the nodes left up can still serve and the history be judged
    // (one node of a 1- or 2-node cluster, which has no majority to spare: the fault still happens there).
    const takenOutMax = Math.max(1, Math.floor((test.nodes.length - 1) / 2));
    if (this.takenOut.size >= takenOutMax) {
      const down = [...this.takenOut].join(', ') || 'none';
      return refused(op, `corrupt-file: not injected: ${takenOutMax} of ${test.nodes.length} nodes may be taken out, and ${down} already refused to start after corruption`);
    }
    for (const node of selection.nodes) {
      if (this.takenOut.size >= takenOutMax) {
        const down = [...this.takenOut].join(', ') || 'none';
        records.push({ node: node.name, file: '', mode, note: `not corrupted: ${takenOutMax} of ${test.nodes.length} nodes may be taken out and ${down} already refused to start after corruption` });
        continue;
      }
      try {
        records.push(await this.corruptOne(test, db, node, mode, random, typeof only === 'string' ? only : undefined));
      } catch (error) {
        errors.push(`${node.name}: ${errorMessage(error)}`);
      }
    }
    const corrupted = records.filter((record) => record.note === undefined);
    const refusedToStart = corrupted.filter((record) => record.restart === 'refused').map((record) => record.node);
    const result = {
      mode,
      targets,
      files: records,
      ...(refusedToStart.length > 0 ? { takenOut: refusedToStart } : {}),
      ...note,
      ...(errors.length > 0 ? { errors } : {}),
    };
    if (corrupted.length === 0) return refused(op, `corrupt-file corrupted nothing: ${[...records.map((r) => `${r.node}: ${r.note}`), ...errors].join('; ')}`, result);
    return done(op, result);
  }

  private async corruptOne(test: TestContext, db: Db, node: Node, mode: CorruptMode, random: () => number, only?: string): Promise<CorruptionRecord> {
    const all = await db.dataFiles!(test, node);
    const files = only === undefined ? all : all.filter((path) => path.slice(path.lastIndexOf('/') + 1) === only);
    if (files.length === 0) return { node: node.name, file: '', mode, note: only === undefined ? 'no data files yet' : `no data file named ${only} (there are: ${all.join(', ') || 'none'})` };
    const file = pick([...files].sort(), random);
    // The node must be down while its files change, as after a crash.
    await db.kill(test, node);
    this.stopped.add(node.name);
    let record: CorruptionRecord;
    try {
      const size = await fileSize(test, node, file);
      if (size === 0) {
        record = { node: node.name, file, mode, note: 'the file is empty' };
      } else if (mode === 'bitflip') {
        record = { node: node.name, file, mode, flips: await flipBits(test, node, file, size, random) };
      } else {
        const cut = 1 + Math.floor(random() * Math.min(TAIL_CUT_BYTES_MAX, Math.max(1, Math.floor(size / 4))));
        const truncatedTo = Math.max(0, size - cut);
        await test.backend.exec(node, ['truncate', '-s', String(truncatedTo), file], { timeoutMs: DISK_COMMAND_TIMEOUT_MS });
        record = { node: node.name, file, mode, truncatedFrom: size, truncatedTo };
      }
    } catch (error) {
      // Nothing (or not all) was corrupted: the node goes back as it was, and a failed start is an error.
      await db.start(test, node);
      this.stopped.delete(node.name);
      throw error;
    }
    try {
      await db.start(test, node);
      this.stopped.delete(node.name);
      return { ...record, ...(record.note === undefined ? { restart: 'ok' as const } : {}) };
    } catch (error) {
      if (record.note !== undefined) throw error;
      // The damage, not the harness, keeps it down: a careful store refuses mid-log corruption (fail-stop).
      // Recorded in the op and the run log; the other nodes go on and the history is judged on what they did.
      const reason = errorMessage(error);
      this.stopped.delete(node.name);
      this.takenOut.add(node.name);
      (test.nodesTakenOut ??= new Set()).add(node.name);
      test.log(`faultline: disk: ${node.name} did not start again after corrupt-file (${mode} of ${file}); taken out by the disk fault, left down: ${reason}`);
      return { ...record, restart: 'refused', restartError: reason };
    }
  }

  private async fill(test: TestContext, op: Op, nodes: Node[], note: Record<string, unknown>): Promise<Op> {
    const filled: Array<{ node: string; file: string; bytes: number; enospc: boolean }> = [];
    const errors = await settleAll(
      nodes,
      async (node) => {
        const file = fillerPath(node);
        this.filled.add(node.name);
        // dd stops at ENOSPC with a non-zero exit; count bounds it when the volume is larger than expected.
        const result = await test.backend.exec(node, ['dd', 'if=/dev/zero', `of=${file}`, 'bs=1M', `count=${this.fillMbMax}`, 'status=none'], {
          allowFailure: true,
          // Inside the runner's 60 s bound on one nemesis op.
          timeoutMs: FILL_TIMEOUT_MS,
        });
        const enospc = /No space left on device/i.test(result.stderr);
        if (result.exitCode !== 0 && !enospc) throw new Error(`dd: ${result.stderr.trim()}`);
        filled.push({ node: node.name, file, bytes: await fileSize(test, node, file), enospc });
      },
      (node) => node.name,
    );
    const value = { nodes: filled, ...note, ...(errors.length > 0 ? { errors } : {}) };
    if (filled.length === 0) return refused(op, `fill-disk failed: ${errors.join('; ')}`, value);
    return done(op, value);
  }

  private async free(test: TestContext, nodes: Node[]): Promise<string[]> {
    return settleAll(
      nodes,
      async (node) => {
        await test.backend.exec(node, ['rm', '-f', fillerPath(node)], { timeoutMs: DISK_COMMAND_TIMEOUT_MS });
        this.filled.delete(node.name);
      },
      (node) => node.name,
    );
  }

  async teardown(test: TestContext, db: Db): Promise<void> {
    // Every node's filler path, not only the recorded ones: rm -f of a missing file costs nothing.
    const errors = await this.free(test, test.nodes);
    this.filled.clear();
    const stopped = test.nodes.filter((node) => this.stopped.has(node.name));
    this.stopped.clear();
    // Corrupted data cannot be healed: a node that refused to start on it stays down, said once, not an error.
    if (this.takenOut.size > 0) {
      test.log(`faultline: disk: left down, taken out by corrupt-file (they refused to start on corrupted data): ${[...this.takenOut].join(', ')}`);
    }
    this.takenOut.clear();
    errors.push(...(await settleAll(stopped, (node) => db.start(test, node), (node) => `restart ${node.name}`)));
    throwIfErrors('disk nemesis teardown', errors);
  }
}

/** corrupt-file {targets, mode: bitflip|truncate, file?: one data file's name}, fill-disk {targets}, free-disk. */
export function diskPackage(options: NemesisOptions = {}): NemesisPackage {
  const faults = options.diskFaults && options.diskFaults.length > 0 ? options.diskFaults : (['bitflip', 'truncate', 'fill'] as const);
  const fillMbMax = options.fillMbMax ?? 1024;
  if (!Number.isInteger(fillMbMax) || fillMbMax < 1) throw new Error(`disk: fillMbMax must be a positive integer, got ${fillMbMax}`);
  return {
    name: 'disk',
    nemesis: new DiskNemesis(fillMbMax),
    startOp(random: () => number): FaultOp {
      const fault = pick(faults, random);
      const seed = drawSeed(random);
      if (fault === 'fill') return { f: 'fill-disk', value: { targets: 'one', seed } };
      return { f: 'corrupt-file', value: { targets: 'one', mode: fault, seed } };
    },
    healOp(): FaultOp {
      return { f: 'free-disk', value: null };
    },
  };
}

export default diskPackage;
