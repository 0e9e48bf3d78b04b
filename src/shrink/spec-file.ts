// A TestSpec written back as a spec file that `faultline run FILE` loads into the same spec: how a shrunk
// schedule is handed to a person (and replayed by the shrink e2e test).
import { stringify } from 'yaml';
import type { TestSpec } from '../spec/types.js';

/** The spec's fields under their spec-file names (src/spec/load.ts fieldsInFiles); the timeline in file form. */
export function specFileFields(spec: TestSpec): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    name: spec.name,
    target: spec.target,
    backend: spec.backend,
    nodes: spec.hosts ? [...spec.hosts] : spec.nodes,
    workload: spec.workload,
    keys: spec.keys,
    'key-distribution': spec.keyDistribution,
    'ops-per-key': spec.opsPerKey,
    nemesis: spec.nemesis.length > 0 ? [...spec.nemesis] : 'none',
    'nemesis-interval': spec.nemesisIntervalSeconds,
    'nemesis-schedule': spec.nemesisSchedule,
    'nemesis-options': spec.nemesisOptions,
    'time-limit': spec.timeLimitSeconds,
    concurrency: spec.concurrency,
    rate: spec.rate,
    seed: spec.seed,
    store: spec.store,
    recovery: spec.recoverySeconds,
    'client-timeout': spec.clientTimeoutSeconds,
    'backend-options': spec.backendOptions,
    'target-options': spec.targetOptions,
  };
  if (spec.nemesisTimeline) {
    fields['nemesis-timeline'] = spec.nemesisTimeline.map((event) => ({
      at: event.atSeconds,
      fault: event.fault,
      action: event.action,
      ...(event.f !== undefined ? { f: event.f } : {}),
      ...(event.value !== undefined ? { value: event.value } : {}),
    }));
  }
  if ((spec.nemesisConcurrentFaults ?? 1) > 1) fields['nemesis-concurrent-faults'] = spec.nemesisConcurrentFaults;
  if (spec.bug) fields.bug = spec.bug;
  if (spec.consistency) fields.consistency = spec.consistency;
  if (spec.serializableReads) fields['serializable-reads'] = true;
  if (spec.availability) fields.availability = spec.availability;
  if (spec.clientRetry) fields['client-retry'] = spec.clientRetry;
  return fields;
}

/** YAML text of the spec file; shared objects are written out in full (an alias would read back as one object). */
export function specFileText(spec: TestSpec, header: string): string {
  const body = stringify(specFileFields(spec), { aliasDuplicateObjects: false });
  return `${header.split('\n').map((line) => `# ${line}`).join('\n')}\n${body}`;
}
