// The watch check: one writer updates a ConfigMap while a watcher on every apiserver follows it, closing and
// resuming its watch from the last resourceVersion it saw; each watcher's events must be ordered, gap-free
// (every acknowledged write after its start, none skipped) and resumable (a resume loses nothing).
import { ApiException, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { Node } from '../../src/backends/types.js';
import type { ClusterPki } from './certs.js';
import { kubeConfigFor } from './client.js';

export interface WatchCheckOptions {
  /** Writes the writer makes, one every writeIntervalMs. */
  writes?: number;
  writeIntervalMs?: number;
  /** Each watch is closed by the watcher after this long and resumed (exercising resumption). */
  watchSpanMs?: number;
  name?: string;
  namespace?: string;
  requestTimeoutMs?: number;
}

export interface WatcherReport {
  node: string;
  /** resourceVersions of the MODIFIED events seen, in arrival order (across resumes). */
  seen: string[];
  resumes: number;
  /** Events whose resourceVersion was not above the previous one (out of order or repeated across a resume). */
  outOfOrder: { previous: string; next: string }[];
  /** Acknowledged writes after the watcher's start, up to the last event it saw, that it never delivered. */
  missed: string[];
  /** Whether it delivered the last acknowledged write before the check ended (else the window was cut short). */
  caughtUp: boolean;
  /** 410 Gone: the resume point was compacted away (legal, but the watcher then cannot be gap-free). */
  expired: number;
  errors: string[];
}

export interface WatchCheckReport {
  acknowledged: string[];
  unknownWrites: number;
  watchers: WatcherReport[];
  valid: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function revision(resourceVersion: string): bigint {
  return /^\d+$/.test(resourceVersion) ? BigInt(resourceVersion) : -1n;
}

/**
 * Judges one watcher's events against the writes. The first event's ordering starts the window: acknowledged
 * writes above `startRv` and at or below the last event seen must all have been delivered, in increasing order.
 */
export function judgeWatcher(startRv: string, seen: readonly string[], acknowledged: readonly string[]): Pick<WatcherReport, 'outOfOrder' | 'missed'> {
  const outOfOrder: WatcherReport['outOfOrder'] = [];
  for (let i = 1; i < seen.length; i++) if (revision(seen[i]) <= revision(seen[i - 1])) outOfOrder.push({ previous: seen[i - 1], next: seen[i] });
  const last = seen.length > 0 ? seen.reduce((a, b) => (revision(b) > revision(a) ? b : a)) : startRv;
  const delivered = new Set(seen);
  const missed = acknowledged.filter((rv) => revision(rv) > revision(startRv) && revision(rv) <= revision(last) && !delivered.has(rv));
  return { outOfOrder, missed };
}

/** One watcher on one apiserver: watch from startRv, close every watchSpanMs, resume from the last event. */
async function watchUntil(node: Node, pki: ClusterPki, startRv: string, stop: () => boolean, options: Required<WatchCheckOptions>): Promise<Omit<WatcherReport, 'outOfOrder' | 'missed' | 'caughtUp'>> {
  const watch = new Watch(kubeConfigFor(node, pki));
  const report: Omit<WatcherReport, 'outOfOrder' | 'missed' | 'caughtUp'> = { node: node.name, seen: [], resumes: 0, expired: 0, errors: [] };
  let from = startRv;
  // Bounded: at most one watch per span over the run, plus retries after errors.
  for (let round = 0; round < 500 && !stop(); round++) {
    let finished!: (error: unknown) => void;
    const ended = new Promise<unknown>((resolve) => (finished = resolve));
    let controller: AbortController | undefined;
    try {
      controller = await watch.watch(
        `/api/v1/namespaces/${options.namespace}/configmaps`,
        { fieldSelector: `metadata.name=${options.name}`, resourceVersion: from, allowWatchBookmarks: false },
        (phase, object: { metadata?: { resourceVersion?: string }; code?: number }) => {
          if (phase === 'ERROR') {
            if (object?.code === 410) report.expired++;
            report.errors.push(`ERROR event ${JSON.stringify(object).slice(0, 160)}`);
            return;
          }
          const rv = object?.metadata?.resourceVersion;
          if (phase === 'MODIFIED' && rv) {
            report.seen.push(rv);
            from = rv;
          }
        },
        (error) => finished(error),
      );
    } catch (error) {
      report.errors.push(error instanceof ApiException ? `HTTP ${error.code}` : String(error).slice(0, 160));
      await sleep(500);
      continue;
    }
    const span = sleep(options.watchSpanMs).then(() => 'span');
    const outcome = await Promise.race([ended, span]);
    if (outcome === 'span') {
      controller.abort();
      await Promise.race([ended, sleep(2000)]);
    } else if (outcome) {
      if (report.errors.length < 20) report.errors.push(String(outcome).slice(0, 160));
      await sleep(500);
    }
    if (!stop()) report.resumes++;
  }
  return report;
}

/** Runs the writer and one watcher per node; returns what each watcher saw, judged. */
export async function runWatchCheck(nodes: readonly Node[], pki: ClusterPki, options: WatchCheckOptions = {}, duringWrites?: () => Promise<void>): Promise<WatchCheckReport> {
  const settings: Required<WatchCheckOptions> = {
    writes: options.writes ?? 60,
    writeIntervalMs: options.writeIntervalMs ?? 200,
    watchSpanMs: options.watchSpanMs ?? 3000,
    name: options.name ?? 'faultline-watch',
    namespace: options.namespace ?? 'default',
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
  };
  const api = kubeConfigFor(nodes[0], pki).makeApiClient(CoreV1Api);
  const created = await api.createNamespacedConfigMap({ namespace: settings.namespace, body: { metadata: { name: settings.name }, data: { n: '0' } } });
  const startRv = created.metadata!.resourceVersion!;
  let writing = true;
  const watchers = nodes.map((node) => watchUntil(node, pki, startRv, () => !writing, settings));
  const acknowledged: string[] = [];
  let unknownWrites = 0;
  const faults = duringWrites?.();
  for (let n = 1; n <= settings.writes; n++) {
    try {
      const written = await Promise.race([
        api.replaceNamespacedConfigMap({ name: settings.name, namespace: settings.namespace, body: { metadata: { name: settings.name }, data: { n: String(n) } } }),
        sleep(settings.requestTimeoutMs).then(() => undefined),
      ]);
      if (written?.metadata?.resourceVersion) acknowledged.push(written.metadata.resourceVersion);
      else unknownWrites++;
    } catch {
      unknownWrites++;
    }
    await sleep(settings.writeIntervalMs);
  }
  await faults;
  // Time for the watchers to catch up before they stop.
  await sleep(3000);
  writing = false;
  const reports = await Promise.all(watchers);
  const judged = reports.map((report) => ({ ...report, ...judgeWatcher(startRv, report.seen, acknowledged), caughtUp: acknowledged.length === 0 || report.seen.includes(acknowledged[acknowledged.length - 1]) }));
  return {
    acknowledged,
    unknownWrites,
    watchers: judged,
    valid: judged.every((watcher) => watcher.outOfOrder.length === 0 && watcher.missed.length === 0 && watcher.caughtUp),
  };
}
