// The watch workload's client side: unconditional writes to one ConfigMap, and watches that list once (as
// informers do), then each resume from the last resourceVersion delivered; every event is returned to the history.
import { ApiException, type CoreV1Api, type KubeConfig, type V1ConfigMap, Watch } from '@kubernetes/client-node';
import type { Op } from '../../src/history/types.js';
import { within } from './election.js';

export const WATCH_NAMESPACE = 'default';

type Completion = (type: Op['type'], value: unknown, extra?: Record<string, unknown>) => Op;

export function watchedConfigMapName(key: unknown): string {
  return `faultline-watch-${key === undefined || key === null ? 'none' : String(key)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function errorText(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}`;
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200);
}

/** The value a ConfigMap of this workload carries (JSON in data.value), null when absent. */
function valueOf(configMap: V1ConfigMap | undefined): unknown {
  const text = configMap?.data?.value;
  return text === undefined ? null : JSON.parse(text);
}

/** Where each key's watch resumes (the last resourceVersion delivered); absent: list first. */
export class K8sWatchState {
  readonly resumeFrom = new Map<string, string>();
}

/**
 * A watch from the remembered point (or from a fresh consistent LIST's resourceVersion), open for spanMs, then
 * closed. ok with every event delivered, even when the stream broke early (what was delivered happened); a
 * 410 Gone (the point was compacted away) is `expired` and the next watch lists again. fail when not even
 * the list or the watch request succeeded: nothing was observed.
 */
export async function invokeWatch(config: KubeConfig, api: CoreV1Api, op: Op, state: K8sWatchState, completion: Completion, timeoutMs: number): Promise<Op> {
  const name = watchedConfigMapName(op.key);
  const key = JSON.stringify(op.key ?? null);
  const spanMs = Number((op.value as { spanMs?: unknown } | null)?.spanMs ?? 2500);
  let from = state.resumeFrom.get(key);
  const listed = from === undefined;
  if (from === undefined) {
    try {
      // No resourceVersion: a quorum read from etcd, so the watch starts at a point no older than the list.
      const list = await within(api.listNamespacedConfigMap({ namespace: WATCH_NAMESPACE, fieldSelector: `metadata.name=${name}` }), timeoutMs);
      from = list.metadata?.resourceVersion;
    } catch (error) {
      return completion('fail', op.value, { error: `list: ${errorText(error)}` });
    }
    if (!from) return completion('fail', op.value, { error: 'list: no resourceVersion' });
  }
  const startedFrom = from;
  const events: Array<{ type: string; resourceVersion: string; value: unknown }> = [];
  let expired = false;
  let streamError: string | undefined;
  let finished!: () => void;
  const ended = new Promise<void>((resolve) => (finished = resolve));
  // Events count only while this op is open: a stream that outlives it (opened late, or closing) must not move
  // the resume point past events the history never got.
  let accepting = true;
  let controller: AbortController;
  let opening: Promise<AbortController> | undefined;
  try {
    opening = new Watch(config).watch(
      `/api/v1/namespaces/${WATCH_NAMESPACE}/configmaps`,
      { fieldSelector: `metadata.name=${name}`, resourceVersion: from, allowWatchBookmarks: false },
      (phase: string, object: { metadata?: { resourceVersion?: string }; data?: Record<string, string>; code?: number; message?: string }) => {
        if (!accepting) return;
        if (phase === 'ERROR') {
          if (object?.code === 410) expired = true;
          streamError = `ERROR event: ${object?.code ?? ''} ${String(object?.message ?? '').slice(0, 160)}`;
          return;
        }
        const resourceVersion = object?.metadata?.resourceVersion;
        if (!resourceVersion) return;
        events.push({ type: phase, resourceVersion, value: valueOf(object as V1ConfigMap) });
        state.resumeFrom.set(key, resourceVersion);
      },
      (error: unknown) => {
        if (error && !(error instanceof Error && error.name === 'AbortError')) streamError ??= errorText(error);
        finished();
      },
    );
    controller = await within(opening, timeoutMs);
  } catch (error) {
    accepting = false;
    // A watch that opens after its bound gave up is closed at once, so no stream outlives its op.
    void opening?.then((late) => late.abort()).catch(() => undefined);
    if (listed) state.resumeFrom.set(key, startedFrom);
    return completion('fail', op.value, { error: `watch: ${errorText(error)}`, from: startedFrom });
  }
  // The first watch keeps its listed point even when nothing arrives, so the next one resumes from there.
  if (!state.resumeFrom.has(key)) state.resumeFrom.set(key, startedFrom);
  const outcome = await Promise.race([ended.then(() => 'ended' as const), sleep(spanMs).then(() => 'span' as const)]);
  if (outcome === 'span') {
    controller.abort();
    await Promise.race([ended, sleep(1000)]);
  }
  accepting = false;
  if (expired) state.resumeFrom.delete(key);
  return completion('ok', { from: startedFrom, listed, events, ...(expired ? { expired: true } : {}) }, streamError ? { note: streamError } : {});
}

