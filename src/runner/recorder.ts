// Records every invocation and completion the moment it happens: to history.jsonl (through the HistoryWriter),
// to an in-memory history for the checkers, and to counters for the progress line.
import type { Op, OpType, Process } from '../history/types.js';

/** Where ops go on disk; HistoryWriter is one (tests may pass an array-backed sink). */
export interface OpSink {
  append(op: Omit<Op, 'index'> & { index?: number }): number;
}

/** Nanoseconds since the test began: the start of the client phase (Jepsen's relative-time origin). */
export interface TestClock {
  nowNs(): number;
}

/**
 * The run's clock. Until `start()` it counts from its creation; `start()` (called as the client phase begins)
 * makes that instant time 0, so history times, the fault schedule and the time limit share one origin and
 * the minutes of provisioning and setup before it count for none of them.
 */
export interface RunClock extends TestClock {
  start(): void;
  readonly started: boolean;
  /** This clock's time of an earlier `process.hrtime.bigint()` reading: negative for one taken before start. */
  timeOf(hrtimeNs: bigint): number;
}

export function createTestClock(): RunClock {
  let originNs = process.hrtime.bigint();
  let started = false;
  return {
    nowNs: () => Number(process.hrtime.bigint() - originNs),
    timeOf: (hrtimeNs) => Number(hrtimeNs - originNs),
    start() {
      if (started) return;
      started = true;
      originNs = process.hrtime.bigint();
    },
    get started() {
      return started;
    },
  };
}

export interface RecordedCounts {
  /** Client invocations. */
  ops: number;
  ok: number;
  fail: number;
  info: number;
}

export class Recorder {
  readonly history: Op[] = [];
  readonly counts: RecordedCounts = { ops: 0, ok: 0, fail: 0, info: 0 };

  constructor(
    private readonly clock: TestClock,
    private readonly historySink: OpSink,
    /** nemesis.jsonl: the nemesis's completions in full. */
    private readonly nemesisSink?: OpSink,
  ) {}

  private append(op: Op): Op {
    this.history.push(op);
    this.historySink.append(op);
    return op;
  }

  /** Appends the invocation of `fields` (f, value, key, node ...) by `process`. */
  invoke(process: Process, fields: { f: string; value: unknown; [extra: string]: unknown }): Op {
    if (process !== 'nemesis') this.counts.ops++;
    // Built field by field rather than by spreading: this is the run's hottest path (see bench-harness).
    const op = { index: this.history.length, process, type: 'invoke' } as Op;
    for (const name in fields) op[name] = fields[name];
    op.time = this.clock.nowNs();
    return this.append(op);
  }

  /** Appends a completion of `invoke`: its f, key and other fields, overridden by `fields`; type ok, fail or info. */
  complete(invoke: Op, type: Exclude<OpType, 'invoke'>, fields: { value: unknown; error?: string; [extra: string]: unknown }): Op {
    const op = { index: this.history.length, process: invoke.process, type } as Op;
    for (const name in invoke) {
      if (name !== 'index' && name !== 'process' && name !== 'type' && name !== 'time') op[name] = invoke[name];
    }
    for (const name in fields) op[name] = fields[name];
    op.time = this.clock.nowNs();
    this.append(op);
    if (invoke.process === 'nemesis') this.nemesisSink?.append(op);
    else this.counts[type]++;
    return op;
  }
}
