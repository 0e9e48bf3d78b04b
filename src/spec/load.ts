// Loads and validates a test spec from a YAML/JSON file and command-line flags (flags win), naming the field,
// and for files the line, of anything wrong: "spec.yaml:3: nodes: expected an integer from 1 to 9, got 'five'".
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { UserError, inputError } from '../errors.js';
import type { FaultName } from '../../nemeses/types.js';
import type { TimelineEvent } from '../generator/schedule.js';
import { freshSeed } from '../generator/random.js';
import { SSH_OPTION_FIELDS } from '../backends/ssh/flags.js';
import { backendNames, defaultSpec, type TestSpec } from './types.js';
import { isModulePath, resolveModulePath } from '../external-module.js';
import { targetNames } from '../targets.js';
import { workloadNames } from '../../workloads/index.js';
import { faultNames } from '../../nemeses/index.js';

/** Targets whose client can read with etcd's serializable (member-local, possibly stale) reads. */
export const serializableReadTargets: readonly string[] = ['etcd'];

/** raftkv's bug switches (issue 3); a spec naming another is refused before any node starts. */
export const raftkvBugs = ['stale-read', 'lazy-fsync', 'forget-vote', 'lease-read', 'split-txn', 'lock-wall-clock'] as const;

/** A value before validation, with where it came from (a file and line, or a flag) for messages. */
interface RawValue {
  value: unknown;
  where: { file: string; line?: number; label: string };
}

function fail(raw: RawValue, expected: string): never {
  const shown = typeof raw.value === 'string' ? `'${raw.value}'` : JSON.stringify(raw.value);
  const message = `${raw.where.label}: expected ${expected}, got ${shown}`;
  if (raw.where.line === undefined && raw.where.file === '') throw new UserError(message);
  throw inputError(raw.where.file, raw.where.line, message);
}

function integerIn(raw: RawValue, min: number, max: number): number {
  const { value } = raw;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) fail(raw, `an integer from ${min} to ${max}`);
  return parsed;
}

function numberIn(raw: RawValue, min: number, max: number, unit: string): number {
  const { value } = raw;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) fail(raw, `a number of ${unit} from ${min} to ${max}`);
  return parsed;
}

function oneOf<T extends string>(raw: RawValue, choices: readonly T[]): T {
  if (typeof raw.value !== 'string' || !choices.includes(raw.value as T)) fail(raw, `one of ${choices.join(', ')}`);
  return raw.value as T;
}

/** A value that is well-formed but not allowed here: "--bug: only the raftkv target has bug switches". */
function refuse(raw: RawValue, message: string): never {
  const text = `${raw.where.label}: ${message}`;
  if (raw.where.line === undefined && raw.where.file === '') throw new UserError(text);
  throw inputError(raw.where.file, raw.where.line, text);
}

function boolean(raw: RawValue): boolean {
  if (raw.value === true || raw.value === 'true') return true;
  if (raw.value === false || raw.value === 'false') return false;
  return fail(raw, 'true or false');
}

function text(raw: RawValue, pattern: RegExp, expected: string): string {
  if (typeof raw.value !== 'string' || !pattern.test(raw.value)) fail(raw, expected);
  return raw.value;
}

/**
 * A registry name from `names`, or a module path made absolute: relative to the spec file's folder when the value
 * came from a file, to the working directory when it came from a flag. A path must name an existing file.
 */
function nameOrModule(raw: RawValue, names: readonly string[], kind: string): string {
  const expected = `one of ${names.join(', ')}, or a path to your own ${kind} module (e.g. ./my-${kind}.js)`;
  if (typeof raw.value !== 'string' || raw.value.trim() === '') fail(raw, expected);
  const value = raw.value.trim();
  if (!isModulePath(value)) return names.includes(value) ? value : fail(raw, expected);
  const path = resolveModulePath(value, raw.where.file === '' ? process.cwd() : dirname(resolve(raw.where.file)));
  if (!existsSync(path)) refuse(raw, `no such ${kind} module: ${path}`);
  return path;
}

function faultList(raw: RawValue): FaultName[] {
  const expected = `'none' or a comma-separated list of ${faultNames().join(', ')} or paths to nemesis modules`;
  let items: unknown[];
  if (typeof raw.value === 'string') items = raw.value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  else if (Array.isArray(raw.value)) items = raw.value;
  else if (raw.value === null) items = ['none'];
  else return fail(raw, expected);
  if (items.length === 1 && items[0] === 'none') return [];
  const faults: FaultName[] = [];
  for (const item of items) {
    if (typeof item !== 'string') fail(raw, expected);
    const fault = isModulePath(item) ? nameOrModule({ value: item, where: raw.where }, faultNames(), 'nemesis') : item;
    if (!isModulePath(item) && !faultNames().includes(item)) fail(raw, expected);
    if (!faults.includes(fault)) faults.push(fault);
  }
  return faults;
}

