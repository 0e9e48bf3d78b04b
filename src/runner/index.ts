// The runner: one test from spec to verdict. Provision, set up, drive clients and faults under one seeded
// generator, heal, recover, read finally, collect logs, tear down, check, store. Whatever goes wrong on the
// way, the finally block heals every fault and tears the nodes down before it returns.
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createBackend, type BackendOptions } from '../backends/index.js';
import type { Backend, BackendEvent, Node } from '../backends/types.js';
import type { Client } from '../client.js';
import type { Db } from '../db.js';
import { UserError, ExitCode } from '../errors.js';
import { HistoryWriter } from '../history/writer.js';
import type { Op } from '../history/types.js';
import type { Nemesis } from '../nemesis.js';
import type { RunResults } from '../results.js';
import type { Target } from '../target.js';
import type { TestContext } from '../test-context.js';
import { loadTarget } from '../targets.js';
import { mergeValidity, type CheckResult, type Validity } from '../../checkers/types.js';
import { clientWorkersChecker } from '../../checkers/stats/index.js';
import { availabilityChecker } from '../../checkers/availability/index.js';
import type { NemesisPackage } from '../../nemeses/types.js';
import { loadWorkload, type WorkloadInstance } from '../../workloads/index.js';
import {
  any,
  clients,
  createRandom,
  dealt,
  fixedTimeline,
  nemesis as nemesisOnly,
  periodicSchedule,
  randomSchedule,
  scheduleGenerator,
  stagger,
  timeLimit,
  type DealtGenerator,
  type Generator,
  type Random,
  type ScheduledFault,
  type Thread,
} from '../generator/index.js';
import { specToArgv } from '../spec/load.js';
import type { TestSpec } from '../spec/types.js';
import { createRunDirectory, RunLog, runFile, updateLatest, writeJson } from '../store/index.js';
import { writeCiOutputs } from '../store/ci-outputs.js';
import { createProgress, type Progress } from '../progress/index.js';
import { NemesisLog } from './nemesis-log.js';
import { createTestClock, Recorder } from './recorder.js';
import {
  errorText,
  invokeClientOp,
  invokeNemesisOp,
  openClient,
  ClientNeverOpened,
  runClientWorker,
  runNemesisWorker,
  Scheduler,
  sleep,
  withTimeout,
  type ActiveFaults,
  type WorkerEnvironment,
} from './workers.js';

export { nextProcess } from './workers.js';

/** Bounds of the run's phases that the spec does not set. */
const limits = {
  nemesisOpTimeoutMs: 60_000,
  nemesisTeardownTimeoutMs: 120_000,
  dbSetupTimeoutMs: 120_000,
  dbTeardownTimeoutMs: 60_000,
  logDownloadTimeoutMs: 30_000,
  backendTeardownTimeoutMs: 120_000,
  finalPhaseMs: 60_000,
  finalAttemptsMax: 5,
};

export interface RunOptions {
  /** Aborting it interrupts the run (Ctrl-C, SIGTERM): faults are healed and nodes torn down, then it returns. */
  signal?: AbortSignal;
  /** argv that reproduces the run; default: the spec as flags. */
  command?: string[];
  /** Where progress and log lines go. Default process.stdout. */
  output?: NodeJS.WriteStream;
  /** Force the live (TTY) or plain progress form. */
  live?: boolean;
  /** Called as soon as the run directory exists (the CLI prints it, tests find files early). */
  onRunDirectory?(runDir: string): void;
  /** Called once the backend exists, so a caller can reach it (tests, cleanup on a second signal). */
  onBackend?(backend: Backend): void;
  /** Use this target instead of the registry's (unit tests drive the runner with small in-memory ones). */
  target?: Target;
  /** Use this backend instead of the registry's. */
  backend?: Backend;
}

export interface RunOutcome {
  runDir: string;
  results: RunResults;
  exitCode: number;
}

