// A system under test's lifecycle on one node (Jepsen's DB plus its optional Kill/Pause/Primary powers).
import type { Node } from './backends/types.js';
import type { TestContext } from './test-context.js';

export interface Db {
  /** Install, configure and start the node's process; resolves when the node serves. */
  setup(test: TestContext, node: Node): Promise<void>;
  /** Stop the process and remove its data. Idempotent. */
  teardown(test: TestContext, node: Node): Promise<void>;
  /** Start (after a kill) with the data kept. */
  start(test: TestContext, node: Node): Promise<void>;
  /** SIGKILL the process. */
  kill(test: TestContext, node: Node): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(test: TestContext, node: Node): Promise<void>;
  resume(test: TestContext, node: Node): Promise<void>;
  /** Log files on the node, collected into store/.../nodes/<node>/ at the end. */
  logFiles(test: TestContext, node: Node): string[];
  /** Data files on the node that the disk nemesis may corrupt while the node is killed. */
  dataFiles?(test: TestContext, node: Node): Promise<string[]>;
  /** Nodes that currently believe they lead. */
  primaries?(test: TestContext): Promise<string[]>;
  /** Whether the process honours libfaketime (false for Go binaries such as etcd). */
  readonly clockSkewable: boolean;
}
