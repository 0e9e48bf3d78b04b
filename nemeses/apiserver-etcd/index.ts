// Cuts a Kubernetes apiserver off from etcd while clients still reach it: a fault of its own name, asked of
// the Db (which knows its ports) through an optional power, so this nemesis never imports a target.
import type { Db } from '../../src/db.js';
import type { Nemesis } from '../../src/nemesis.js';
import type { TestContext } from '../../src/test-context.js';
import type { FaultOp, NemesisPackage } from '../types.js';
import { TARGET_SELECTORS, drawSeed, isTargetSelector, nodeNamed, pick, type NemesisOptions, type TargetSelector } from '../common.js';
import { ProcessFaultNemesis } from '../process-fault.js';
import type { Node } from '../../src/backends/types.js';

/** The optional power a Db offers for this fault (the k8s target's K8sDb has it). */
export interface ApiserverEtcdLinkDb {
  cutLink(test: TestContext, node: Node): Promise<void>;
  restoreLink(test: TestContext, node: Node): Promise<void>;
}

export function hasApiserverEtcdLink(db: Db): db is Db & ApiserverEtcdLinkDb {
  const candidate = db as Partial<ApiserverEtcdLinkDb>;
  return typeof candidate.cutLink === 'function' && typeof candidate.restoreLink === 'function';
}

const noLink = 'this target has no apiserver/etcd link to cut (only --target k8s has)';

function linkDb(db: Db): Db & ApiserverEtcdLinkDb {
  // A plain error: the nemesis completes the op as fail with it (the fault was certainly not injected).
  if (!hasApiserverEtcdLink(db)) throw new Error(`apiserver-etcd: ${noLink}`);
  return db;
}

/**
 * cut-apiserver-etcd {targets: one|minority|majority|all|primary, seed}: on each chosen node the apiserver loses
 * its connection to etcd (the member stays in its raft group, clients still reach the apiserver);
 * heal-apiserver-etcd restores every link cut so far. Teardown heals too.
 */
export function apiserverEtcdPackage(options: NemesisOptions = {}): NemesisPackage {
  const configured = (options as { apiserverEtcdTargets?: TargetSelector[] }).apiserverEtcdTargets;
  // Default one and minority: cutting a majority's apiservers mostly measures unavailability.
  const selectors: TargetSelector[] = configured && configured.length > 0 ? [...configured] : ['one', 'minority'];
  for (const selector of selectors) if (!isTargetSelector(selector)) throw new Error(`apiserver-etcd: unknown target '${String(selector)}' (expected ${TARGET_SELECTORS.join(', ')})`);
  const faults = new ProcessFaultNemesis({
    startF: 'cut-apiserver-etcd',
    stopF: 'heal-apiserver-etcd',
    act: async (db, test, name) => linkDb(db).cutLink(test, nodeNamed(test, name)),
    undo: async (db, test, name) => linkDb(db).restoreLink(test, nodeNamed(test, name)),
  });
  // Refused before the run starts, in one line, when the target cannot do it (the runner reports setup errors).
  const nemesis: Nemesis = {
    fs: faults.fs,
    setup: async (_test: TestContext, db: Db) => {
      linkDb(db);
    },
    invoke: (test, db, op) => faults.invoke(test, db, op),
    teardown: (test, db) => faults.teardown(test, db),
  };
  return {
    name: 'apiserver-etcd',
    nemesis,
    startOp(random: () => number): FaultOp {
      return { f: 'cut-apiserver-etcd', value: { targets: pick(selectors, random), seed: drawSeed(random) } };
    },
    healOp(): FaultOp {
      return { f: 'heal-apiserver-etcd', value: null };
    },
    refuses(db: Db): string | undefined {
      return hasApiserverEtcdLink(db) ? undefined : noLink;
    },
  };
}

export default apiserverEtcdPackage;