function faultlineVersion(): string {
  for (const candidate of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // Built (dist/src/runner) and source (src/runner) layouts differ by one level.
    }
  }
  return 'unknown';
}

/** The fault timeline for the run, from the seed alone. */
export function planSchedule(spec: TestSpec, packages: readonly NemesisPackage[], random: Random): ScheduledFault[] {
  if (packages.length === 0) return [];
  const durationMs = spec.timeLimitSeconds * 1000;
  const intervalMs = spec.nemesisIntervalSeconds * 1000;
  if (spec.nemesisSchedule === 'timeline') return fixedTimeline(spec.nemesisTimeline ?? [], packages, random);
  if (spec.nemesisSchedule === 'periodic') return periodicSchedule({ packages, intervalMs, durationMs, random, concurrentFaultsMax: spec.nemesisConcurrentFaults });
  return randomSchedule({ packages, intervalMs, durationMs, random, concurrentFaultsMax: spec.nemesisConcurrentFaults });
}

/**
 * The main phase: client ops dealt to the threads in a fixed order (so a seed replays what each thread invokes,
 * whatever the timing; see `dealt`), spaced to the spec's rate, and the fault schedule, under one time limit.
 */
export function mainPhaseGenerator(
  spec: Pick<TestSpec, 'concurrency' | 'rate' | 'timeLimitSeconds'>,
  workloadGenerator: Generator,
  schedule: readonly ScheduledFault[],
  random: Random,
): { generator: Generator; clientOps: DealtGenerator } {
  const clientThreads = Array.from({ length: spec.concurrency }, (_, thread) => thread);
  const clientOps = dealt(clientThreads, random, workloadGenerator);
  const generator = timeLimit(spec.timeLimitSeconds * 1e9, any(clients(stagger(spec.rate, clientOps)), nemesisOnly(scheduleGenerator(schedule))));
  return { generator, clientOps };
}

/** Names under which each backend takes the size of a node's data volume, in MiB. */
const dataVolumeOptionNames: Record<string, readonly string[]> = {
  local: ['diskSizeMb'],
  docker: ['dataSizeMiB'],
  ssh: ['ssh-tmpfs-mb', 'sshTmpfsMb', 'data-volume-mb', 'dataVolumeMb'],
};

/**
 * What createBackend gets for this spec and target: the spec's backend options (ssh flags and fields
 * included), the ssh host list, the target's name (docker picks the target's image by it), and the data
 * volume the target needs unless the user set one (etcd's WAL does not fit the local backend's default).
 */
export function backendOptionsFor(spec: TestSpec, target: Pick<Target, 'name' | 'dataVolumeMb'>): BackendOptions {
  const options: BackendOptions = { ...spec.backendOptions };
  if (spec.hosts) options.hosts = [...spec.hosts];
  options.target ??= target.name;
  const sizeNames = dataVolumeOptionNames[spec.backend] ?? [];
  const sizeGiven = sizeNames.some((name) => options[name] !== undefined);
  if (target.dataVolumeMb !== undefined && !sizeGiven && sizeNames.length > 0) options[sizeNames[0]] = target.dataVolumeMb;
  return options;
}

function exitCodeOf(valid: Validity): number {
  return valid === true ? ExitCode.valid : valid === false ? ExitCode.invalid : ExitCode.unknown;
}

