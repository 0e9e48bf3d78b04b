// Reads a target's free-form options (spec.targetOptions, from YAML or flags) into typed values, one rule for every target.

/** The option as a finite number, or undefined when absent or of another type (the target's default then applies). */
export function numberOption(options: Record<string, unknown>, name: string): number | undefined {
  const value = options[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The option as a non-empty string, or undefined when absent, empty or of another type. */
export function stringOption(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
