// Process pauses: SIGSTOP the target's process on chosen nodes through the Db, SIGCONT on resume.
import type { FaultOp, NemesisPackage } from '../types.js';
import { TARGET_SELECTORS, drawSeed, isTargetSelector, nodeNamed, pick, type NemesisOptions } from '../common.js';
import { ProcessFaultNemesis } from '../process-fault.js';

/** pause {targets: one|minority|majority|all|primary, seed} and resume (db.resume on every paused node). */
export function pausePackage(options: NemesisOptions = {}): NemesisPackage {
  const selectors = options.pauseTargets && options.pauseTargets.length > 0 ? options.pauseTargets : [...TARGET_SELECTORS];
  for (const selector of selectors) if (!isTargetSelector(selector)) throw new Error(`pause: unknown target '${String(selector)}'`);
  return {
    name: 'pause',
    nemesis: new ProcessFaultNemesis({
      startF: 'pause',
      stopF: 'resume',
      act: (db, test, name) => db.pause(test, nodeNamed(test, name)),
      undo: (db, test, name) => db.resume(test, nodeNamed(test, name)),
    }),
    startOp(random: () => number): FaultOp {
      return { f: 'pause', value: { targets: pick(selectors, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'resume', value: null };
    },
  };
}

export default pausePackage;
