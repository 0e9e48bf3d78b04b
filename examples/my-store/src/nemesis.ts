// A fault of the example's own, written against Faultline's public API: freeze every my-store node at once
// (SIGSTOP through the Db), thaw them all on heal. Used from a spec as `nemesis: [kill, ./dist/nemesis.js]`.
import type { Db, NemesisFactory, NemesisPackage, Op, TestContext } from 'faultline';

/** Whether `f` is this fault's start (freeze) or heal (thaw). */
const FREEZE = 'freeze-all';
const THAW = 'thaw-all';

export const nemesis: NemesisFactory = (): NemesisPackage => {
  const frozen = new Set<string>();
  const thaw = async (test: TestContext, db: Db): Promise<string[]> => {
    const thawed: string[] = [];
    for (const node of test.nodes.filter((candidate) => frozen.has(candidate.name))) {
      await db.resume(test, node);
      frozen.delete(node.name);
      thawed.push(node.name);
    }
    return thawed;
  };
  return {
    name: 'freeze',
    nemesis: {
      fs: [FREEZE, THAW],
      async setup(): Promise<void> {},
      async invoke(test: TestContext, db: Db, op: Op): Promise<Op> {
        if (op.f === FREEZE) {
          for (const node of test.nodes) {
            // Recorded before the signal: a teardown after a failure here still thaws the node.
            frozen.add(node.name);
            await db.pause(test, node);
          }
          return { ...op, type: 'info', value: { frozen: [...frozen] } };
        }
        if (op.f === THAW) return { ...op, type: 'info', value: { thawed: await thaw(test, db) } };
        return { ...op, type: 'fail', error: `the freeze nemesis does not handle ${op.f}` };
      },
      async teardown(test: TestContext, db: Db): Promise<void> {
        await thaw(test, db);
      },
    },
    startOp: () => ({ f: FREEZE, value: null }),
    healOp: () => ({ f: THAW, value: null }),
  };
};

export default nemesis;
