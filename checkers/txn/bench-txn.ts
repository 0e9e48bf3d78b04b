// `npm run bench:txn`: the transactional checker on generated list-append histories (100k and 1M transactions,
// 10 and 100 processes; a serializable store, and the same with injected lost updates). Prints one JSON line
// per case: transactions, processes, consistency, check time (wall and CPU), transactions/s, peak RSS, verdict,
// anomaly counts.
//
// Usage: node dist/checkers/txn/bench-txn.js [name-filter]   (FAULTLINE_BENCH_MAX_TXNS=N skips larger cases)
// Each case runs in its own child process so that its peak RSS is its own (the history in memory included).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateTxnHistory } from './generate.js';
import { checkTransactions, type ConsistencyModel } from './index.js';

interface BenchCase {
  name: string;
  transactions: number;
  processes: number;
  anomalyRate: number;
  consistency: ConsistencyModel;
  expected: boolean;
}

function cases(): BenchCase[] {
  const list: BenchCase[] = [];
  for (const transactions of [100_000, 1_000_000]) {
    for (const processes of [10, 100]) {
      for (const anomalyRate of [0, 0.001]) {
        for (const consistency of ['strict-serializable', 'serializable'] as const) {
          const label = `${transactions / 1000}k-p${processes}-${anomalyRate ? 'anomalies' : 'valid'}-${consistency}`;
          list.push({ name: label, transactions, processes, anomalyRate, consistency, expected: anomalyRate === 0 });
        }
      }
    }
  }
  return list;
}

/** Runs one case in this process and prints its JSON line. */
function runCase(benchCase: BenchCase): void {
  const generateStarted = performance.now();
  const history = generateTxnHistory({
    workload: 'list-append',
    transactions: benchCase.transactions,
    processes: benchCase.processes,
    seed: 20261203,
    activeKeys: 10,
    writesPerKey: 32,
    opsPerTransactionMax: 4,
    anomalyRate: benchCase.anomalyRate,
    finalReads: true,
  });
  const generateMs = performance.now() - generateStarted;
  // The generator's garbage is not the checker's: collect it before the clock starts (the child runs with --expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const checkStarted = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = checkTransactions(history, { workload: 'list-append', consistency: benchCase.consistency });
  const checkMs = performance.now() - checkStarted;
  // CPU time of every thread (garbage collector helpers included): steadier than wall time on a loaded machine.
  const cpu = process.cpuUsage(cpuBefore);
  const line = {
    name: benchCase.name,
    transactions: benchCase.transactions,
    processes: benchCase.processes,
    consistency: benchCase.consistency,
    events: history.length,
    generateMs: Math.round(generateMs),
    checkMs: Math.round(checkMs),
    txnPerSecond: Math.round(benchCase.transactions / (checkMs / 1000)),
    checkCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    verdict: result.valid,
    expected: benchCase.expected,
    agrees: result.valid === benchCase.expected,
    anomalyCounts: result.anomalyCounts,
    edges: result.edgeCount,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function main(): void {
  const selected = process.argv[2];
  const all = cases();
  const single = process.env.FAULTLINE_TXN_BENCH_CASE;
  if (single) {
    const benchCase = all.find((candidate) => candidate.name === single);
    if (!benchCase) throw new Error(`no benchmark case ${single}`);
    runCase(benchCase);
    return;
  }
  const maxTransactions = Number(process.env.FAULTLINE_BENCH_MAX_TXNS ?? Infinity);
  const self = fileURLToPath(import.meta.url);
  for (const benchCase of all) {
    if (selected && !benchCase.name.includes(selected)) continue;
    if (benchCase.transactions > maxTransactions) continue;
    const child = spawnSync(process.execPath, ['--max-old-space-size=4096', '--expose-gc', self], {
      env: { ...process.env, FAULTLINE_TXN_BENCH_CASE: benchCase.name },
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (child.status !== 0) {
      process.stdout.write(`${JSON.stringify({ name: benchCase.name, error: (child.stderr || `exit ${child.status} ${child.signal ?? ''}`).trim().split('\n').slice(-3).join(' ') })}\n`);
      continue;
    }
    process.stdout.write(child.stdout);
  }
}

main();
