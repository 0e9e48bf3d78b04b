// Proves `faultline check` end to end by running the built CLI as a child process: verdicts and exit codes
// (0 valid, 1 invalid, 3 unknown, 2 bad input), run directories with spec.json defaults, and one-line,
// stack-free messages naming file and line for every kind of bad input.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(repositoryRoot, 'dist', 'src', 'cli', 'main.js');
const histories = resolve(repositoryRoot, '..', 'shared', 'histories');
const directory = mkdtempSync(join(tmpdir(), 'faultline-check-test-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function check(...args: string[]): CliResult {
  const result = spawnSync(process.execPath, [cli, 'check', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Bad input: exit 2, exactly one line on stderr, no stack trace, nothing on stdout. */
function expectBadInput(result: CliResult, message: RegExp): void {
  expect(result.status, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.trimEnd()).toMatch(message);
}

function writeFile(name: string, text: string): string {
  const path = join(directory, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

beforeAll(() => {
  expect(existsSync(cli), `${cli} missing: run npm run build first`).toBe(true);
});

describe('faultline check: verdicts and exit codes', () => {
  it('exits 0 on a valid JSONL history and prints the verdict per key and overall', () => {
    const result = check(join(histories, 'generated', 'ok_1k_k1.jsonl'), '--model', 'cas-register');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^key "k0": valid \(1000 ops\)$/m);
    expect(result.stdout).toMatch(/^overall: valid$/m);
  });

  it('exits 1 on an invalid history and shows the counterexample in readable lines', () => {
    const result = check(join(histories, 'generated', 'bad_1k_k100.jsonl'), '--model', 'cas-register', '--initial', 'null');
    expect(result.status, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^keys: 100 \(\d+ valid, [1-9]\d* invalid, 0 unknown\)$/m);
    expect(result.stdout).toMatch(/could not be linearized:\n\s+#\d+\.\.#\d+ +process \d+ +ok +read/);
    expect(result.stdout).toMatch(/longest linearizable prefix: \d+ ops/);
    expect(result.stdout).toMatch(/^overall: INVALID$/m);
    // Only failing keys are listed in full when there are many keys.
    expect(result.stdout).not.toMatch(/: valid \(/);
  });

  it('checks Knossos EDN with --initial 0 --nil-reads any', () => {
    const bad = check(join(histories, 'knossos', 'cas-register', 'bad', 'cas-failure.edn'), '--model', 'cas-register', '--initial', '0', '--nil-reads', 'any');
    expect(bad.status, bad.stderr).toBe(1);
    const good = check(join(histories, 'knossos', 'cas-register', 'good', 'memstress3-0.edn'), '--model', 'cas-register', '--initial', '0', '--nil-reads', 'any');
    expect(good.status, good.stderr).toBe(0);
  });

  it('exits 3 with an unknown verdict when the search budget runs out', () => {
    const result = check(join(histories, 'generated', 'ok_10k_k1_p20.jsonl'), '--model', 'cas-register', '--timeout', '1ms');
    expect(result.status, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/^overall: UNKNOWN$/m);
  });

  it('prints the LinearizableResult as JSON with --json', () => {
    const result = check(join(histories, 'generated', 'bad_1k_k1.jsonl'), '--model', 'cas-register', '--json', '--workers', '0');
    expect(result.status, result.stderr).toBe(1);
    const parsed = JSON.parse(result.stdout);
    expect(parsed).toMatchObject({ valid: false, model: 'cas-register', opCount: 1000 });
    expect(parsed.keys[0].counterexample.failedOps.length).toBeGreaterThan(0);
  });

  it('splits jepsen.independent tuples, unless told not to', () => {
    const path = writeFile(
      'independent.edn',
      `[{:process 0, :type :invoke, :f :write, :value [:a 1]} {:process 0, :type :ok, :f :write, :value [:a 1]}
        {:process 1, :type :invoke, :f :write, :value [:b 2]} {:process 1, :type :ok, :f :write, :value [:b 2]}
        {:process 0, :type :invoke, :f :read, :value [:a nil]} {:process 0, :type :ok, :f :read, :value [:a 1]}
        {:process 1, :type :invoke, :f :read, :value [:b nil]} {:process 1, :type :ok, :f :read, :value [:b 2]}]`,
    );
    const split = check(path, '--model', 'register');
    expect(split.status, split.stderr).toBe(0);
    expect(split.stdout).toMatch(/^key "a": valid/m);
    expect(split.stdout).toMatch(/^key "b": valid/m);
    // As one register the reads contradict each other ([:a 1] was overwritten by [:b 2] before it was read).
    const whole = check(path, '--model', 'register', '--no-independent');
    expect(whole.status, whole.stdout).toBe(1);
  });

  it('reads a run directory and takes the model from its spec.json', () => {
    const run = join(directory, 'store', 'register-test', '20260101T000000');
    mkdirSync(run, { recursive: true });
    copyFileSync(join(histories, 'generated', 'ok_1k_k100.jsonl'), join(run, 'history.jsonl'));
    writeFileSync(join(run, 'spec.json'), JSON.stringify({ name: 'register-test', workload: 'register' }));
    const result = check(run);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^model: cas-register \(initial null/m);
  });

  it('accepts a history cut off mid-line, with a warning on stderr', () => {
    const whole = readFileSync(join(histories, 'generated', 'ok_1k_k1.jsonl'), 'utf8');
    // Drop the last op's completion's tail: the torn line is ignored, its op stays open (as info).
    const path = writeFile('torn.jsonl', whole.slice(0, whole.length - 20));
    const result = check(path, '--model', 'cas-register');
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe(`faultline: warning: ${path}:2000: ignored a torn last line (the history was cut off mid-write)\n`);
  });
});

describe('faultline check: bad input exits 2 with one line naming file and line', () => {
  const valid = join(histories, 'generated', 'ok_1k_k1.jsonl');

  it('an unknown model', () => {
    expectBadInput(check(valid, '--model', 'registr'), /^faultline: --model: expected one of .*register.*, got 'registr'$/);
  });

  it('a bad --timeout', () => {
    expectBadInput(check(valid, '--model', 'register', '--timeout', 'soon'), /^faultline: --timeout: expected a duration such as 500ms, 60s or 5m, got 'soon'$/);
  });

  it('a bad --initial, --nil-reads or --workers', () => {
    expectBadInput(check(valid, '--model', 'register', '--initial', '{x:'), /^faultline: --initial: expected a JSON value/);
    expectBadInput(check(valid, '--model', 'register', '--nil-reads', 'maybe'), /^faultline: --nil-reads: expected 'any' or 'strict', got 'maybe'$/);
    expectBadInput(check(valid, '--model', 'register', '--workers', '-1'), /^faultline: --workers: expected a whole number/);
  });

  it('a missing file, and a file with no --model', () => {
    expectBadInput(check(join(directory, 'nope.jsonl'), '--model', 'register'), /nope\.jsonl: no such history file or run directory$/);
    expectBadInput(check(valid), /^faultline: --model: expected a model name/);
  });

  it('bad JSON in the middle of a JSONL file', () => {
    const path = writeFile('bad-json.jsonl', '{"process":0,"type":"invoke","f":"read","time":1}\n{"process":0,"type":"ok",\n{"process":1,"type":"invoke","f":"read","time":3}\n');
    expectBadInput(check(path, '--model', 'register'), new RegExp(`^faultline: ${path}:2: expected one JSON object per line`));
  });

  it('a field of the wrong type', () => {
    const path = writeFile('bad-field.jsonl', '{"process":0,"type":"invoke","f":"read","time":1}\n{"process":0,"type":"ok","f":"read","value":1,"time":"late"}\n');
    expectBadInput(check(path, '--model', 'register'), new RegExp(`^faultline: ${path}:2: expected "time" to be a number of nanoseconds, got "late"$`));
  });

  it('malformed EDN', () => {
    const path = writeFile('bad.edn', '[{:process 0, :type :invoke, :f :read, :value nil}\n {:process 0, :type :ok, :f :read, :value 1]\n');
    expectBadInput(check(path, '--model', 'register'), new RegExp(`^faultline: ${path}:2: expected '}' to close the '\\{' opened at line 2, got ']'$`));
  });

  it('a file that is neither JSONL nor EDN', () => {
    const path = writeFile('timeline.html', '<html><body>not a history</body></html>\n');
    expectBadInput(check(path, '--model', 'register'), new RegExp(`^faultline: ${path}:1: expected a history in JSONL`));
  });
});

describe('faultline check: loads only what the check needs', () => {
  it("--model's transactional workloads are the transactional checker's own list", async () => {
    const { txnWorkloads } = await import('./check.js');
    const transactional = await import('../../checkers/txn/index.js');
    expect(txnWorkloads).toEqual(transactional.txnWorkloads);
  });

  it('a JSONL linearizability check loads neither the transactional checker nor the EDN parser; a list-append check does', () => {
    // A module hook that prints every file the process loads (start-up cost follows the modules loaded).
    const hooks = join(directory, 'log-loads.mjs');
    writeFileSync(hooks, "export async function load(url, context, next) { if (url.startsWith('file:')) process.stderr.write(`loaded ${url}\\n`); return next(url, context); }\n");
    const register = join(directory, 'register-hooks.mjs');
    writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
    const history = join(directory, 'loads.jsonl');
    writeFileSync(history, ['{"process":0,"type":"invoke","f":"write","key":"a","value":1}', '{"process":0,"type":"ok","f":"write","key":"a","value":1}', ''].join('\n'));
    const run = (...args: string[]): { status: number | null; loaded: string[] } => {
      const result = spawnSync(process.execPath, ['--import', register, cli, 'check', history, ...args], { encoding: 'utf8', timeout: 120_000 });
      return { status: result.status, loaded: result.stderr.split('\n').filter((line) => line.startsWith('loaded ')) };
    };
    const linearizable = run('--model', 'cas-register', '--initial', 'null');
    expect(linearizable.status).toBe(0);
    expect(linearizable.loaded.some((line) => line.includes('/checkers/linearizable/engine.js'))).toBe(true);
    expect(linearizable.loaded.filter((line) => /\/checkers\/txn\/(?!anomalies\.js)|\/edn-data\//.test(line))).toEqual([]);
    const transactional = run('--model', 'list-append');
    expect(transactional.loaded.some((line) => line.includes('/checkers/txn/index.js'))).toBe(true);
  });
});