export async function runTest(spec: TestSpec, options: RunOptions = {}): Promise<RunOutcome> {
  const output = options.output ?? process.stdout;
  const startedAt = new Date();
  const runDir = createRunDirectory(spec.store, spec.name, startedAt);
  options.onRunDirectory?.(runDir);
  writeJson(runFile(runDir, 'spec'), spec);
  const runLog = new RunLog(runFile(runDir, 'runLog'));
  let progress: Progress | undefined;
  const log = (message: string) => {
    runLog.line(message);
    if (progress) progress.log(message);
    else output.write(`${message}\n`);
  };
  log(`faultline: ${spec.name}, seed ${spec.seed} (replay with --seed ${spec.seed})`);
  log(`faultline: results in ${runDir}`);

  const errors: string[] = [];
  const clock = createTestClock();
  const historyWriter = new HistoryWriter(runFile(runDir, 'history'));
  const nemesisWriter = new NemesisLog(runFile(runDir, 'nemesis'));
  const recorder = new Recorder(clock, historyWriter, nemesisWriter);
  // A crash between flushes must not lose recorded ops: write them out synchronously on the way down.
  const flushOnExit = () => {
    try {
      historyWriter.flushSync();
      nemesisWriter.flushSync();
    } catch {
      // Already closed.
    }
  };
  process.on('exit', flushOnExit);

  const interrupt = new AbortController();
  // Every waiting worker listens on it: hundreds of listeners are expected, not a leak.
  setMaxListeners(0, interrupt.signal);
  const onExternalAbort = () => interrupt.abort();
  if (options.signal?.aborted) interrupt.abort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  let phase = 'setup';
  let interruptedDuring: string | undefined;
  interrupt.signal.addEventListener('abort', () => {
    interruptedDuring ??= phase;
  }, { once: true });
  const active: ActiveFaults = new Map();
  let backend: Backend | undefined;
  let db: Db | undefined;
  let nemesis: Nemesis | undefined;
  let nemesisSetUp = false;
  let packages: NemesisPackage[] = [];
  let nodes: Node[] = [];
  let failure: unknown;
  let checked: { valid: Validity; checkers: RunResults['checkers'] } | undefined;
  let targetName = spec.target;
  let workloadInstance: WorkloadInstance | undefined;
  let unsubscribeBackendEvents: (() => void) | undefined;
  let warningsLogged = 0;
  const earlyBackendEventsMax = 1000;
  const earlyBackendEvents: Array<{ event: BackendEvent; hrtimeNs: bigint }> = [];
  const writeBackendEvent = (event: BackendEvent, time: number) => {
    nemesisWriter.appendEvent({ process: 'nemesis', type: 'info', f: `backend-${event.type}`, value: event, time, ...(event.node ? { node: event.node } : {}) });
  };
  const writeEarlyBackendEvents = () => {
    for (const early of earlyBackendEvents.splice(0)) writeBackendEvent(early.event, clock.timeOf(early.hrtimeNs));
  };

  const test: TestContext = {
    name: spec.name,
    runId: '',
    runDir,
    backend: undefined as unknown as Backend,
    nodes: [],
    seed: spec.seed,
    spec: { ...spec } as unknown as TestContext['spec'],
    log,
    // One set for the run: nemesis ops see copies of this context (with their own cancellable backend).
    nodesTakenOut: new Set(),
    // A lone completion (no invoke): it may fall while another nemesis op is outstanding without breaking its pairing.
    recordNemesisEvent: (event) => {
      recorder.complete({ process: 'nemesis', f: event.f, value: event.value } as Op, 'info', { value: event.value });
    },
  };

  const rootRandom = createRandom(spec.seed);
  const threadRandoms = new Map<Thread, Random>();
  const randomFor = (thread: Thread) => {
    let random = threadRandoms.get(thread);
    if (!random) {
      random = rootRandom.fork(`thread:${String(thread)}`);
      threadRandoms.set(thread, random);
    }
    return random;
  };
  const scheduler = new Scheduler();
  const threads: Thread[] = [...Array.from({ length: spec.concurrency }, (_, thread) => thread), 'nemesis'];
  const healOpFor = (fault: string) => packages.find((pack) => pack.name === fault)?.healOp();

  const environment = (generator: WorkerEnvironment['generator']): WorkerEnvironment => ({
    test,
    clock,
    recorder,
    generator,
    scheduler,
    threads,
    concurrency: spec.concurrency,
    randomFor,
    signal: interrupt.signal,
    clientTimeoutMs: spec.clientTimeoutSeconds * 1000,
  });

  progress = createProgress({
    stream: output,
    live: options.live,
    snapshot: () => ({
      phase,
      elapsedMs: clock.started ? Math.min(spec.timeLimitSeconds * 1000, clock.nowNs() / 1e6) : 0,
      limitMs: spec.timeLimitSeconds * 1000,
      ...recorder.counts,
      activeFaults: [...active.keys()],
    }),
  });

  /** Faults still in force after their final heal op and the nemesis teardown both failed, with why. */
  const unhealedFaults: Array<{ fault: string; error: string }> = [];
  /** Client threads that ended with an error (see clientWorkersChecker). */
  const deadClientWorkers: string[] = [];
  const healAll = async () => {
    if (!nemesis || !db || !nemesisSetUp) return;
    const healEnvironment = { ...environment({ next: () => ({ type: 'done' }) }), signal: new AbortController().signal };
    const failedHeals = new Map<string, string>();
    for (const [fault, heal] of [...active]) {
      const completion = await invokeNemesisOp(healEnvironment, nemesis, db, { ...heal, fault, action: 'stop' }, active, healOpFor, limits.nemesisOpTimeoutMs);
      if (active.has(fault)) failedHeals.set(fault, completion.error ?? `completed ${completion.type}`);
    }
    const liveDb = db;
    const liveNemesis = nemesis;
    let teardownError: string | undefined;
    await withTimeout(async () => {
      await liveNemesis.teardown(test, liveDb);
      return undefined;
    }, limits.nemesisTeardownTimeoutMs, (reason) => {
      teardownError = reason;
      return undefined;
    });
    if (teardownError !== undefined) errors.push(`healing faults: ${teardownError}`);
    // The teardown undoes everything each nemesis remembers: when it succeeds, a fault whose heal op erred is healed.
    for (const [fault, error] of failedHeals) {
      if (teardownError === undefined) log(`faultline: ${fault}: its heal op failed (${error}); the nemesis teardown healed it`);
      else unhealedFaults.push({ fault, error: `${error}; teardown: ${teardownError}` });
    }
    active.clear();
    nemesisSetUp = false;
  };

  try {
    const target = options.target ?? (await loadTarget(spec.target));
    targetName = target.name;
    // A user's workload module (spec.workload is then its path) names itself; the target speaks that name.
    const workloadDefinition = await loadWorkload(spec.workload);
    if (!target.workloads.includes(workloadDefinition.name)) {
      throw new UserError(`workload: target ${target.name} speaks ${target.workloads.join(', ')}, not '${workloadDefinition.name}'`);
    }
    const workload = workloadDefinition.create(spec);
    workloadInstance = workload;
    if (spec.nemesis.length > 0) {
      const nemeses = await import('../../nemeses/index.js');
      await nemeses.loadNemesisModules(spec.nemesis);
      packages = nemeses.createNemesisPackages(spec.nemesis, spec.nemesisOptions);
      nemesis = nemeses.composeNemeses(packages);
    }
    // The Db is only an object until setup: made here, a bad target option or a fault the target cannot take
    // stops the run before any node is provisioned.
    const plannedDb = target.db(spec.targetOptions);
    for (const nemesisPackage of packages) {
      const refusal = nemesisPackage.refuses?.(plannedDb);
      if (refusal !== undefined) throw new UserError(`nemesis ${nemesisPackage.name}: ${refusal}`);
    }
    const schedule = planSchedule(spec, packages, rootRandom.fork('nemesis-schedule'));
    runLog.line(`planned faults: ${schedule.map((event) => `${(event.atNs / 1e9).toFixed(1)}s ${event.op.f}`).join(', ') || 'none'}`);

    phase = 'provision';
    backend = options.backend ?? (await createBackend(spec.backend, backendOptionsFor(spec, target)));
    options.onBackend?.(backend);
    test.backend = backend;
    test.runId = backend.runId;
    log(`faultline: run id ${backend.runId}; provisioning ${spec.nodes} nodes on the ${spec.backend} backend`);
    // Connection events (ssh reconnects, retries) belong next to the faults they may explain. They carry no
    // history index (they are not history ops); those from before the client phase wait for its time 0, so
    // their times come out negative (before the test began) and the file stays in time order.
    unsubscribeBackendEvents = backend.onEvent?.((event) => {
      runLog.line(`backend event: ${JSON.stringify(event)}`);
      if (!clock.started && earlyBackendEvents.length < earlyBackendEventsMax) earlyBackendEvents.push({ event, hrtimeNs: process.hrtime.bigint() });
      else if (clock.started) writeBackendEvent(event, clock.nowNs());
    });
    nodes = await backend.provision(spec.nodes);
    test.nodes = nodes;
    for (const warning of backend.warnings ?? []) log(`faultline: warning: ${warning}`);
    warningsLogged = backend.warnings?.length ?? 0;

    phase = 'setup';
    const liveDb = plannedDb;
    db = liveDb;
    if (spec.nemesis.includes('clock') && !liveDb.clockSkewable) log(`faultline: note: ${spec.target} ignores libfaketime; clock faults will not move its clock`);
    const setups = await Promise.allSettled(
      nodes.map((node) => withTimeout(() => liveDb.setup(test, node), limits.dbSetupTimeoutMs, (reason) => {
        throw new Error(reason);
      })),
    );
    const setupFailures = setups.flatMap((result, index) => (result.status === 'rejected' ? [`${nodes[index].name}: ${errorText(result.reason)}`] : []));
    if (setupFailures.length > 0) throw new Error(`setting up ${spec.target} failed: ${setupFailures.join('; ')}`);
    log(`faultline: ${target.name} is up on ${nodes.map((node) => `${node.name} (${node.host})`).join(', ')}`);
    if (nemesis) {
      // Marked first: a setup that fails half-way still gets its teardown.
      nemesisSetUp = true;
      await nemesis.setup(test, liveDb);
    }
    if (interrupt.signal.aborted) throw new Error('interrupted');

    // The main phase: clients at the spec's rate and the fault schedule, both under one time limit.
    phase = 'run';
    const { generator, clientOps } = mainPhaseGenerator(spec, workload.generator, schedule, rootRandom.fork('client-ops'));
    const prototype: Client = target.client(workloadDefinition.name, spec.targetOptions);
    // Time 0 of the test: the history's times, the rate, the time limit and the fault schedule all count from
    // here, so a fault planned at 2 s comes 2 s into the client phase whatever provisioning and setup took.
    clock.start();
    writeEarlyBackendEvents();
    const mainEnvironment: WorkerEnvironment = { ...environment(generator), ...clientRetryEnvironment(spec, rootRandom), mainPhaseEndNs: spec.timeLimitSeconds * 1e9 };
    const workers: Array<Promise<unknown>> = [];
    for (let thread = 0; thread < spec.concurrency; thread++) {
      // A worker that ends (time limit, abort, or a client that never opened) asks no more: the others stop waiting on it.
      workers.push(runClientWorker(mainEnvironment, thread, nodes[thread % nodes.length], prototype).finally(() => clientOps.retire(thread)));
    }
    if (nemesis) workers.push(runNemesisWorker(mainEnvironment, nemesis, liveDb, active, healOpFor, limits.nemesisOpTimeoutMs));
    const settled = await Promise.allSettled(workers);
    for (const result of settled) if (result.status === 'rejected') errors.push(`worker: ${errorText(result.reason)}`);
    // The first `concurrency` workers are the client threads: one that died left its ops out of the history.
    settled.slice(0, spec.concurrency).forEach((result, thread) => {
      if (result.status === 'rejected') deadClientWorkers.push(`thread ${thread} on ${nodes[thread % nodes.length].name}: ${errorText(result.reason)}`);
    });

    phase = 'heal';
    await healAll();
    if (interrupt.signal.aborted) throw new Error('interrupted');

    phase = 'recover';
    if (unhealedFaults.length === 0) log(`faultline: faults healed; ${spec.recoverySeconds} s to recover`);
    else log(`faultline: NOT healed: ${unhealedFaults.map((entry) => `${entry.fault} (${entry.error})`).join('; ')}; ${spec.recoverySeconds} s to recover anyway`);
    await sleep(spec.recoverySeconds * 1000, interrupt.signal);
    if (interrupt.signal.aborted) throw new Error('interrupted');

    phase = 'final';
    await runFinalPhase(environment(generator), prototype, nodes, workload.finalOps(nodes.map((node) => node.name)), recorder, log);
    if (interrupt.signal.aborted) throw new Error('interrupted');
    phase = 'teardown';
  } catch (error) {
    failure = error;
    if (!(interrupt.signal.aborted && errorText(error) === 'interrupted')) errors.push(`${phase}: ${errorText(error)}`);
    else errors.push(`interrupted during ${interruptedDuring ?? phase}`);
    log(`faultline: ${interrupt.signal.aborted ? 'interrupted' : 'error'} during ${phase}: ${errorText(error)}; healing and tearing down`);
  } finally {
    phase = 'teardown';
    try {
      await healAll();
    } catch (error) {
      errors.push(`healing faults: ${errorText(error)}`);
    }
    if (backend && db) await collectLogs(test, backend, db, nodes, runDir, errors);
    if (backend && db && !spec.leaveRunning) {
      const liveDb = db;
      await Promise.all(nodes.map((node) => withTimeout(() => liveDb.teardown(test, node), limits.dbTeardownTimeoutMs, (reason) => {
        errors.push(`tearing down ${node.name}: ${reason}`);
      })));
    }
    if (backend && !spec.leaveRunning) {
      const liveBackend = backend;
      await withTimeout(() => liveBackend.teardown(), limits.backendTeardownTimeoutMs, (reason) => {
        errors.push(`backend teardown: ${reason}`);
      });
    } else if (backend) {
      log(`faultline: --leave-running: cluster ${backend.runId} left up (faults healed); remove it with faultline cleanup`);
    }
    // Warnings may have grown while the run reconnected; the new ones go to the log too.
    for (const warning of (backend?.warnings ?? []).slice(warningsLogged)) log(`faultline: warning: ${warning}`);
    unsubscribeBackendEvents?.();
    // A run that never reached its client phase has no time 0: its events keep times since the run began.
    writeEarlyBackendEvents();
    options.signal?.removeEventListener('abort', onExternalAbort);
    progress.stop();
    progress = undefined;
    await historyWriter.close().catch((error: unknown) => errors.push(`history.jsonl: ${errorText(error)}`));
    await nemesisWriter.close().catch((error: unknown) => errors.push(`nemesis.jsonl: ${errorText(error)}`));
    process.removeListener('exit', flushOnExit);
  }

  if (failure === undefined && workloadInstance) {
    phase = 'check';
    output.write('faultline: checking the history\n');
    runLog.line('checking the history');
    checked = await runCheckers(await workloadInstance.checkers(), workloadInstance.checkContext(), recorder.history);
    // Every run says how available the store stayed; only the spec's thresholds can make this verdict fail.
    const availability = await runCheckers([availabilityChecker(spec.availability ?? {})], {}, recorder.history);
    Object.assign(checked.checkers, availability.checkers);
    checked.valid = mergeValidity(checked.valid, availability.valid);
  }

  for (const entry of unhealedFaults) errors.push(`fault not healed: ${entry.fault}: ${entry.error}`);
  if (checked && unhealedFaults.length > 0) {
    // The final reads were taken with a fault possibly still in force, so recovery is unproven: a valid verdict
    // becomes unknown. A violation found stays a violation.
    checked.checkers.faults = { valid: 'unknown', unhealed: unhealedFaults, reason: 'a fault could not be healed; see errors' };
    checked.valid = mergeValidity(checked.valid, 'unknown');
  }
  if (checked && deadClientWorkers.length > 0) {
    const verdict = await clientWorkersChecker(deadClientWorkers).check({}, recorder.history);
    checked.checkers['client-workers'] = verdict;
    checked.valid = mergeValidity(checked.valid, verdict.valid);
  }
  const valid: Validity = checked?.valid ?? 'unknown';
  const results: RunResults = {
    name: spec.name,
    runId: test.runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: spec.seed,
    command: options.command ?? specToArgv(spec),
    versions: { faultline: faultlineVersion(), node: process.version },
    target: targetName,
    backend: spec.backend,
    workload: spec.workload,
    nemesis: [...spec.nemesis],
    nodes: nodes.map((node) => node.name),
    valid,
    checkers: checked?.checkers ?? {},
    stats: { ...recorder.counts },
    errors,
  };
  const warnings = [...(backend?.warnings ?? [])];
  // The disk fault's fail-stop is a fault's effect, not the store's bug: said here (and in the report) so a
  // reader sees which nodes served none of the run's end, and why.
  for (const name of [...(test.nodesTakenOut ?? [])].sort()) {
    warnings.push(`${name} was taken out by the disk fault: it refused to start on corrupted data (fail-stop) and stayed down`);
  }
  if (warnings.length > 0) results.warnings = warnings;
  const exitCode = failure !== undefined ? (failure instanceof UserError ? failure.exitCode : ExitCode.error) : exitCodeOf(valid);
  writeJson(runFile(runDir, 'results'), results);
  // What CI reads: junit.xml and summary.json; failing to write them must not cost the run its verdict.
  try {
    writeCiOutputs(runDir, results, exitCode);
  } catch (error) {
    runLog.line(`junit.xml / summary.json: ${errorText(error)}`);
  }
  updateLatest(spec.store, runDir);
  await writeReportIfAvailable(runDir, (message) => runLog.line(message));
  if (failure instanceof UserError) throw Object.assign(failure, { runDir, results });
  return { runDir, results, exitCode };
}

