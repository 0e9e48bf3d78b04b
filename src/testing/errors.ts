// Test support: runs an action that must throw a UserError and returns it, so tests can read its one-line message.
import { expect } from 'vitest';
import { UserError } from '../errors.js';

export function errorOf(action: () => unknown): UserError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected a UserError, got none');
}
