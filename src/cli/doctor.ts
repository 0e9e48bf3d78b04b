// `faultline doctor`: one line per thing a run may need (engine, images, root, iptables, libfaketime,
// network namespaces, etcd, chromium), each ok or missing with how to fix it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { LIBFAKETIME_PATH } from '../clock.js';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it when not ok. */
  fix?: string;
}

const PROBE_TIMEOUT_MS = 10_000;

function probe(argv: readonly string[]): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ exitCode: 127, output: (error as Error).message });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ exitCode: 127, output: error.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? 128, output: output.trim() });
    });
  });
}

async function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 120);
}

/** A tool is there when `argv` (its --version) exits 0; the detail is the first line it printed. */
async function versionCheck(name: string, argv: readonly string[], fix: string): Promise<DoctorCheck> {
  const result = await probe(argv);
  return { name, ok: result.exitCode === 0, detail: result.exitCode === 0 ? firstLine(result.output) : 'missing', fix };
}

/**
 * The k8s target's Go-built etcd 3.6 and kube-apiserver: scripts/build-k8s.sh names its cache folders (the
 * script holds the pinned versions), and each binary there must answer --version.
 */
async function k8sChecks(): Promise<DoctorCheck[]> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const script = [join(here, '../../scripts/build-k8s.sh'), join(here, '../../../scripts/build-k8s.sh')].find((path) => existsSync(path));
  const fix = 'bash scripts/build-k8s.sh (builds them from Go modules; needs Go 1.24+, minutes on a small machine)';
  if (!script) return [{ name: 'k8s binaries', ok: false, detail: 'scripts/build-k8s.sh not found', fix }];
  const folders = await probe(['bash', script, '--print-dir']);
  const [kubeDir, etcdDir] = folders.output.split('\n');
  const checks: DoctorCheck[] = [];
  for (const [name, binary] of [['kube-apiserver (k8s target)', `${kubeDir}/kube-apiserver`], ['etcd 3.6 (k8s target)', `${etcdDir}/etcd`]]) {
    const version = existsSync(binary) ? await probe([binary, '--version']) : undefined;
    checks.push({ name, ok: version?.exitCode === 0, detail: version?.exitCode === 0 ? `${firstLine(version.output)} (${binary})` : `${binary} missing`, fix });
  }
  return checks;
}

/** Runs every check; never throws (a failing probe is a missing item). */
export async function runDoctor(): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const root = process.getuid?.() === 0;
  checks.push({
    name: 'root',
    ok: root,
    detail: root ? 'running as root' : `running as uid ${process.getuid?.() ?? '?'}`,
    fix: 'the local backend and faults need root: run faultline as root',
  });

  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  let engineVersion: string | undefined;
  try {
    engineVersion = (await docker.version()).Version;
  } catch {
    engineVersion = undefined;
  }
  checks.push({
    name: 'docker engine',
    ok: engineVersion !== undefined,
    detail: engineVersion !== undefined ? `engine ${engineVersion} answers on /var/run/docker.sock` : 'no engine answers',
    fix: 'run scripts/setup-docker.sh as root (installs docker.io and starts dockerd)',
  });
  for (const image of ['base', 'raftkv', 'etcd']) {
    let present = false;
    if (engineVersion !== undefined) present = await docker.getImage(`faultline/${image}:latest`).inspect().then(() => true, () => false);
    checks.push({
      name: `image faultline/${image}`,
      ok: present,
      detail: present ? 'present' : engineVersion === undefined ? 'unknown (no engine)' : 'not built',
      fix: 'run `faultline images build` (needs root and Debian\'s mirror)',
    });
  }

  const debootstrap = await fileExists('/usr/sbin/debootstrap');
  checks.push({ name: 'debootstrap', ok: debootstrap, detail: debootstrap ? 'present' : 'missing', fix: 'apt-get install debootstrap (builds images offline)' });
  checks.push(await versionCheck('iptables', ['iptables', '--version'], 'apt-get install iptables (partitions and packet loss)'));
  const faketime = await fileExists(LIBFAKETIME_PATH);
  checks.push({
    name: 'libfaketime',
    ok: faketime,
    detail: faketime ? LIBFAKETIME_PATH : `${LIBFAKETIME_PATH} missing`,
    fix: 'apt-get install libfaketime (clock skew)',
  });
  const netns = root ? await probe(['unshare', '--net', 'true']) : { exitCode: 1, output: 'needs root' };
  checks.push({
    name: 'network namespaces',
    ok: netns.exitCode === 0,
    detail: netns.exitCode === 0 ? 'a new network namespace can be created' : firstLine(netns.output) || 'cannot create one',
    fix: 'run as root on a kernel with network namespaces (the local backend needs them)',
  });
  checks.push(await versionCheck('etcd (local backend)', ['etcd', '--version'], 'apt-get install etcd-server etcd-client (or run scripts/setup-docker.sh)'));
  checks.push(...(await k8sChecks()));
  const chromium = await probe(['chromium', '--version']);
  checks.push({
    name: 'chromium',
    ok: chromium.exitCode === 0,
    detail: chromium.exitCode === 0 ? (chromium.output.split('\n').filter((line) => /chromium/i.test(line) && !/unexpected/.test(line)).pop() ?? 'present') : 'missing',
    fix: 'apt-get install chromium (report tests)',
  });
  return checks;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check what runs need on this machine: engine, images, root, iptables, libfaketime, netns, etcd, chromium')
    .option('--strict', 'exit 1 when anything is missing')
    .action(async (options: { strict?: boolean }) => {
      const checks = await runDoctor();
      const width = Math.max(...checks.map((check) => check.name.length));
      for (const check of checks) {
        const status = check.ok ? 'ok     ' : 'missing';
        const fix = check.ok || !check.fix ? '' : ` -> ${check.fix}`;
        process.stdout.write(`${status} ${check.name.padEnd(width)}  ${check.detail}${fix}\n`);
      }
      const missing = checks.filter((check) => !check.ok).length;
      process.stdout.write(missing === 0 ? 'everything is in place\n' : `${missing} missing\n`);
      if (options.strict && missing > 0) process.exitCode = 1;
    });
}
