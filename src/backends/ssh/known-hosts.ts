// Host-key checking against OpenSSH known_hosts files, so `--backend ssh` refuses a machine it cannot identify.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  line: number;
  /** `@revoked` keys are refused everywhere; `@cert-authority` lines are kept but never match (no certificates). */
  marker: 'revoked' | 'cert-authority' | undefined;
  /** Comma-separated patterns (`host`, `[host]:port`, wildcards, `!negation`), or one hashed `|1|salt|hash`. */
  hostPatterns: string;
  keyType: string;
  /** The key in SSH wire format: the base64 field decoded; the same bytes the server sends at key exchange. */
  keyBlob: Buffer;
}

/** What the known_hosts files say about the key a host presented. */
export type HostKeyVerdict =
  | { verdict: 'match'; entry: KnownHostEntry }
  | { verdict: 'revoked'; entry: KnownHostEntry }
  /** The host is listed, but with other keys: the key changed, or this is another machine. */
  | { verdict: 'mismatch'; entries: KnownHostEntry[] }
  | { verdict: 'unknown' };

/**
 * Parses known_hosts text. Lines that are blank or comments are skipped; a malformed line is skipped too
 * (as OpenSSH does) and reported through `skipped` so a caller can say why a host was not found.
 */
export function parseKnownHosts(text: string, file: string): { entries: KnownHostEntry[]; skipped: number[] } {
  const entries: KnownHostEntry[] = [];
  const skipped: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const trimmed = lines[index].trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked') marker = 'revoked';
    else if (fields[0] === '@cert-authority') marker = 'cert-authority';
    else if (fields[0].startsWith('@')) {
      skipped.push(index + 1);
      continue;
    }
    if (marker) fields.shift();
    if (fields.length < 3) {
      skipped.push(index + 1);
      continue;
    }
    const [hostPatterns, keyType, keyBase64] = fields;
    const keyBlob = Buffer.from(keyBase64, 'base64');
    // The blob starts with its own type name; a line whose two disagree is corrupt.
    if (keyBlob.length < 4 || blobKeyType(keyBlob) !== keyType) {
      skipped.push(index + 1);
      continue;
    }
    entries.push({ file, line: index + 1, marker, hostPatterns, keyType, keyBlob });
  }
  return { entries, skipped };
}

/** The key type name at the start of an SSH wire-format public key (`ssh-ed25519`, `ssh-rsa`, ...). */
export function blobKeyType(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > keyBlob.length) return undefined;
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

/** OpenSSH's fingerprint form, `SHA256:` and unpadded base64, to show users next to `ssh-keygen -lf`. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The name a known_hosts line uses for host and port: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether a line's host field names this host and port (hashed or plain patterns, with negation). */
export function hostPatternsMatch(hostPatterns: string, host: string, port: number): boolean {
  const name = knownHostsName(host, port).toLowerCase();
  if (hostPatterns.startsWith('|1|')) return hashedNameMatches(hostPatterns, name);
  let matched = false;
  for (const rawPattern of hostPatterns.split(',')) {
    const negated = rawPattern.startsWith('!');
    const pattern = (negated ? rawPattern.slice(1) : rawPattern).toLowerCase();
    if (pattern === '' || !wildcardMatch(pattern, name)) continue;
    // A matching negated pattern rules the whole line out, whatever else matched.
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedNameMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  // '|1|salt|hash' splits into ['', '1', salt, hash].
  if (parts.length !== 4) return false;
  const salt = Buffer.from(parts[2], 'base64');
  const expected = Buffer.from(parts[3], 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** OpenSSH's match_pattern: `*` any run of characters, `?` exactly one, everything else literal. */
function wildcardMatch(pattern: string, text: string): boolean {
  // Iterative with one backtrack point: linear in practice, no regex built from user text.
  let patternIndex = 0;
  let textIndex = 0;
  let starPattern = -1;
  let starText = 0;
  while (textIndex < text.length) {
    const symbol = pattern[patternIndex];
    if (symbol === '*') {
      starPattern = patternIndex++;
      starText = textIndex;
    } else if (symbol !== undefined && (symbol === '?' || symbol === text[textIndex])) {
      patternIndex++;
      textIndex++;
    } else if (starPattern >= 0) {
      patternIndex = starPattern + 1;
      textIndex = ++starText;
    } else {
      return false;
    }
  }
  while (pattern[patternIndex] === '*') patternIndex++;
  return patternIndex === pattern.length;
}

/** Judges the key a host presented against every entry of the known_hosts files. */
export function verifyHostKey(entries: readonly KnownHostEntry[], host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  // A revoked key is refused whichever host it turns up on, as in OpenSSH.
  const revoked = entries.find((entry) => entry.marker === 'revoked' && entry.keyBlob.equals(keyBlob));
  if (revoked) return { verdict: 'revoked', entry: revoked };
  const forHost = entries.filter((entry) => entry.marker === undefined && hostPatternsMatch(entry.hostPatterns, host, port));
  const match = forHost.find((entry) => entry.keyBlob.equals(keyBlob));
  if (match) return { verdict: 'match', entry: match };
  return forHost.length > 0 ? { verdict: 'mismatch', entries: forHost } : { verdict: 'unknown' };
}

/**
 * Host-key algorithms to offer when connecting, so the server presents a key type we know for it
 * (OpenSSH does the same): a host listed only with an ed25519 key must not be asked for its ECDSA key.
 * Returns undefined when no entry names the host (the caller's default list then applies).
 */
export function hostKeyAlgorithmsFor(entries: readonly KnownHostEntry[], host: string, port: number): string[] | undefined {
  const algorithms: string[] = [];
  for (const entry of entries) {
    if (entry.marker !== undefined || !hostPatternsMatch(entry.hostPatterns, host, port)) continue;
    // An RSA key is one key type but three signature algorithms; prefer the SHA-2 ones.
    const forType = entry.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [entry.keyType];
    for (const algorithm of forType) if (!algorithms.includes(algorithm)) algorithms.push(algorithm);
  }
  return algorithms.length > 0 ? algorithms : undefined;
}
