// The public API (`import { runTest } from 'faultline'`): what a program needs to test its own system with Faultline.
// Everything a user's target, workload, nemesis or checker is written against is exported here and nowhere else;
// see "Adding your own system" in README.md and examples/my-store.

// Running a test.
export { runTest, type RunOptions, type RunOutcome } from './runner/index.js';
export { loadSpec, validateSpec, defaultSpec, type TestSpec } from './spec/index.js';
export type { RunResults } from './results.js';
export { UserError, ExitCode } from './errors.js';

// A system under test: its per-node lifecycle (Db) and its client.
export type { Target, WorkloadName } from './target.js';
export type { Db } from './db.js';
export type { Client } from './client.js';
export type { TestContext } from './test-context.js';
export type { Backend, Node, ExecResult, ExecOptions, DaemonOptions, BackendName } from './backends/types.js';

// Helpers for a Db whose store runs as a daemon with a pid file (the kill and pause nemeses call Db.kill/pause).
export { readPidFile, isProcessAlive, runningDaemonPid, waitForProcessExit, signalDaemon, killDaemon } from './daemon.js';

// Histories.
export { isClientProcess, pairOps, type Op, type OpType, type Process, type Key, type History, type OpPair } from './history/types.js';

// Generators: what the clients and the nemesis do when, seeded.
export {
  repeat,
  sequence,
  mix,
  stagger,
  limit,
  timeLimit,
  phases,
  eachProcess,
  reserve,
  clients,
  nemesis,
  any,
  delay,
  createRandom,
  type Generator,
  type GeneratorContext,
  type OpRequest,
  type Next,
  type Thread,
  type Random,
} from './generator/index.js';

// Workloads, nemeses and checkers, and the registries that make `--target`, `--workload` and `--nemesis` find them.
export type { Workload, WorkloadInstance, FinalOp } from '../workloads/types.js';
export { registerWorkload, loadWorkload, workloadNames } from '../workloads/index.js';
export { registerTarget, loadTarget, targetNames } from './targets.js';
export type { Nemesis } from './nemesis.js';
export type { NemesisPackage, FaultOp, FaultName } from '../nemeses/types.js';
export { registerNemesis, faultNames, createNemesisPackages, composeNemeses, type NemesisFactory, type NemesisOptions } from '../nemeses/index.js';
export { composeCheckers, mergeValidity, type Checker, type CheckContext, type CheckResult, type Validity } from '../checkers/types.js';
export {
  checkLinearizable,
  linearizableChecker,
  getModel,
  modelNames,
  type Model,
  type ModelOp,
  type ModelOptions,
  type LinearizableOptions,
  type LinearizableResult,
} from '../checkers/linearizable/index.js';
