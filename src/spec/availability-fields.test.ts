// Proves the spec fields `availability` and `client-retry` load from a YAML file in kebab or camel case, fill the
// retry defaults, and that a bad entry is refused with one line naming the file, line and entry.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpec } from './index.js';
import { errorOf } from '../testing/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'faultline-availability-spec-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function specFile(name: string, content: string): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

describe('availability and client-retry spec fields', () => {
  it('load every threshold and retry setting', () => {
    const file = specFile('full.yaml', [
      'nodes: 3',
      'availability: {max-unavailable-s: 4, max-recovery-s: 5, min-goodput-ratio: 0.2, max-error-rate: 0.5, max-retry-amplification: 3, outage-threshold-s: 0.5}',
      'client-retry: {attempts: 4, backoff-ms: 50, max-backoff-ms: 400, jitter: 0.5, reconnect: true}',
    ].join('\n'));
    const spec = loadSpec({ file });
    expect(spec.availability).toEqual({ maxUnavailableS: 4, maxRecoveryS: 5, minGoodputRatio: 0.2, maxErrorRate: 0.5, maxRetryAmplification: 3, outageThresholdS: 0.5 });
    expect(spec.clientRetry).toEqual({ attempts: 4, backoffMs: 50, maxBackoffMs: 400, jitter: 0.5, reconnect: true });
  });

  it('take camelCase names and fill retry defaults; absent fields stay absent', () => {
    const spec = loadSpec({ file: specFile('camel.yaml', 'availability: {maxRecoveryS: 2}\nclientRetry: {attempts: 2}\n') });
    expect(spec.availability).toEqual({ maxRecoveryS: 2 });
    expect(spec.clientRetry).toEqual({ attempts: 2, backoffMs: 100, maxBackoffMs: 2000, jitter: 0, reconnect: false });
    const plain = loadSpec({ file: specFile('plain.yaml', 'nodes: 3\n') });
    expect(plain.availability).toBeUndefined();
    expect(plain.clientRetry).toBeUndefined();
  });

  it('refuse a bad entry with the file, line and entry named', () => {
    const unknown = specFile('unknown.yaml', 'nodes: 3\navailability: {max-recovery: 5}\n');
    expect(errorOf(() => loadSpec({ file: unknown })).message).toBe(`${unknown}:2: availability.max-recovery: unknown entry (expected one of max-unavailable-s, max-recovery-s, min-goodput-ratio, max-error-rate, max-retry-amplification, outage-threshold-s)`);
    const jitter = specFile('jitter.yaml', 'client-retry:\n  jitter: 2\n');
    expect(errorOf(() => loadSpec({ file: jitter })).message).toBe(`${jitter}:1: client-retry.jitter: expected a number of fraction from 0 to 1, got 2`);
    const notMap = specFile('not-map.yaml', 'client-retry: 3\n');
    expect(errorOf(() => loadSpec({ file: notMap })).message).toBe(`${notMap}:1: client-retry: expected a map such as {attempts: 3, backoff-ms: 100}, got 3`);
  });
});
