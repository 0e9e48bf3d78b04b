// The one rule for tests that need something of the host (root, sshd, chromium, docker, dist/, a data file):
// outside CI a missing dependency skips, with the reason printed and in the test's title; with CI=true (which
// installs everything) it fails the test with the same reason, so nothing is silently not tested.
import { describe, it } from 'vitest';

/** What a test needs, each named as a person would install it, and whether this host has it. */
export type Requirements = Readonly<Record<string, boolean>>;

export type Decision = { action: 'run' } | { action: 'skip' | 'fail'; reason: string };

/** Whether the environment says this is CI (`CI=true`, as .ci/run and most CI services set it). */
export function inContinuousIntegration(environment: NodeJS.ProcessEnv = process.env): boolean {
  const value = environment.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/** Run when nothing is missing; else skip (outside CI) or fail (in CI), with a reason naming what is missing. */
export function decide(what: string, requirements: Requirements, ci = inContinuousIntegration()): Decision {
  const missing = Object.entries(requirements)
    .filter(([, present]) => !present)
    .map(([name]) => name);
  if (missing.length === 0) return { action: 'run' };
  const reason = `${what} needs ${missing.join(', ')}, missing on this host`;
  return ci ? { action: 'fail', reason: `${reason} (CI=true: a missing dependency fails rather than skips)` } : { action: 'skip', reason };
}

type Body = () => void;
type TestBody = () => unknown;

/** The vitest title a skipped block or test carries, so the JSON report (and .ci/run's summary) shows why. */
export function skippedTitle(title: string, reason: string): string {
  return `${title} [skipped: ${reason}]`;
}

function announce(decision: Decision): void {
  if (decision.action === 'skip') console.warn(`skipped: ${decision.reason}`);
}

/**
 * `describe` when every requirement holds; outside CI a skipped describe whose title names what is missing;
 * under CI a describe holding one failing test that says what is missing.
 */
export function describeWhen(what: string, requirements: Requirements): (title: string, body: Body) => void {
  const decision = decide(what, requirements);
  announce(decision);
  return (title, body) => {
    if (decision.action === 'run') describe(title, body);
    else if (decision.action === 'skip') describe.skip(skippedTitle(title, decision.reason), body);
    else {
      const reason = decision.reason;
      describe(title, () => {
        it('has what it needs on this host', () => {
          throw new Error(reason);
        });
      });
    }
  };
}

/** `it` when every requirement holds; otherwise skipped (outside CI) or failing (in CI) with the reason. */
export function itWhen(what: string, requirements: Requirements): (title: string, body: TestBody, timeoutMs?: number) => void {
  const decision = decide(what, requirements);
  announce(decision);
  return (title, body, timeoutMs) => {
    if (decision.action === 'run') it(title, body, timeoutMs);
    else if (decision.action === 'skip') it.skip(skippedTitle(title, decision.reason), () => {});
    else {
      const reason = decision.reason;
      it(title, () => {
        throw new Error(reason);
      });
    }
  };
}

/**
 * For a need found only while a test runs: skips the running test (outside CI) or fails it (in CI).
 * `context` is the test's own context (its `skip` ends the test).
 */
export function skipOrFailNow(context: { skip: (note?: string) => void }, what: string, requirements: Requirements): void {
  const decision = decide(what, requirements);
  if (decision.action === 'run') return;
  if (decision.action === 'fail') throw new Error(decision.reason);
  announce(decision);
  context.skip(decision.reason);
}
