// Proves the etcd target's version option: 3.4 is Debian's binary, 3.6 the Go-built one in the k8s build cache,
// YAML's numeric 3.6 is understood, and anything else is refused with the allowed list.
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/backends/types.js';
import { k8sBinaries } from '../k8s/binaries.js';
import { etcdArgv, etcdBinaryOf, etcdTarget } from './index.js';

const node: Node = { name: 'n1', host: '10.2.0.2', dir: '/tmp/n1', clockFile: '/tmp/n1/clock' };

describe('etcd version option', () => {
  it('runs Debian etcd for 3.4 and the Go-built etcd for 3.6', () => {
    expect(etcdBinaryOf('3.4')).toBe('/usr/bin/etcd');
    expect(etcdBinaryOf('3.6')).toBe(k8sBinaries().etcd);
    expect(etcdArgv(node, [node], 't')[0]).toBe('/usr/bin/etcd');
    expect(etcdArgv(node, [node], 't', { version: '3.6' })[0]).toBe(k8sBinaries().etcd);
    expect(etcdArgv(node, [node], 't', { version: '3.6', etcdBinary: '/opt/etcd' })[0]).toBe('/opt/etcd');
  });
  it('reads the option from flags and YAML, and refuses unknown versions', () => {
    expect(() => etcdTarget.db({ version: 3.6 })).not.toThrow();
    expect(() => etcdTarget.db({ version: '3.6' })).not.toThrow();
    expect(() => etcdTarget.db({ version: '3.5' })).toThrow("etcd target: version must be one of 3.4, 3.6, got '3.5'");
  });
});