/**
 * The client workers' retry settings (spec `client-retry`): retries stop at the time limit, and each thread draws
 * its jitter from a stream of its own, so the generator's streams (and the ops a seed replays) stay as they were.
 */
export function clientRetryEnvironment(spec: Pick<TestSpec, 'clientRetry' | 'timeLimitSeconds'>, rootRandom: Random): Partial<WorkerEnvironment> {
  if (!spec.clientRetry) return {};
  const retryRandom = rootRandom.fork('client-retry');
  const randoms = new Map<number, Random>();
  return {
    clientRetry: spec.clientRetry,
    retryDeadlineNs: spec.timeLimitSeconds * 1e9,
    retryRandomFor(thread: number) {
      let random = randoms.get(thread);
      if (!random) {
        random = retryRandom.fork(`thread:${thread}`);
        randoms.set(thread, random);
      }
      return random;
    },
  };
}

/** Each checker over the history; one that throws is 'unknown' (Jepsen's rule), never a crash. */
export async function runCheckers(
  checkers: ReadonlyArray<{ name: string; check(context: object, history: Op[]): Promise<CheckResult> }>,
  context: object,
  history: Op[],
): Promise<{ valid: Validity; checkers: RunResults['checkers'] }> {
  let valid: Validity = true;
  const results: RunResults['checkers'] = {};
  for (const checker of checkers) {
    let result: CheckResult;
    try {
      result = await checker.check(context, history);
    } catch (error) {
      result = { valid: 'unknown', error: errorText(error) };
    }
    results[checker.name] = result;
    valid = mergeValidity(valid, result.valid);
  }
  return { valid, checkers: results };
}

