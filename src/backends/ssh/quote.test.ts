// Proves quoted argv survives a real POSIX shell intact: random and hostile words go through dash and bash
// and are echoed back one by one, and a `$(touch ...)` word never runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentWords, quoteShellWord, shellCommandLine } from './quote.js';

const shells = ['/bin/sh', '/bin/bash'].filter((shell) => existsSync(shell));
const scratch = mkdtempSync(path.join(tmpdir(), 'flssh-quote-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What a remote login shell does with the command line: `shell -c LINE`; printf shows each argument NUL-terminated. */
function echoThroughShell(shell: string, words: readonly string[]): string[] {
  const line = shellCommandLine(['printf', '%s\\0', ...words]);
  const output = execFileSync(shell, ['-c', line], { encoding: 'utf8', timeout: 10_000 });
  const parts = output.split('\0');
  parts.pop();
  return parts;
}

const hostile = [
  '',
  ' ',
  'two words',
  "it's",
  "'",
  "''",
  '"double"',
  'a;b',
  '; rm -rf /nonexistent-flssh',
  `$(touch ${path.join(scratch, 'dollar')})`,
  `\`touch ${path.join(scratch, 'backtick')}\``,
  '$HOME',
  '${PATH}',
  'line1\nline2',
  'tab\there',
  '\\',
  '\\\'',
  '*',
  '~',
  '!event',
  'FOO=bar',
  '-n',
  '|&<>(){}[]#',
  'ünïcødé ✓',
];

describe('shellCommandLine', () => {
  for (const shell of shells) {
    it(`passes hostile words through ${shell} intact and runs none of them`, () => {
      expect(echoThroughShell(shell, hostile)).toEqual(hostile);
      expect(existsSync(path.join(scratch, 'dollar'))).toBe(false);
      expect(existsSync(path.join(scratch, 'backtick'))).toBe(false);
    });

    it(`round-trips arbitrary strings through ${shell}`, () => {
      const word = fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => !text.includes('\0'));
      fc.assert(
        fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
          expect(echoThroughShell(shell, words)).toEqual(words);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('keeps plain words readable and quotes the rest', () => {
    expect(shellCommandLine(['iptables', '-A', 'INPUT', '-s', '10.0.0.1/32', '-j', 'DROP'])).toBe('iptables -A INPUT -s 10.0.0.1/32 -j DROP');
    expect(quoteShellWord("it's")).toBe(`'it'\\''s'`);
    expect(quoteShellWord('FOO=bar')).toBe(`'FOO=bar'`);
  });

  it('refuses what no shell can carry', () => {
    expect(() => quoteShellWord('a\0b')).toThrow(/NUL/);
    expect(() => shellCommandLine([])).toThrow(/empty/);
    expect(() => environmentWords({ 'BAD NAME': 'x' })).toThrow(/invalid environment/);
  });

  it('sets environment variables for the command alone', () => {
    const line = shellCommandLine([...environmentWords({ FLSSH_VALUE: "a 'b' $(c)" }), 'sh', '-c', 'printf %s "$FLSSH_VALUE"']);
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8', timeout: 10_000 })).toBe("a 'b' $(c)");
  });
});
