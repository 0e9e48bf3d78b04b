// Proves the local backend's checks that need no root: run ids and tags, the registry, and the refusal
// (pointing to --backend docker) when not root, by calling them with a stubbed uid.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UserError } from '../errors.js';
import { backendNames, createBackend } from './index.js';
import { LocalBackend, cleanupLocalLeftovers, runTag } from './local.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('local backend without root', () => {
  it('refuses to provision, naming root and the docker backend', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    const error = await new LocalBackend().provision(3).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/needs root/);
    expect((error as Error).message).toMatch(/--backend docker/);
  });

  it('cleanup says it skipped rather than failing', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    const report = await cleanupLocalLeftovers();
    expect(report.removed).toEqual([]);
    expect(report.skipped.join()).toMatch(/not root/);
  });
});

describe('run ids and the registry', () => {
  it('tags are 8 hex digits, stable, and reuse a hex run id as is', () => {
    expect(runTag('0123abcd99')).toBe('0123abcd');
    expect(runTag('raftkv-2026-11-22')).toMatch(/^[0-9a-f]{8}$/);
    expect(runTag('raftkv-2026-11-22')).toBe(runTag('raftkv-2026-11-22'));
    expect(new LocalBackend().runId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('rejects run ids that could escape the node root', () => {
    for (const runId of ['../x', 'a/b', '', '..', 'x'.repeat(65)]) {
      expect(() => new LocalBackend({ runId })).toThrow(UserError);
    }
  });

  it('creates the local backend by name and names the ones it knows on a typo', async () => {
    const backend = await createBackend('local', { runId: 'abc' });
    expect(backend.name).toBe('local');
    expect(backend.runId).toBe('abc');
    expect(backendNames()).toContain('local');
    await expect(createBackend('lcoal')).rejects.toThrow(/expected one of .*local/);
  });
});