/**
 * The final phase: each final op on its node with a fresh client and process id, retried (bounded) until it
 * succeeds, so that the checkers have a read from after the faults. Marked `final: true` in the history.
 */
async function runFinalPhase(
  environment: WorkerEnvironment,
  prototype: Client,
  nodes: Node[],
  finalOps: ReadonlyArray<{ node: string; op: { f: string; value: unknown; [extra: string]: unknown } }>,
  recorder: Recorder,
  log: (message: string) => void,
): Promise<void> {
  const deadlineMs = Date.now() + limits.finalPhaseMs;
  let nextProcessId = recorder.history.reduce((highest, op) => (typeof op.process === 'number' ? Math.max(highest, op.process) : highest), -1) + 1;
  const clientsByNode = new Map<string, Client>();
  let failed = 0;
  try {
    for (const finalOp of finalOps) {
      const node = nodes.find((candidate) => candidate.name === finalOp.node) ?? nodes[0];
      let succeeded = false;
      for (let attempt = 0; attempt < limits.finalAttemptsMax && Date.now() < deadlineMs && !environment.signal.aborted; attempt++) {
        let client = clientsByNode.get(node.name);
        if (!client) {
          client = await openClient(environment, prototype, node, 3).catch((error: unknown) => {
            if (error instanceof ClientNeverOpened) return undefined;
            throw error;
          });
          if (!client) break;
          clientsByNode.set(node.name, client);
        }
        const completion = await invokeClientOp(environment, client, nextProcessId, node, finalOp.op);
        // A fresh process for every attempt: an info one may still be in flight.
        nextProcessId++;
        if (completion.type === 'ok') {
          succeeded = true;
          break;
        }
        if (completion.type === 'info') {
          clientsByNode.delete(node.name);
          void withTimeout(() => client.close(environment.test), 1000, () => undefined);
        }
        await sleep(1000, environment.signal);
      }
      if (!succeeded) failed++;
    }
  } finally {
    await Promise.all([...clientsByNode.values()].map((client) => withTimeout(() => client.close(environment.test), 1000, () => undefined)));
  }
  log(`faultline: final phase: ${finalOps.length - failed} of ${finalOps.length} final ops succeeded`);
}