/** Spec fields by every name they may have in a file (flag spelling and camelCase). */
const fileKeys: Record<string, string> = {};
const fieldsInFiles = [
  'name', 'target', 'backend', 'nodes', 'workload', 'keys', 'key-distribution', 'ops-per-key', 'nemesis',
  'nemesis-interval', 'nemesis-schedule', 'nemesis-timeline', 'nemesis-concurrent-faults', 'nemesis-options', 'time-limit', 'concurrency', 'rate', 'seed', 'store',
  'bug', 'consistency', 'serializable-reads', 'leave-running', 'recovery', 'client-timeout', 'target-options', 'backend-options',
  'availability', 'client-retry',
];
/**
 * Backend flags passed through to the backend, which validates them (ssh: src/backends/ssh/options.ts): the
 * ssh backend's own list, so a flag added there reaches `faultline run` from flags and spec files alike.
 */
const backendFlags: readonly string[] = SSH_OPTION_FIELDS;
for (const key of backendFlags) fileKeys[key] = key;
for (const key of backendFlags) fileKeys[key.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())] = key;
for (const key of fieldsInFiles) {
  fileKeys[key] = key;
  fileKeys[key.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())] = key;
}

/** Reads a spec file into raw values with the line of each; YAML is a superset of JSON, so both parse here. */
export function readSpecFile(path: string): Map<string, RawValue> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`${path}: cannot read the spec file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return parseSpecText(content, path);
}

export function parseSpecText(content: string, file: string): Map<string, RawValue> {
  const lineCounter = new LineCounter();
  const document = parseDocument(content, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const first = document.errors[0];
    const line = first.linePos?.[0]?.line ?? lineCounter.linePos(first.pos[0]).line;
    throw inputError(file, line, `expected a YAML or JSON map of spec fields (${first.message.split('\n')[0]})`);
  }
  const raws = new Map<string, RawValue>();
  const root = document.contents;
  if (root === null) return raws;
  if (!isMap(root)) throw inputError(file, 1, 'expected a map of spec fields (e.g. "nodes: 5")');
  const lineOf = (node: YamlNode | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);
  for (const pair of root.items) {
    const keyNode = pair.key as YamlNode;
    const keyText = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const line = lineOf(keyNode);
    const field = fileKeys[keyText];
    if (!field) {
      throw inputError(file, line, `unknown field '${keyText}' (expected one of ${[...fieldsInFiles, ...backendFlags].join(', ')})`);
    }
    const valueNode = pair.value as YamlNode | null;
    // toJS with the document resolves aliases (`*anchor`); a node's own toJSON would leave them as {source}.
    const value = valueNode === null || valueNode === undefined ? null : valueNode.toJS(document);
    // Timeline entries keep their own lines so a bad event is pointed at exactly.
    if (field === 'nemesis-timeline' && isSeq(valueNode)) {
      const itemLines = valueNode.items.map((item) => lineOf(item as YamlNode));
      raws.set(field, { value: { items: value, itemLines }, where: { file, line, label: keyText } });
      continue;
    }
    raws.set(field, { value, where: { file, line, label: keyText } });
  }
  return raws;
}

/**
 * Flag values from commander (camelCase option names, string values) as raw values; `undefined` flags are
 * absent. The flag names are the file's field names with a leading `--`.
 */
export function flagsToRaw(flags: Record<string, unknown>): Map<string, RawValue> {
  const raws = new Map<string, RawValue>();
  for (const [option, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const field = fileKeys[option];
    if (!field) continue;
    raws.set(field, { value, where: { file: '', label: `--${field}` } });
  }
  return raws;
}

function timeline(raw: RawValue, faults: readonly FaultName[]): TimelineEvent[] {
  const wrapped = raw.value as { items?: unknown; itemLines?: Array<number | undefined> } | null;
  const items = wrapped && Array.isArray(wrapped.items) ? wrapped.items : Array.isArray(raw.value) ? raw.value : undefined;
  if (!items) return fail(raw, 'a list of events such as {at: 10, fault: partition, action: start}');
  return items.map((item: unknown, index: number) => {
    const itemWhere = { ...raw.where, line: wrapped?.itemLines?.[index] ?? raw.where.line, label: `${raw.where.label}[${index}]` };
    const event = item as Record<string, unknown> | null;
    const at = { value: event?.at, where: { ...itemWhere, label: `${itemWhere.label}.at` } };
    const fault = { value: event?.fault, where: { ...itemWhere, label: `${itemWhere.label}.fault` } };
    const action = { value: event?.action ?? 'start', where: { ...itemWhere, label: `${itemWhere.label}.action` } };
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      fail({ value: item, where: itemWhere }, 'an event such as {at: 10, fault: partition, action: start}');
    }
    const parsed: TimelineEvent = {
      atSeconds: numberIn(at, 0, 86_400, 'seconds'),
      fault: text(fault, /^[a-z][a-z0-9-]*$/, `a fault listed in nemesis (${faults.join(', ') || 'none'})`),
      action: oneOf(action, ['start', 'stop'] as const),
    };
    // A module's nemesis names itself; the schedule checks such names against the loaded packages.
    const fromModule = faults.some((listed) => isModulePath(listed)) && !faultNames().includes(parsed.fault);
    if (!faults.includes(parsed.fault) && !fromModule) fail(fault, `a fault listed in nemesis (${faults.join(', ') || 'none'})`);
    if (event.f !== undefined) parsed.f = text({ value: event.f, where: { ...itemWhere, label: `${itemWhere.label}.f` } }, /^[a-z][a-z-]*$/, 'a nemesis op name such as start-partition');
    if (event.value !== undefined) parsed.value = event.value;
    return parsed;
  });
}

/**
 * `--target-options isolation=serializable,port=5433` as a map: numbers and true/false are typed as a YAML file
 * would type them, anything else stays a string.
 */
function parseOptionPairs(raw: RawValue): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of String(raw.value).split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^([A-Za-z][A-Za-z0-9_-]*)=(.*)$/.exec(pair);
    if (!match) fail(raw, 'name=value pairs separated by commas (e.g. isolation=serializable)');
    const text = match[2];
    options[match[1]] = text === 'true' ? true : text === 'false' ? false : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  return options;
}

/**
 * The entries of a nested map field (`availability`, `client-retry`) by their kebab-case names, each a raw value
 * labelled `field.entry` at the field's line; an unknown entry is refused naming the ones allowed.
 */
function nestedEntries(raw: RawValue, allowed: readonly string[], example: string): Map<string, RawValue> {
  if (raw.value === null || typeof raw.value !== 'object' || Array.isArray(raw.value)) fail(raw, `a map such as ${example}`);
  const entries = new Map<string, RawValue>();
  for (const [key, value] of Object.entries(raw.value as Record<string, unknown>)) {
    const kebab = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
    const where = { ...raw.where, label: `${raw.where.label}.${key}` };
    if (!allowed.includes(kebab)) refuse({ value, where }, `unknown entry (expected one of ${allowed.join(', ')})`);
    entries.set(kebab, { value, where });
  }
  return entries;
}

/** `availability: {max-unavailable-s, max-recovery-s, min-goodput-ratio, max-error-rate, max-retry-amplification, outage-threshold-s}`. */
function availabilityThresholds(raw: RawValue): NonNullable<TestSpec['availability']> {
  const entries = nestedEntries(raw, ['max-unavailable-s', 'max-recovery-s', 'min-goodput-ratio', 'max-error-rate', 'max-retry-amplification', 'outage-threshold-s'], '{max-recovery-s: 5}');
  const thresholds: NonNullable<TestSpec['availability']> = {};
  const number = (name: string, min: number, max: number, unit: string) => {
    const entry = entries.get(name);
    return entry ? numberIn(entry, min, max, unit) : undefined;
  };
  const maxUnavailableS = number('max-unavailable-s', 0, 86_400, 'seconds');
  if (maxUnavailableS !== undefined) thresholds.maxUnavailableS = maxUnavailableS;
  const maxRecoveryS = number('max-recovery-s', 0, 86_400, 'seconds');
  if (maxRecoveryS !== undefined) thresholds.maxRecoveryS = maxRecoveryS;
  const minGoodputRatio = number('min-goodput-ratio', 0, 1_000, 'goodput ratio');
  if (minGoodputRatio !== undefined) thresholds.minGoodputRatio = minGoodputRatio;
  const maxErrorRate = number('max-error-rate', 0, 1, 'error rate');
  if (maxErrorRate !== undefined) thresholds.maxErrorRate = maxErrorRate;
  const maxRetryAmplification = number('max-retry-amplification', 1, 1_000, 'attempts per request');
  if (maxRetryAmplification !== undefined) thresholds.maxRetryAmplification = maxRetryAmplification;
  const outageThresholdS = number('outage-threshold-s', 0.001, 3_600, 'seconds');
  if (outageThresholdS !== undefined) thresholds.outageThresholdS = outageThresholdS;
  return thresholds;
}

/** `client-retry: {attempts, backoff-ms, max-backoff-ms, jitter, reconnect}`; defaults: 1 attempt, 100 ms, 2000 ms, 0, false. */
function clientRetrySettings(raw: RawValue): NonNullable<TestSpec['clientRetry']> {
  const entries = nestedEntries(raw, ['attempts', 'backoff-ms', 'max-backoff-ms', 'jitter', 'reconnect'], '{attempts: 3, backoff-ms: 100}');
  const attempts = entries.get('attempts');
  const backoff = entries.get('backoff-ms');
  const maxBackoff = entries.get('max-backoff-ms');
  const jitter = entries.get('jitter');
  const reconnect = entries.get('reconnect');
  const settings = {
    attempts: attempts ? integerIn(attempts, 1, 100) : 1,
    backoffMs: backoff ? numberIn(backoff, 0, 600_000, 'milliseconds') : 100,
    maxBackoffMs: maxBackoff ? numberIn(maxBackoff, 0, 600_000, 'milliseconds') : 2_000,
    jitter: jitter ? numberIn(jitter, 0, 1, 'fraction') : 0,
    reconnect: reconnect ? boolean(reconnect) : false,
  };
  if (maxBackoff && settings.maxBackoffMs < settings.backoffMs) fail(maxBackoff, `a number of milliseconds at least backoff-ms (${settings.backoffMs})`);
  return settings;
}

/** A registry name as it is; a module path as its file name without extension (./dist/my-target.js: my-target). */
function shortName(nameOrPath: string): string {
  return isModulePath(nameOrPath) ? basename(nameOrPath).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '-') : nameOrPath;
}

/** Validates merged raw values (flags over file) into a complete spec with defaults filled in. */
export function validateSpec(raws: Map<string, RawValue>): TestSpec {
  const get = (field: string) => raws.get(field);
  const spec: TestSpec = { ...defaultSpec, nemesis: [...defaultSpec.nemesis], nemesisOptions: {}, backendOptions: {}, targetOptions: {}, name: '', seed: 0 };

  const target = get('target');
  if (target) spec.target = nameOrModule(target, targetNames(), 'target');
  const backend = get('backend');
  if (backend) spec.backend = oneOf(backend, backendNames);
  const workload = get('workload');
  if (workload) spec.workload = nameOrModule(workload, workloadNames(), 'workload');

  const nodes = get('nodes');
  if (nodes) {
    const looksLikeHosts = Array.isArray(nodes.value) || (typeof nodes.value === 'string' && nodes.value.includes(','));
    if (spec.backend === 'ssh') {
      const hosts = Array.isArray(nodes.value) ? nodes.value : typeof nodes.value === 'string' ? nodes.value.split(',').map((host) => host.trim()) : [];
      if (hosts.length < 1 || hosts.length > 9 || hosts.some((host) => typeof host !== 'string' || !/^[A-Za-z0-9@._:-]+$/.test(host))) {
        fail(nodes, 'a list of 1 to 9 hosts (user@host or host, comma-separated)');
      }
      spec.hosts = hosts as string[];
      spec.nodes = hosts.length;
    } else if (looksLikeHosts) {
      fail(nodes, 'an integer from 1 to 9 (a host list needs --backend ssh)');
    } else {
      spec.nodes = integerIn(nodes, 1, 9);
    }
  } else if (spec.backend === 'ssh') {
    throw new UserError('nodes: expected a list of hosts for --backend ssh (e.g. --nodes db1,db2,db3)');
  }

  const keys = get('keys');
  if (keys) spec.keys = integerIn(keys, 1, 10_000);
  const keyDistribution = get('key-distribution');
  if (keyDistribution) spec.keyDistribution = oneOf(keyDistribution, ['uniform', 'zipfian'] as const);
  const opsPerKey = get('ops-per-key');
  if (opsPerKey) spec.opsPerKey = integerIn(opsPerKey, 1, 1_000_000);

  const nemesis = get('nemesis');
  if (nemesis) spec.nemesis = faultList(nemesis);
  const interval = get('nemesis-interval');
  if (interval) spec.nemesisIntervalSeconds = numberIn(interval, 0.1, 3600, 'seconds');
  const schedule = get('nemesis-schedule');
  if (schedule) spec.nemesisSchedule = oneOf(schedule, ['periodic', 'random', 'timeline'] as const);
  const concurrentFaults = get('nemesis-concurrent-faults');
  if (concurrentFaults) spec.nemesisConcurrentFaults = integerIn(concurrentFaults, 1, Math.max(faultNames().length, spec.nemesis.length));
  const timelineRaw = get('nemesis-timeline');
  if (timelineRaw) {
    spec.nemesisTimeline = timeline(timelineRaw, spec.nemesis);
    if (!schedule) spec.nemesisSchedule = 'timeline';
  }
  if (spec.nemesisSchedule === 'timeline' && !spec.nemesisTimeline) {
    throw new UserError('nemesis-schedule: timeline needs a nemesis-timeline list in the spec file');
  }

  const timeLimit = get('time-limit');
  if (timeLimit) spec.timeLimitSeconds = numberIn(timeLimit, 1, 86_400, 'seconds');
  const concurrency = get('concurrency');
  if (concurrency) spec.concurrency = integerIn(concurrency, 1, 1000);
  const rate = get('rate');
  if (rate) spec.rate = numberIn(rate, 0.1, 1_000_000, 'ops per second');
  const seed = get('seed');
  spec.seed = seed ? integerIn(seed, 0, Number.MAX_SAFE_INTEGER) : freshSeed();
  const store = get('store');
  if (store) spec.store = text(store, /^.+$/, 'a directory path');
  const leaveRunning = get('leave-running');
  if (leaveRunning) spec.leaveRunning = boolean(leaveRunning);
  const recovery = get('recovery');
  if (recovery) spec.recoverySeconds = numberIn(recovery, 0, 3600, 'seconds');
  const clientTimeout = get('client-timeout');
  if (clientTimeout) spec.clientTimeoutSeconds = numberIn(clientTimeout, 0.1, 3600, 'seconds');

  const nemesisOptions = get('nemesis-options');
  if (nemesisOptions) {
    if (nemesisOptions.value === null || typeof nemesisOptions.value !== 'object' || Array.isArray(nemesisOptions.value)) {
      fail(nemesisOptions, 'a map of nemesis options (e.g. killTargets: [majority, all])');
    }
    spec.nemesisOptions = { ...(nemesisOptions.value as Record<string, unknown>) };
  }
  const backendOptions = get('backend-options');
  if (backendOptions) {
    if (backendOptions.value === null || typeof backendOptions.value !== 'object' || Array.isArray(backendOptions.value)) {
      fail(backendOptions, 'a map of backend options (e.g. ssh-user: admin)');
    }
    spec.backendOptions = { ...(backendOptions.value as Record<string, unknown>) };
  }
  for (const flag of backendFlags) {
    const raw = get(flag);
    if (raw) spec.backendOptions[flag] = raw.value;
  }
  const targetOptions = get('target-options');
  if (targetOptions && typeof targetOptions.value === 'string') targetOptions.value = parseOptionPairs(targetOptions);
  if (targetOptions) {
    if (targetOptions.value === null || typeof targetOptions.value !== 'object' || Array.isArray(targetOptions.value)) {
      fail(targetOptions, 'a map of target options');
    }
    spec.targetOptions = { ...(targetOptions.value as Record<string, unknown>) };
  }
  const serializableReads = get('serializable-reads');
  if (serializableReads && boolean(serializableReads)) {
    if (!serializableReadTargets.includes(spec.target)) {
      refuse(serializableReads, `only the ${serializableReadTargets.join(', ')} target supports serializable reads, not ${spec.target}`);
    }
    spec.serializableReads = true;
    spec.targetOptions.serializableReads = true;
  }
  const consistency = get('consistency');
  if (consistency) {
    // Which models exist is the transaction workloads' business (workloads/list-append/transactions.ts checks it).
    if (!['list-append', 'rw-register'].includes(spec.workload)) refuse(consistency, `only the list-append and rw-register workloads take a consistency model, not ${spec.workload}`);
    spec.consistency = text(consistency, /^[a-z][a-z-]*$/, 'a consistency model such as serializable or snapshot-isolation');
  }
  const bug = get('bug');
  if (bug) {
    if (spec.target !== 'raftkv') fail(bug, 'no bug switch: only the raftkv target has them');
    spec.bug = oneOf(bug, raftkvBugs);
    spec.targetOptions.bug = spec.bug;
  }

  const availability = get('availability');
  if (availability) spec.availability = availabilityThresholds(availability);
  const clientRetry = get('client-retry');
  if (clientRetry) spec.clientRetry = clientRetrySettings(clientRetry);

  const name = get('name');
  spec.name = name ? text(name, /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a name of letters, digits, dots, dashes and underscores') : `${shortName(spec.target)}-${shortName(spec.workload)}`;
  return spec;
}

/** Faultline's own folder (where scenarios/ ships), from src/spec (run from source) or dist/src/spec. */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return existsSync(join(here, '..', '..', 'package.json')) ? resolve(here, '..', '..') : resolve(here, '..', '..', '..');
}

/**
 * A spec file's path: as given when it exists; else, for a relative path, the same path in Faultline's own
 * folder, so `faultline run scenarios/target-2019-flap.yaml` finds the bundled scenario from any directory; else
 * a bare name of a bundled scenario (`target-2019-flap`). Otherwise as given, and reading it says what is wrong.
 */
export function resolveSpecPath(file: string): string {
  if (existsSync(file) || isAbsolute(file)) return file;
  const root = packageRoot();
  const candidates = [join(root, file), join(root, 'scenarios', file), join(root, 'scenarios', `${file}.yaml`)];
  return candidates.find((candidate) => existsSync(candidate)) ?? file;
}

/** The whole loader: an optional spec file, then flags over it. */
export function loadSpec(options: { file?: string; flags?: Record<string, unknown> }): TestSpec {
  const raws = options.file ? readSpecFile(resolveSpecPath(options.file)) : new Map<string, RawValue>();
  for (const [field, raw] of flagsToRaw(options.flags ?? {})) raws.set(field, raw);
  return validateSpec(raws);
}

/** argv that replays this spec (every field as a flag, the seed included); a timeline needs its spec file too. */
export function specToArgv(spec: TestSpec): string[] {
  const argv = ['faultline', 'run',
    '--name', spec.name, '--target', spec.target, '--backend', spec.backend,
    '--nodes', spec.hosts ? spec.hosts.join(',') : String(spec.nodes), '--workload', spec.workload,
    '--keys', String(spec.keys), '--key-distribution', spec.keyDistribution, '--ops-per-key', String(spec.opsPerKey),
    '--nemesis', spec.nemesis.length > 0 ? spec.nemesis.join(',') : 'none', '--nemesis-interval', String(spec.nemesisIntervalSeconds),
    '--nemesis-schedule', spec.nemesisSchedule,
    '--time-limit', String(spec.timeLimitSeconds), '--concurrency', String(spec.concurrency), '--rate', String(spec.rate),
    '--seed', String(spec.seed), '--store', spec.store, '--recovery', String(spec.recoverySeconds),
    '--client-timeout', String(spec.clientTimeoutSeconds)];
  if ((spec.nemesisConcurrentFaults ?? 1) > 1) argv.push('--nemesis-concurrent-faults', String(spec.nemesisConcurrentFaults));
  if (spec.bug) argv.push('--bug', spec.bug);
  if (spec.consistency) argv.push('--consistency', spec.consistency);
  // Scalar target options (e.g. postgres isolation) replay as flags; bug and serializable reads have their own.
  const optionPairs = Object.entries(spec.targetOptions)
    .filter(([name, value]) => !['bug', 'serializableReads'].includes(name) && ['string', 'number', 'boolean'].includes(typeof value) && !String(value).includes(','))
    .map(([name, value]) => `${name}=${String(value)}`);
  if (optionPairs.length > 0) argv.push('--target-options', optionPairs.join(','));
  if (spec.serializableReads) argv.push('--serializable-reads');
  for (const flag of backendFlags) {
    const value = spec.backendOptions[flag];
    if (value === undefined) continue;
    if (flag === 'sudo' || flag === 'ssh-agent') {
      // Switches on the command line: true is the bare flag; false (only a spec file can say it) has no flag.
      if (value === true || value === 'true') argv.push(`--${flag}`);
      else if (typeof value === 'string' && value !== 'false') argv.push(`--${flag}`, value);
      continue;
    }
    argv.push(`--${flag}`, Array.isArray(value) ? value.join(',') : String(value));
  }
  if (spec.leaveRunning) argv.push('--leave-running');
  return argv;
}
