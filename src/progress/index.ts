// Live progress while a test runs: one redrawn line on a terminal, a plain line every few seconds otherwise (CI).
import { createLogUpdate } from 'log-update';

export interface ProgressSnapshot {
  phase: string;
  elapsedMs: number;
  limitMs: number;
  ops: number;
  ok: number;
  fail: number;
  info: number;
  activeFaults: readonly string[];
}

export interface Progress {
  /** Prints a line above the live display (or plainly), without tearing it. */
  log(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Forces the plain form (or the live form) regardless of the stream. */
  live?: boolean;
  snapshot: () => ProgressSnapshot;
  /** Plain form: one line this often. Default 5000. */
  plainIntervalMs?: number;
  /** Live form: redraw this often. Default 250. */
  liveIntervalMs?: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(0)}s`;

export function formatProgress(snapshot: ProgressSnapshot, opsPerSecond: number): string {
  const faults = snapshot.activeFaults.length > 0 ? snapshot.activeFaults.join(',') : 'none';
  return `[${snapshot.phase}] ${seconds(snapshot.elapsedMs)}/${seconds(snapshot.limitMs)}  ops ${snapshot.ops}  ok ${snapshot.ok}  fail ${snapshot.fail}  info ${snapshot.info}  ${opsPerSecond.toFixed(0)} ops/s  faults: ${faults}`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stdout;
  const live = options.live ?? Boolean(stream.isTTY);
  let previous = { atMs: Date.now(), ops: 0 };
  const render = (): string => {
    const snapshot = options.snapshot();
    const nowMs = Date.now();
    const rate = nowMs > previous.atMs ? ((snapshot.ops - previous.ops) * 1000) / (nowMs - previous.atMs) : 0;
    previous = { atMs: nowMs, ops: snapshot.ops };
    return formatProgress(snapshot, Math.max(0, rate));
  };

  if (!live) {
    const timer = setInterval(() => stream.write(`${render()}\n`), options.plainIntervalMs ?? 5000);
    timer.unref();
    return {
      log: (line) => stream.write(`${line}\n`),
      stop: () => clearInterval(timer),
    };
  }

  const update = createLogUpdate(stream, { showCursor: true });
  let lastLine = '';
  // The rate is measured over about one second so the live number does not flicker with every redraw.
  let rateWindowStart = previous;
  const liveRender = () => {
    const snapshot = options.snapshot();
    const nowMs = Date.now();
    const rate = nowMs > rateWindowStart.atMs ? ((snapshot.ops - rateWindowStart.ops) * 1000) / (nowMs - rateWindowStart.atMs) : 0;
    if (nowMs - rateWindowStart.atMs > 1000) rateWindowStart = { atMs: nowMs, ops: snapshot.ops };
    lastLine = formatProgress(snapshot, Math.max(0, rate));
    update(lastLine);
  };
  const timer = setInterval(liveRender, options.liveIntervalMs ?? 250);
  timer.unref();
  return {
    log(line) {
      update.clear();
      stream.write(`${line}\n`);
      if (lastLine) update(lastLine);
    },
    stop() {
      clearInterval(timer);
      liveRender();
      update.done();
    },
  };
}
