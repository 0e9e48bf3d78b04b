// Measures HistoryWriter throughput (appends per second, and through close) and prints one JSON object per case.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryWriter, type AppendableOp } from '../../src/history/writer.js';

const opCounts = [100_000, 1_000_000];

/** Realistic op shapes: register ops over 100 keys from 10 processes, invokes and completions alternating. */
function makeOp(index: number): AppendableOp {
  const completion = (index >> 1) % 2 === 1;
  return {
    process: index % 10,
    type: completion ? 'ok' : 'invoke',
    f: index % 3 === 0 ? 'cas' : index % 3 === 1 ? 'write' : 'read',
    key: `k${index % 100}`,
    value: index % 3 === 0 ? [index - 1, index] : index % 3 === 1 ? index : null,
    time: index * 1_000,
  };
}

/** The floor: building and JSON.stringify-ing the same ops with no writer, to compare as a ratio (noisy machines). */
function measureSerializeOnly(opCount: number): number {
  const started = performance.now();
  let characters = 0;
  for (let index = 0; index < opCount; index++) characters += JSON.stringify(makeOp(index)).length;
  if (characters === 0) throw new Error('nothing serialized');
  return performance.now() - started;
}

async function measure(opCount: number): Promise<Record<string, unknown>> {
  const serializeOnlyMs = measureSerializeOnly(opCount);
  const directory = mkdtempSync(join(tmpdir(), 'faultline-bench-writer-'));
  try {
    const path = join(directory, 'history.jsonl');
    const writer = new HistoryWriter(path);
    const started = performance.now();
    for (let index = 0; index < opCount; index++) writer.append(makeOp(index));
    const appendedMs = performance.now() - started;
    await writer.close();
    const closedMs = performance.now() - started;
    return {
      name: `append-${opCount}`,
      ops: opCount,
      appendMs: Math.round(appendedMs),
      appendOpsPerSecond: Math.round(opCount / (appendedMs / 1000)),
      throughCloseMs: Math.round(closedMs),
      throughCloseOpsPerSecond: Math.round(opCount / (closedMs / 1000)),
      serializeOnlyMs: Math.round(serializeOnlyMs),
      appendOverSerializeRatio: Number((appendedMs / serializeOnlyMs).toFixed(2)),
      bytes: statSync(path).size,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

for (const opCount of opCounts) {
  process.stdout.write(`${JSON.stringify(await measure(opCount))}\n`);
}
