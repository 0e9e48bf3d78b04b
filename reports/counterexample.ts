// Reads a linearizability counterexample from checker results (tolerantly: results.json is data from disk) into drawable bars.
// The shape it expects first is checkers/linearizable's Counterexample (failedOps, concurrentOps, prefix, prefixLength,
// states, explanation); other field names are accepted too, so older or foreign results still draw.
import type { Counterexample } from '../checkers/linearizable/index.js';
import { pairOps, type Op, type OpPair } from '../src/history/types.js';
import { displayText } from './escape.js';
import type { CounterexampleBar } from './charts.js';
import { keyName } from './summary.js';

/** The fields of checkers/linearizable's counterexample this view reads first (a compile-time check that they still exist). */
export type ReadFields = Pick<Counterexample, 'failedOps' | 'concurrentOps' | 'prefix' | 'prefixLength' | 'states' | 'explanation' | 'key'>;

/** What the report shows for one invalid key. */
export interface CounterexampleView {
  checker: string;
  key: string;
  explanation: string | undefined;
  bars: CounterexampleBar[];
  /** The tail of the longest linearizable prefix as the checker gave it, one line per op. */
  prefix: string[];
  /** Ops in the whole prefix, when the checker says (the drawing shows only its tail). */
  prefixLength: number | undefined;
  failing: string[];
  /** Model state(s) at the end of the prefix, described. */
  states: string[];
  /** The counterexample exactly as the checker returned it (shown raw for completeness). */
  raw: unknown;
}

type Record_ = Record<string, unknown>;

function isRecord(value: unknown): value is Record_ {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstField(record: Record_, names: readonly string[]): unknown {
  for (const name of names) if (record[name] !== undefined) return record[name];
  return undefined;
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

const failingFields = ['failedOps', 'failing', 'failingOps', 'unlinearizable', 'ops', 'op', 'culprit', 'culprits', 'notLinearizable', 'cannotLinearize'];
const concurrentFields = ['concurrent', 'concurrentOps', 'concurrentWith'];
const prefixFields = ['prefix', 'longestPrefix', 'linearizedPrefix', 'longestLinearizablePrefix', 'linearized', 'linearization'];
const stateFields = ['states', 'modelStates', 'finalStates', 'state', 'modelState', 'stateDescriptions', 'describedStates'];
const explanationFields = ['explanation', 'message', 'reason', 'summary', 'description'];

/** Every linearizability-style counterexample in a checker result: `keys[].counterexample`, or one at the top. */
export function findCounterexamples(checkers: Record<string, unknown>): Array<{ checker: string; key: unknown; counterexample: Record_ }> {
  const found: Array<{ checker: string; key: unknown; counterexample: Record_ }> = [];
  for (const [checker, result] of Object.entries(checkers)) {
    if (!isRecord(result)) continue;
    if (Array.isArray(result.keys)) {
      for (const keyResult of result.keys) {
        if (isRecord(keyResult) && isRecord(keyResult.counterexample)) found.push({ checker, key: keyResult.counterexample.key ?? keyResult.key, counterexample: keyResult.counterexample });
      }
    }
    if (isRecord(result.counterexample)) found.push({ checker, key: result.counterexample.key ?? result.key, counterexample: result.counterexample });
    // Composed checkers nest their parts one level down.
    if (isRecord(result.checkers)) found.push(...findCounterexamples(result.checkers));
  }
  return found;
}

/** History indexes a counterexample mentions (so the loader can keep those ops whole). */
export function referencedIndexes(counterexample: unknown, limit = 10_000): Set<number> {
  const indexes = new Set<number>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 6 || indexes.size >= limit) return;
    if (Array.isArray(value)) for (const item of value.slice(0, limit)) visit(item, depth + 1);
    else if (isRecord(value)) {
      for (const [field, inner] of Object.entries(value)) {
        if ((field === 'index' || field === 'invokeIndex' || field === 'completionIndex') && typeof inner === 'number') indexes.add(inner);
        else visit(inner, depth + 1);
      }
    }
  };
  visit(counterexample, 0);
  return indexes;
}

function describeOp(item: unknown): string {
  if (typeof item === 'string') return item;
  if (!isRecord(item)) return displayText(item);
  const op = isRecord(item.invoke) ? item.invoke : item;
  const completion = isRecord(item.completion) ? item.completion : undefined;
  const parts: string[] = [];
  if (op.index !== undefined) parts.push(`#${displayText(op.index)}`);
  if (op.process !== undefined) parts.push(`process ${displayText(op.process)}`);
  if (op.f !== undefined) parts.push(displayText(op.f));
  const value = completion?.value !== undefined ? completion.value : op.value;
  if (value !== undefined) parts.push(displayText(value));
  const type = completion?.type ?? (op.type !== 'invoke' ? op.type : undefined);
  if (type !== undefined) parts.push(`(${displayText(type)})`);
  if (typeof item.description === 'string') return item.description;
  return parts.length ? parts.join(' ') : displayText(item);
}

function opLabel(pair: OpPair): string {
  const completion = pair.completion;
  const value = completion && completion.type === 'ok' ? completion.value : pair.invoke.value;
  return `${pair.invoke.f} ${displayText(value)}`;
}

/** Index → the pair it belongs to (by invoke or completion index), over one key's ops. */
function pairsByIndex(keyOps: readonly Op[]): Map<number, OpPair> {
  const byIndex = new Map<number, OpPair>();
  for (const pair of pairOps(keyOps)) {
    byIndex.set(pair.invoke.index, pair);
    if (pair.completion) byIndex.set(pair.completion.index, pair);
  }
  return byIndex;
}

