// The split-txn bug switch: a transaction's micro-ops are proposed as separate Raft entries, one after another,
// so other clients' transactions interleave with its parts. Each part is still linearizable on its own; the
// whole is no longer atomic nor isolated, which Elle-style checking shows as G1b, G1c, G-single and G2 cycles.
import type { Command, TransactionOperation } from './state-machine.js';

/** An HTTP answer as the server builds it. */
export interface TransactionAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Proposes each micro-op of `command` as its own one-op transaction and stitches the results together. A part
 * that fails after an earlier one applied leaves the transaction half done: that failure is never definite.
 */
export async function proposeSplitTransaction(
  command: Extract<Command, { op: 'txn' }>,
  propose: (part: Command) => Promise<TransactionAnswer>,
): Promise<TransactionAnswer> {
  const results: TransactionOperation[] = [];
  for (let position = 0; position < command.ops.length; position++) {
    const part: Command = { op: 'txn', ops: [command.ops[position]] };
    // A retried request must not apply its parts twice: each part carries its own id derived from the request's.
    if (command.requestId !== undefined) part.requestId = `${command.requestId}#${position}`;
    const answer = await propose(part);
    if (answer.status !== 200) {
      if (position === 0) return answer;
      return {
        status: answer.status,
        body: { ...answer.body, ok: false, definite: false, error: `split-txn: part ${position + 1} of ${command.ops.length}: ${String(answer.body.error)}` },
      };
    }
    const partResults = answer.body.results as TransactionOperation[] | undefined;
    if (!partResults || partResults.length !== 1) {
      return { status: 500, body: { ok: false, definite: false, error: `split-txn: part ${position + 1} returned no result` } };
    }
    results.push(partResults[0]);
  }
  return { status: 200, body: { ok: true, results } };
}