/** nodes/<node>/<file> for every log file the Db names; a missing log is noted, not fatal. */
async function collectLogs(test: TestContext, backend: Backend, db: Db, nodes: Node[], runDir: string, errors: string[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      let files: string[] = [];
      try {
        files = db.logFiles(test, node);
      } catch (error) {
        errors.push(`log files of ${node.name}: ${errorText(error)}`);
      }
      for (const file of files) {
        const destination = join(runDir, 'nodes', node.name, basename(file));
        await withTimeout(async () => {
          const { mkdirSync } = await import('node:fs');
          mkdirSync(join(runDir, 'nodes', node.name), { recursive: true });
          await backend.download(node, file, destination);
          return undefined;
        }, limits.logDownloadTimeoutMs, (reason) => {
          errors.push(`collecting ${node.name}:${file}: ${reason}`);
          return undefined;
        });
      }
    }),
  );
}

/** reports/index.ts `writeReport(runDir)` when that module exists; its absence is a note in run.log. */
async function writeReportIfAvailable(runDir: string, note: (message: string) => void): Promise<void> {
  let writeReport: ((runDir: string) => Promise<unknown>) | undefined;
  try {
    const specifier: string = new URL('../../reports/index.js', import.meta.url).href;
    const module = (await import(specifier)) as { writeReport?: (runDir: string) => Promise<unknown> };
    writeReport = module.writeReport;
  } catch {
    note('report: reports/index.js is not in this build; no report.html');
    return;
  }
  if (typeof writeReport !== 'function') {
    note('report: reports/index.js has no writeReport; no report.html');
    return;
  }
  try {
    await writeReport(runDir);
  } catch (error) {
    note(`report: writing report.html failed: ${errorText(error)}`);
  }
}
