// Process pauses: SIGSTOP the target's process on chosen nodes through the Db, SIGCONT on resume.
import type { NemesisPackage } from '../types.js';
import { nodeNamed, type NemesisOptions } from '../common.js';
import { processFaultPackage } from '../process-fault.js';

/** pause {targets: one|minority|majority|all|primary, seed} and resume (db.resume on every paused node). */
export function pausePackage(options: NemesisOptions = {}): NemesisPackage {
  return processFaultPackage({
    name: 'pause',
    targets: options.pauseTargets,
    startF: 'pause',
    stopF: 'resume',
    act: (db, test, name) => db.pause(test, nodeNamed(test, name)),
    undo: (db, test, name) => db.resume(test, nodeNamed(test, name)),
  });
}

export default pausePackage;
