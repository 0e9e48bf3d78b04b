// Proves the postgres target's pure parts: the isolation option (default, accepted spellings, one-line refusal),
// the server's argv (run as the postgres user, libfaketime set after the user switch), and that a malformed
// transaction is refused as fail before any connection is made.
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/backends/types.js';
import type { TestContext } from '../../src/test-context.js';
import { errorOf } from '../../src/testing/errors.js';
import { isolationOption, postgresArgv, postgresTarget } from './index.js';

const node: Node = { name: 'n1', host: '10.0.0.1', dir: '/tmp/faultline/run/n1', clockFile: '/tmp/faultline/run/n1/clock' };

describe('postgres target', () => {
  it('reads the isolation level: serializable by default, spaces and underscores allowed, others refused in one line', () => {
    expect(isolationOption({})).toBe('serializable');
    expect(isolationOption({ isolation: 'read committed' })).toBe('read-committed');
    expect(isolationOption({ isolation: 'REPEATABLE_READ' })).toBe('repeatable-read');
    expect(errorOf(() => isolationOption({ isolation: 'read-uncommitted' })).message).toBe(
      'target-options: isolation: expected one of read-committed, repeatable-read, serializable, got "read-uncommitted"',
    );
    expect(errorOf(() => postgresTarget.db({ isolation: 3 })).message).toMatch(/^target-options: isolation: expected one of .*, got 3$/);
    expect(errorOf(() => postgresTarget.client('register', {})).message).toBe('postgres target: workload register is not supported (supported: list-append, rw-register)');
  });

  it('runs the server as the postgres user with libfaketime set after the switch', () => {
    const argv = postgresArgv('/usr/lib/postgresql/15/bin', node, 5432, { LD_PRELOAD: '/lib/faketime.so' });
    expect(argv.slice(0, 6)).toEqual(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', 'env', 'LD_PRELOAD=/lib/faketime.so']);
    expect(argv.slice(6, 11)).toEqual(['/usr/lib/postgresql/15/bin/postgres', '-D', '/tmp/faultline/run/n1/postgres/data', '-p', '5432']);
    expect(argv).toContain(`unix_socket_directories=/tmp/faultline/run/n1/postgres/socket`);
  });

  it('refuses a malformed transaction as fail without connecting', async () => {
    const client = postgresTarget.client('list-append', {});
    const test = {} as TestContext;
    const base = { index: 0, process: 0, type: 'invoke' as const, time: 0 };
    for (const value of [[['w', 1, 2]], [['append', 'x', 2]], 'nope', [['append', 1, null]]]) {
      const completion = await client.invoke(test, { ...base, f: 'txn', value });
      expect(completion.type, JSON.stringify(value)).toBe('fail');
      expect(completion.error).toBe('list-append expects f "txn" with [[f, integer key, value], ...]');
    }
  });
});
