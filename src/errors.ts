// Errors a user can act on: printed as one line (file, line, what was expected) with an exit code, never a stack.

/** Exit codes of every faultline command. */
export const ExitCode = {
  valid: 0,
  invalid: 1,
  badInput: 2,
  error: 2,
  unknown: 3,
} as const;

/** Bad input from the user (a malformed history, spec or flag). Printed as one line; exit code 2. */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.badInput) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** Formats `file:line: message`, the shape of every bad-input message. */
export function inputError(file: string, line: number | undefined, expected: string): UserError {
  const where = line === undefined ? file : `${file}:${line}`;
  return new UserError(`${where}: ${expected}`);
}
