// Crashes: SIGKILL the target's process on chosen nodes through the Db, and start them again on restart.
import type { NemesisPackage } from '../types.js';
import { nodeNamed, type NemesisOptions } from '../common.js';
import { processFaultPackage } from '../process-fault.js';

/** kill {targets: one|minority|majority|all|primary, seed} and restart (db.start on every killed node). */
export function killPackage(options: NemesisOptions = {}): NemesisPackage {
  return processFaultPackage({
    name: 'kill',
    targets: options.killTargets,
    startF: 'kill',
    stopF: 'restart',
    act: (db, test, name) => db.kill(test, nodeNamed(test, name)),
    undo: (db, test, name) => db.start(test, nodeNamed(test, name)),
  });
}

export default killPackage;
