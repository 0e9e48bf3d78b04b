// Proves the docker backend's pure parts: its tar writer and reader agree with each other and with GNU tar,
// and run subnets stay inside 10.242.0.0/16 without repeating.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { candidateSubnets, tarOneFile, untarFirstFile } from './docker.js';

describe('tar of one file', () => {
  it('reads back what it wrote, for any content and name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.stringMatching(/^[a-z0-9._-]{1,60}$/), (bytes, name) => {
        const content = Buffer.from(bytes);
        expect(untarFirstFile(tarOneFile(name, content)).equals(content)).toBe(true);
      }),
    );
  });

  it('writes archives GNU tar extracts with the same bytes and mode', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'flg-tar-'));
    try {
      const content = Buffer.from(Array.from({ length: 1500 }, (_, index) => index % 251));
      await writeFile(join(directory, 'archive.tar'), tarOneFile('file.bin', content, 0o750));
      execFileSync('tar', ['-xf', 'archive.tar'], { cwd: directory });
      expect((await readFile(join(directory, 'file.bin'))).equals(content)).toBe(true);
      const mode = execFileSync('stat', ['-c', '%a', join(directory, 'file.bin')], { encoding: 'utf8' }).trim();
      expect(mode).toBe('750');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('reads the first regular file of a GNU tar archive, skipping directories', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'flg-tar-'));
    try {
      execFileSync('mkdir', ['-p', join(directory, 'sub')]);
      await writeFile(join(directory, 'sub', 'note.txt'), 'hello from gnu tar\n');
      const archive = execFileSync('tar', ['-C', directory, '-cf', '-', 'sub']);
      expect(untarFirstFile(archive).toString()).toBe('hello from gnu tar\n');
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses an archive without a file', () => {
    expect(() => untarFirstFile(Buffer.alloc(1024))).toThrow(/no regular file/);
  });
});

describe('run subnets', () => {
  it('are distinct /24s inside 10.242.0.0/16, starting from a place the run id picks', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (runId) => {
        const subnets = candidateSubnets(runId);
        expect(subnets).toHaveLength(256);
        expect(new Set(subnets).size).toBe(256);
        for (const subnet of subnets) expect(subnet).toMatch(/^10\.242\.(\d|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])\.0\/24$/);
        expect(candidateSubnets(runId)).toEqual(subnets);
      }),
      { numRuns: 20 },
    );
  });
});
