// The watch workload: writers update one ConfigMap while watchers follow it, each closing and resuming its
// watch from the last resourceVersion it saw; checked for order, gaps and resumption (workloads/watch/checker.ts).
import type { Checker } from '../../checkers/types.js';
import { statsChecker } from '../../checkers/stats/index.js';
import type { Generator } from '../../src/generator/index.js';
import type { TestSpec } from '../../src/spec/types.js';
import { numberOption } from '../../src/target-options.js';
import type { Workload, WorkloadInstance } from '../types.js';
import { watchChecker } from './checker.js';

export { checkWatch, judgeWatchers, watchChecker } from './checker.js';
export type { WatchEvent, WatchValue, WatcherVerdict } from './checker.js';

/** How long each watch stays open before the watcher closes it and resumes: short, so runs see many resumes. */
export const watchSpanMsDefault = 2500;
/** A writer's pause between writes. */
export const writeIntervalMsDefault = 150;

/**
 * Ops (one object, key 0):
 * - write {value: unique integer} -> ok {resourceVersion}: an unconditional update (a create the first time);
 * - watch {value: {spanMs}} -> ok {value: {from, listed, events: [{type, resourceVersion, value}], expired?}}:
 *   the client's first watch (or the first after a 410 Gone) lists to learn where to start, as informers do;
 *   each later one resumes from the last resourceVersion it delivered. fail only when no watch could be opened.
 * Even threads write, odd threads watch, so with threads spread over the nodes every node has both.
 */
export function watchGenerator(options: { spanMs: number; writeIntervalMs: number }): Generator {
  let nextValue = 1;
  return {
    next(context) {
      const writer = typeof context.thread === 'number' && context.thread % 2 === 0;
      if (writer) return { type: 'op', op: { f: 'write', key: 0, value: nextValue++ }, atNs: context.timeNs + options.writeIntervalMs * 1e6 };
      return { type: 'op', op: { f: 'watch', key: 0, value: { spanMs: options.spanMs } }, atNs: context.timeNs };
    },
  };
}

export const watchWorkload: Workload = {
  name: 'watch',
  create(spec: TestSpec): WorkloadInstance {
    const spanMs = numberOption(spec.targetOptions, 'watch-span-ms') ?? watchSpanMsDefault;
    const writeIntervalMs = numberOption(spec.targetOptions, 'write-interval-ms') ?? writeIntervalMsDefault;
    if (!(spanMs > 0 && writeIntervalMs >= 0)) throw new Error(`watch: expected watch-span-ms > 0 and write-interval-ms >= 0, got ${spanMs} and ${writeIntervalMs}`);
    return {
      name: 'watch',
      generator: watchGenerator({ spanMs, writeIntervalMs }),
      finalOps: () => [],
      checkers: async (): Promise<Checker[]> => [watchChecker(), statsChecker({ mustSucceed: ['write', 'watch'], mayNeverSucceed: [] })],
      checkContext: () => ({ options: { spanMs, writeIntervalMs } }),
    };
  },
};
