// Turns argv arrays into one command line for the remote POSIX shell, because SSH carries a string, not argv.

/**
 * Quotes one word for a POSIX shell: the whole word goes inside single quotes, where nothing is special,
 * and each embedded single quote is written as '\'' (close, escaped quote, reopen). The shell then hands
 * the word to the program byte for byte: spaces, `;`, `$(...)`, backticks and newlines are never run.
 */
export function quoteShellWord(word: string): string {
  if (word.includes('\0')) {
    // A C string cannot carry NUL, so no shell could pass it on intact: refuse rather than truncate.
    throw new Error(`cannot pass a NUL byte in a command argument: ${JSON.stringify(word)}`);
  }
  // Words made only of characters no shell treats specially stay readable in logs. `=` is left out: a
  // leading NAME=value word would be read as an assignment, not as the command.
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into a command line the remote login shell splits back into exactly these words. */
export function shellCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('cannot run an empty command');
  return argv.map(quoteShellWord).join(' ');
}

const environmentNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `env NAME=value ...` words to prefix a command with; names are checked so none can smuggle a word. */
export function environmentWords(env: Record<string, string> | undefined): string[] {
  if (!env) return [];
  const entries = Object.entries(env);
  if (entries.length === 0) return [];
  for (const [name] of entries) {
    if (!environmentNamePattern.test(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
  }
  return ['env', ...entries.map(([name, value]) => `${name}=${value}`)];
}
