// Crashes: SIGKILL the target's process on chosen nodes through the Db, and start them again on restart.
import type { FaultOp, NemesisPackage } from '../types.js';
import { TARGET_SELECTORS, drawSeed, isTargetSelector, nodeNamed, pick, type NemesisOptions } from '../common.js';
import { ProcessFaultNemesis } from '../process-fault.js';

/** kill {targets: one|minority|majority|all|primary, seed} and restart (db.start on every killed node). */
export function killPackage(options: NemesisOptions = {}): NemesisPackage {
  const selectors = options.killTargets && options.killTargets.length > 0 ? options.killTargets : [...TARGET_SELECTORS];
  for (const selector of selectors) if (!isTargetSelector(selector)) throw new Error(`kill: unknown target '${String(selector)}'`);
  return {
    name: 'kill',
    nemesis: new ProcessFaultNemesis({
      startF: 'kill',
      stopF: 'restart',
      act: (db, test, name) => db.kill(test, nodeNamed(test, name)),
      undo: (db, test, name) => db.start(test, nodeNamed(test, name)),
    }),
    startOp(random: () => number): FaultOp {
      return { f: 'kill', value: { targets: pick(selectors, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'restart', value: null };
    },
  };
}

export default killPackage;