/** The pair an item of the counterexample stands for, from the history where possible, else from the item itself. */
function resolvePair(item: unknown, byIndex: Map<number, OpPair>, keptOps: Map<number, Op>): OpPair | undefined {
  if (typeof item === 'number') return byIndex.get(item) ?? (keptOps.has(item) ? { invoke: keptOps.get(item)! } : undefined);
  if (!isRecord(item)) return undefined;
  for (const field of ['index', 'invokeIndex', 'completionIndex']) {
    const index = item[field];
    if (typeof index === 'number' && byIndex.has(index)) return byIndex.get(index);
  }
  if (isRecord(item.invoke)) {
    const invoke = item.invoke as Op;
    const index = invoke.index;
    if (typeof index === 'number' && byIndex.has(index)) return byIndex.get(index);
    if (typeof invoke.time === 'number') return { invoke, completion: isRecord(item.completion) ? (item.completion as Op) : undefined };
  }
  if (typeof item.time === 'number' || typeof item.invokeTime === 'number') {
    const invokeTime = typeof item.invokeTime === 'number' ? item.invokeTime : (item.time as number);
    const completeTime = typeof item.completeTime === 'number' ? item.completeTime : typeof item.completionTime === 'number' ? item.completionTime : undefined;
    const invoke = { ...(item as Op), type: 'invoke', time: invokeTime } as Op;
    return { invoke, completion: completeTime !== undefined ? ({ ...(item as Op), time: completeTime } as Op) : undefined };
  }
  return undefined;
}

/**
 * Builds the drawable view of one counterexample: the failing op(s), the ops concurrent with them and the
 * last ops of the prefix (those overlapping the failing ops' window), each as a bar in its process's lane.
 */
export function counterexampleView(checker: string, key: unknown, counterexample: Record_, keyOps: readonly Op[], keptOps: Map<number, Op>): CounterexampleView {
  const byIndex = pairsByIndex(keyOps);
  const failingItems = asList(firstField(counterexample, failingFields));
  const concurrentItems = asList(firstField(counterexample, concurrentFields));
  const prefixItems = asList(firstField(counterexample, prefixFields));
  const stateValue = firstField(counterexample, stateFields);
  const explanationValue = firstField(counterexample, explanationFields);

  // The checker's own one-line descriptions ("cas 380→381", "read → 359"), by invoke index, label the bars.
  const descriptions = new Map<number, string>();
  for (const item of [...failingItems, ...concurrentItems, ...prefixItems]) {
    if (isRecord(item) && typeof item.index === 'number' && typeof item.description === 'string') descriptions.set(item.index, item.description);
  }
  const bars: CounterexampleBar[] = [];
  const seen = new Set<OpPair>();
  const addBar = (item: unknown, role: CounterexampleBar['role']): OpPair | undefined => {
    const pair = resolvePair(item, byIndex, keptOps);
    if (!pair || seen.has(pair)) return pair;
    seen.add(pair);
    bars.push({
      process: displayText(pair.invoke.process),
      invokeNs: pair.invoke.time,
      completeNs: pair.completion && pair.completion.type !== 'info' ? pair.completion.time : undefined,
      label: descriptions.get(pair.invoke.index) ?? opLabel(pair),
      role,
      outcome: pair.completion?.type ?? 'never completed',
      index: typeof pair.invoke.index === 'number' ? pair.invoke.index : undefined,
    });
    return pair;
  };
  const failingPairs = failingItems.slice(0, 50).map((item) => addBar(item, 'failing')).filter((pair): pair is OpPair => pair !== undefined);
  for (const item of concurrentItems.slice(0, 200)) addBar(item, 'concurrent');
  // Of the prefix, draw what overlaps the failing window (and the few ops just before it), for context.
  let windowStart = Number.POSITIVE_INFINITY;
  for (const pair of failingPairs) windowStart = Math.min(windowStart, pair.invoke.time);
  for (const bar of bars) windowStart = Math.min(windowStart, bar.invokeNs);
  const prefixPairs = prefixItems.map((item) => resolvePair(item, byIndex, keptOps)).filter((pair): pair is OpPair => pair !== undefined);
  const prefixInWindow = prefixPairs.filter((pair) => (pair.completion?.time ?? Number.POSITIVE_INFINITY) >= windowStart);
  const prefixBefore = prefixPairs.filter((pair) => (pair.completion?.time ?? Number.POSITIVE_INFINITY) < windowStart).slice(-4);
  for (const pair of [...prefixBefore, ...prefixInWindow].slice(-60)) addBar(pair.invoke.index ?? pair, 'prefix');
  // When the checker named no concurrent ops, show the key's ops overlapping the failing ones.
  if (concurrentItems.length === 0 && failingPairs.length > 0) {
    const failStart = Math.min(...failingPairs.map((pair) => pair.invoke.time));
    const failEnd = Math.max(...failingPairs.map((pair) => pair.completion?.time ?? Number.POSITIVE_INFINITY));
    let added = 0;
    for (const pair of new Set(byIndex.values())) {
      if (added >= 40) break;
      const end = pair.completion?.time ?? Number.POSITIVE_INFINITY;
      if (pair.invoke.time <= failEnd && end >= failStart && !seen.has(pair)) {
        addBar(pair.invoke.index, 'concurrent');
        added += 1;
      }
    }
  }

  const states = Array.isArray(stateValue) ? stateValue.slice(0, 20).map((state) => displayText(state)) : stateValue === undefined ? [] : [displayText(stateValue)];
  return {
    checker,
    key: keyName(key),
    explanation: explanationValue === undefined ? undefined : displayText(explanationValue),
    bars,
    prefix: prefixItems.slice(-40).map(describeOp),
    prefixLength: typeof counterexample.prefixLength === 'number' ? counterexample.prefixLength : prefixItems.length,
    failing: failingItems.slice(0, 50).map(describeOp),
    states,
    raw: counterexample,
  };
}
