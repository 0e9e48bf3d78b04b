// Turns the nemesis ops of a history into fault events and periods (start to heal), for the timeline and the shading.
import type { Op } from '../src/history/types.js';

/** One nemesis action: its invoke and (when it completed) its completion. */
export interface FaultEvent {
  f: string;
  family: string;
  role: 'start' | 'heal' | 'instant';
  invokeNs: number;
  completeNs: number | undefined;
  type: string;
  /** The completion's value when there is one (what was actually done), else the invoke's. */
  value: unknown;
  nodes: string[];
  error?: string;
  /** false when the completion says the heal did not take (the runner marks a heal that erred so). */
  healed?: boolean;
}

/** A fault from its start to its heal (or to the end of the history when no heal was recorded). */
export interface FaultPeriod {
  family: string;
  f: string;
  startNs: number;
  endNs: number;
  healed: boolean;
  nodes: string[];
  value: unknown;
}

/** Heal op → the family it heals; start op → its family (the vocabulary of nemeses/types.ts, plus Jepsen's start/stop). */
const healFamilies: Record<string, string> = {
  restart: 'kill',
  'start-node': 'kill',
  resume: 'pause',
  'reset-clock': 'clock',
  'free-disk': 'disk',
  stop: 'fault',
  heal: 'fault',
};
const startFamilies: Record<string, string> = {
  kill: 'kill',
  'kill-node': 'kill',
  pause: 'pause',
  'bump-clock': 'clock',
  'strobe-clock': 'clock',
  'fill-disk': 'disk',
  start: 'fault',
};
const instantFamilies: Record<string, string> = { 'corrupt-file': 'disk-corruption' };

export function classifyFault(f: string): { family: string; role: FaultEvent['role'] } {
  if (f in healFamilies) return { family: healFamilies[f], role: 'heal' };
  if (f in startFamilies) return { family: startFamilies[f], role: 'start' };
  if (f in instantFamilies) return { family: instantFamilies[f], role: 'instant' };
  if (f.startsWith('stop-')) return { family: f.slice('stop-'.length), role: 'heal' };
  if (f.startsWith('start-')) return { family: f.slice('start-'.length), role: 'start' };
  return { family: f, role: 'instant' };
}

/** The runner marks its nemesis ops with the fault's name and whether it starts or stops it; those win over the op's f. */
function classifyOp(op: Op): { family: string; role: FaultEvent['role'] } {
  const byName = classifyFault(String(op.f));
  const family = typeof op.fault === 'string' ? op.fault : byName.family;
  const role = op.action === 'start' ? 'start' : op.action === 'stop' ? 'heal' : byName.role;
  return { family, role };
}

const nodeFieldNames = new Set(['node', 'nodes', 'targets', 'target', 'hit', 'isolated', 'grudge']);

/**
 * The node names a nemesis value mentions. With the run's node list, any string or object key equal to a
 * node counts; without it, strings under node-like fields (nodes, targets, grudge ...) and plain string arrays.
 */
export function nodesIn(value: unknown, knownNodes: readonly string[]): string[] {
  const found = new Set<string>();
  const known = new Set(knownNodes);
  const visit = (item: unknown, depth: number, nodeContext: boolean): void => {
    if (depth > 5 || found.size > 64) return;
    if (typeof item === 'string') {
      if (known.size > 0 ? known.has(item) : nodeContext) found.add(item);
      return;
    }
    if (Array.isArray(item)) {
      const allStrings = item.length > 0 && item.every((element) => typeof element === 'string');
      for (const element of item.slice(0, 256)) visit(element, depth + 1, nodeContext || (known.size === 0 && allStrings && depth === 0));
      return;
    }
    if (item && typeof item === 'object') {
      for (const [field, inner] of Object.entries(item as Record<string, unknown>).slice(0, 256)) {
        if (known.has(field)) found.add(field);
        else if (known.size === 0 && nodeContext) found.add(field);
        visit(inner, depth + 1, nodeContext || nodeFieldNames.has(field));
      }
    }
  };
  visit(value, 0, false);
  return [...found].sort();
}

/** Pairs each nemesis invoke with its next completion (the nemesis has one op outstanding at a time). */
export function faultEvents(nemesisOps: readonly Op[], knownNodes: readonly string[]): FaultEvent[] {
  const events: FaultEvent[] = [];
  let pending: FaultEvent | undefined;
  for (const op of nemesisOps) {
    const time = typeof op.time === 'number' ? op.time : 0;
    if (op.type === 'invoke') {
      const { family, role } = classifyOp(op);
      pending = { f: String(op.f), family, role, invokeNs: time, completeNs: undefined, type: 'invoke', value: op.value, nodes: nodesIn(op.value, knownNodes) };
      events.push(pending);
      continue;
    }
    if (pending && pending.f === String(op.f)) {
      pending.completeNs = time;
      pending.type = op.type;
      if (op.value !== undefined && op.value !== null) pending.value = op.value;
      const nodes = nodesIn(op.value, knownNodes);
      if (nodes.length > 0) pending.nodes = nodes;
      if (typeof op.error === 'string') pending.error = op.error;
      if (op.healed === false) pending.healed = false;
      pending = undefined;
      continue;
    }
    // A completion without an invoke (Jepsen sometimes logs only :info nemesis ops): an event of its own.
    const { family, role } = classifyOp(op);
    events.push({ f: String(op.f), family, role, invokeNs: time, completeNs: time, type: op.type, value: op.value, nodes: nodesIn(op.value, knownNodes), error: typeof op.error === 'string' ? op.error : undefined });
  }
  return events;
}

/** Fault periods: a start (that did not fail) opens one per family, the family's next heal closes it. */
export function faultPeriods(events: readonly FaultEvent[], endNs: number): FaultPeriod[] {
  const periods: FaultPeriod[] = [];
  const open = new Map<string, FaultPeriod>();
  for (const event of events) {
    if (event.type === 'fail') continue;
    const at = event.completeNs ?? event.invokeNs;
    if (event.role === 'start') {
      if (open.has(event.family)) continue;
      const period: FaultPeriod = { family: event.family, f: event.f, startNs: event.invokeNs, endNs, healed: false, nodes: event.nodes, value: event.value };
      open.set(event.family, period);
      periods.push(period);
    } else if (event.role === 'heal') {
      // A heal that erred leaves the fault in force: the period stays open until a heal that worked.
      if (event.healed === false) continue;
      const period = open.get(event.family);
      if (!period) continue;
      period.endNs = Math.max(period.startNs, at);
      period.healed = true;
      open.delete(event.family);
    }
  }
  return periods;
}
