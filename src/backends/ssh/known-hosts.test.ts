// Proves known_hosts matching agrees with OpenSSH: entries hashed by the real `ssh-keygen -H` are found for
// the right host and port only, and changed, revoked, unknown and wildcard cases get the right verdict.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { utils } from 'ssh2';
import { afterAll, describe, expect, it } from 'vitest';
import { hostKeyAlgorithmsFor, hostKeyFingerprint, hostPatternsMatch, parseKnownHosts, verifyHostKey } from './known-hosts.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'flssh-known-hosts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh public key as known_hosts writes it: "type base64". */
function freshKey(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): { line: string; blob: Buffer } {
  const options = type === 'rsa' ? { bits: 2048 } : type === 'ecdsa' ? { bits: 256 } : {};
  const pair = utils.generateKeyPairSync(type, options);
  const [keyType, base64] = pair.public.trim().split(' ');
  return { line: `${keyType} ${base64}`, blob: Buffer.from(base64, 'base64') };
}

describe('known_hosts', () => {
  const first = freshKey();
  const second = freshKey('ecdsa');
  const third = freshKey('rsa');

  it('matches entries hashed by ssh-keygen -H, by host and port', () => {
    const file = path.join(scratch, 'hashed');
    writeFileSync(file, `10.241.9.1 ${first.line}\n[10.241.9.2]:2222 ${second.line}\nnode3.example ${third.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore', timeout: 10_000 });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('10.241.9.1');
    const { entries, skipped } = parseKnownHosts(text, file);
    expect(skipped).toEqual([]);
    expect(entries.every((entry) => entry.hostPatterns.startsWith('|1|'))).toBe(true);
    expect(verifyHostKey(entries, '10.241.9.1', 22, first.blob).verdict).toBe('match');
    expect(verifyHostKey(entries, '10.241.9.2', 2222, second.blob).verdict).toBe('match');
    expect(verifyHostKey(entries, 'NODE3.example', 22, third.blob).verdict).toBe('match');
    // The same host on another port is another entry in OpenSSH's eyes.
    expect(verifyHostKey(entries, '10.241.9.2', 22, second.blob).verdict).toBe('unknown');
    expect(verifyHostKey(entries, '10.241.9.1', 2200, first.blob).verdict).toBe('unknown');
    // A changed key is a mismatch naming the file and line that lists the host.
    const changed = verifyHostKey(entries, '10.241.9.1', 22, freshKey().blob);
    expect(changed.verdict).toBe('mismatch');
    if (changed.verdict === 'mismatch') expect(changed.entries.map((entry) => entry.line)).toEqual([1]);
  });

  it('agrees with ssh-keygen -F on plain, wildcard and negated patterns', () => {
    const file = path.join(scratch, 'patterns');
    writeFileSync(
      file,
      [
        '# comment',
        '',
        `db*.example,!db9.example ${first.line}`,
        `[web?.example]:2200 ${second.line}`,
        `10.241.*.7 ${third.line}`,
      ].join('\n'),
    );
    const { entries } = parseKnownHosts(readFileSync(file, 'utf8'), file);
    const cases: Array<[string, number]> = [
      ['db1.example', 22],
      ['db9.example', 22],
      ['dbx.example', 2200],
      ['web1.example', 2200],
      ['web12.example', 2200],
      ['web1.example', 22],
      ['10.241.3.7', 22],
      ['10.241.3.8', 22],
    ];
    for (const [host, port] of cases) {
      const name = port === 22 ? host : `[${host}]:${port}`;
      let found = true;
      try {
        execFileSync('ssh-keygen', ['-F', name, '-f', file], { stdio: 'ignore', timeout: 10_000 });
      } catch {
        found = false;
      }
      const ours = entries.some((entry) => hostPatternsMatch(entry.hostPatterns, host, port));
      expect({ name, ours }).toEqual({ name, ours: found });
    }
  });

  it('refuses revoked keys and skips malformed lines', () => {
    const text = [`@revoked * ${first.line}`, `host1 ${first.line}`, `host1 ssh-ed25519 bm90LWEta2V5`, 'host2', `@bogus host3 ${second.line}`].join('\n');
    const { entries, skipped } = parseKnownHosts(text, 'known');
    expect(skipped).toEqual([3, 4, 5]);
    const verdict = verifyHostKey(entries, 'host1', 22, first.blob);
    expect(verdict.verdict).toBe('revoked');
  });

  it('offers only the key types known for a host, RSA as its SHA-2 signatures first', () => {
    const { entries } = parseKnownHosts(`h1 ${first.line}\nh1 ${third.line}\nh2 ${second.line}\n`, 'known');
    expect(hostKeyAlgorithmsFor(entries, 'h1', 22)).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor(entries, 'h2', 22)).toEqual(['ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithmsFor(entries, 'h3', 22)).toBeUndefined();
  });

  it('prints fingerprints as ssh-keygen -l does', () => {
    const file = path.join(scratch, 'one.pub');
    writeFileSync(file, `${first.line}\n`);
    const listed = execFileSync('ssh-keygen', ['-l', '-f', file], { encoding: 'utf8', timeout: 10_000 });
    expect(listed.split(' ')[1]).toBe(hostKeyFingerprint(first.blob));
  });
});
