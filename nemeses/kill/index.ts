// Crashes: SIGKILL the target's process on chosen nodes through the Db, and start them again on restart.
import type { Db } from '../../src/db.js';
import type { TestContext } from '../../src/test-context.js';
import type { NemesisPackage } from '../types.js';
import { nodeNamed, type NemesisOptions } from '../common.js';
import { processFaultPackage } from '../process-fault.js';

/** SIGKILLs the target's process on the named node (shared with the capacity nemesis). */
export function killNode(db: Db, test: TestContext, name: string): Promise<void> {
  return db.kill(test, nodeNamed(test, name));
}

/** Starts the named node's process again with its data kept (shared with the capacity nemesis). */
export function restartNode(db: Db, test: TestContext, name: string): Promise<void> {
  return db.start(test, nodeNamed(test, name));
}

/** kill {targets: one|minority|majority|all|primary, seed} and restart (db.start on every killed node). */
export function killPackage(options: NemesisOptions = {}): NemesisPackage {
  return processFaultPackage({
    name: 'kill',
    targets: options.killTargets,
    startF: 'kill',
    stopF: 'restart',
    act: killNode,
    undo: restartNode,
  });
}

export default killPackage;
