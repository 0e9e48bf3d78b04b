// The set checker (Jepsen's set): unique adds, then final reads; every acknowledged add must be in every read
// that began after it was acknowledged, no read may hold an element nobody tried to add, and none may hold one
// whose every add was recorded as `fail` (certainly not done: either the store or the client's error mapping lies).
import type { Checker, CheckResult } from '../types.js';
import { isClientProcess, type History, type Op } from '../../src/history/types.js';

/** How many elements each list in the result shows; counts are always complete. */
const shownElementsMax = 1000;

/** Elements compare by their JSON text, so integers, strings and small values all work. */
const elementKey = (value: unknown) => JSON.stringify(value);

function sortedElements(keys: Iterable<string>): unknown[] {
  const values = [...keys].map((key) => JSON.parse(key) as unknown);
  values.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));
  return values.slice(0, shownElementsMax);
}

/**
 * Reads the checker judges: those marked `final: true` by the runner's final phase when there are any,
 * otherwise every successful read (histories from elsewhere, e.g. Jepsen's, read only at the end).
 */
function successfulReads(history: History, pairsByProcess: Map<unknown, Op>): { final: Array<{ invoke: Op; completion: Op }>; all: Array<{ invoke: Op; completion: Op }> } {
  const reads: Array<{ invoke: Op; completion: Op }> = [];
  for (const op of history) {
    if (!isClientProcess(op.process)) continue;
    if (op.type === 'invoke') {
      pairsByProcess.set(op.process, op);
      continue;
    }
    const invoke = pairsByProcess.get(op.process);
    pairsByProcess.delete(op.process);
    if (op.type === 'ok' && op.f === 'read' && invoke) reads.push({ invoke, completion: op });
  }
  const marked = reads.filter((read) => read.invoke.final === true || read.completion.final === true);
  return { final: marked.length > 0 ? marked : reads, all: reads };
}

function failedButReadReason(count: number): string {
  return `${count} element${count === 1 ? '' : 's'} whose add completed as fail (certainly not done) appeared in a read: the store applied an add it reported as failed, or the client maps an error to fail when the add may have happened`;
}

export function setChecker(): Checker {
  return {
    name: 'set',
    async check(_context, history): Promise<CheckResult> {
      const attempted = new Set<string>();
      /** Acknowledged adds with the time of their acknowledgement. */
      const acknowledgedAt = new Map<string, number>();
      const uncertain = new Set<string>();
      /** Elements with an add completed as fail (certainly not added, if the client maps errors right). */
      const failed = new Set<string>();
      const open = new Map<unknown, Op>();
      for (const op of history) {
        if (!isClientProcess(op.process) || op.f !== 'add') continue;
        const key = elementKey(op.value);
        if (op.type === 'invoke') {
          attempted.add(key);
          open.set(op.process, op);
        } else {
          open.delete(op.process);
          if (op.type === 'ok') acknowledgedAt.set(key, op.time);
          else if (op.type === 'info') uncertain.add(key);
          else if (op.type === 'fail') failed.add(key);
        }
      }
      // An add that never completed is as uncertain as an info.
      for (const invoke of open.values()) uncertain.add(elementKey(invoke.value));

      const { final: reads, all: allReads } = successfulReads(history, new Map());
      // A fail is a promise that the add did not happen: any read showing the element breaks it. Only elements
      // with no other add that might have happened (ok, info, never completed) are judged.
      const failedButRead = new Set<string>();
      for (const read of allReads) {
        const elements = Array.isArray(read.completion.value) ? read.completion.value : [];
        for (const element of elements) {
          const key = elementKey(element);
          if (failed.has(key) && !acknowledgedAt.has(key) && !uncertain.has(key)) failedButRead.add(key);
        }
      }
      const failedButReadFields = { failedButReadCount: failedButRead.size, failedButRead: sortedElements(failedButRead) };
      // (No successful read at all: then nothing was read, failed adds included.)
      if (reads.length === 0) {
        return { valid: 'unknown', error: 'no successful final read', attempted: attempted.size, acknowledged: acknowledgedAt.size };
      }

      const lost = new Set<string>();
      const unexpected = new Set<string>();
      const everRead = new Set<string>();
      const inEveryRead = new Map<string, number>();
      const lostByNode: Record<string, number> = {};
      for (const read of reads) {
        const elements = Array.isArray(read.completion.value) ? read.completion.value : [];
        const present = new Set(elements.map(elementKey));
        for (const key of present) {
          everRead.add(key);
          inEveryRead.set(key, (inEveryRead.get(key) ?? 0) + 1);
          if (!attempted.has(key)) unexpected.add(key);
        }
        // Only adds acknowledged before this read began must be in it.
        let missingHere = 0;
        for (const [key, ackTime] of acknowledgedAt) {
          if (ackTime < read.invoke.time && !present.has(key)) {
            lost.add(key);
            missingHere++;
          }
        }
        if (missingHere > 0) {
          const node = read.completion.node ?? read.invoke.node ?? String(read.invoke.process);
          lostByNode[node] = (lostByNode[node] ?? 0) + missingHere;
        }
      }
      const recovered = [...uncertain].filter((key) => everRead.has(key) && !acknowledgedAt.has(key));
      const okCount = [...acknowledgedAt.keys()].filter((key) => inEveryRead.get(key) === reads.length).length;
      const neverRead = [...uncertain].filter((key) => !everRead.has(key) && !acknowledgedAt.has(key));
      return {
        valid: lost.size === 0 && unexpected.size === 0 && failedButRead.size === 0,
        ...(failedButRead.size > 0 ? { reason: failedButReadReason(failedButRead.size) } : {}),
        attempted: attempted.size,
        acknowledged: acknowledgedAt.size,
        finalReads: reads.length,
        okCount,
        lostCount: lost.size,
        lost: sortedElements(lost),
        lostByNode,
        unexpectedCount: unexpected.size,
        unexpected: sortedElements(unexpected),
        recoveredCount: recovered.length,
        recovered: sortedElements(recovered),
        unresolvedCount: neverRead.length,
        ...failedButReadFields,
      };
    },
  };
}
