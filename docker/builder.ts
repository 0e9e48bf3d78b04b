// Builds Faultline's container images with no registry: debootstrap a Debian root filesystem, install
// packages in a chroot, `docker import` it, and layer raftkv on top with the engine's own build.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { UserError } from '../src/errors.js';

export type ImageName = 'base' | 'raftkv' | 'etcd';
export const IMAGE_NAMES: readonly ImageName[] = ['base', 'raftkv', 'etcd'];

/** Bumped whenever the way images are assembled changes, so cached images are rebuilt. */
const BUILDER_VERSION = '1';
const DEBIAN_SUITE = 'bookworm';
const DEBIAN_MIRROR = process.env.FAULTLINE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
/** Packages every node needs: fault tools (iptables, libfaketime, procps, iproute2) and basic tools. */
const BASE_PACKAGES = ['iptables', 'libfaketime', 'procps', 'iproute2', 'coreutils', 'psmisc', 'ca-certificates'];
const ETCD_PACKAGES = [...BASE_PACKAGES, 'etcd-server', 'etcd-client'];
/** Where the project's built files live inside the raftkv image. */
export const IMAGE_PROJECT_DIR = '/opt/faultline';
/** Where the Node binary lives inside every image (copied from the controller's own Node 20). */
export const IMAGE_NODE_PATH = '/usr/local/bin/node';

const DEBOOTSTRAP_TIMEOUT_MS = 15 * 60_000;
const APT_TIMEOUT_MS = 15 * 60_000;
const IMPORT_TIMEOUT_MS = 10 * 60_000;
const BUILD_LOCK_WAIT_MS = 20 * 60_000;

export interface ImageBuildOptions {
  /** Rebuild images (and their package root filesystems) even when an image with the same content exists. */
  force?: boolean;
  /** Holds the debootstrap root filesystem and per-package-set root filesystems. */
  cacheDir?: string;
  /** The repository root (holds dist/ and node_modules/). */
  projectDir?: string;
  images?: readonly ImageName[];
  log?: (line: string) => void;
  docker?: Docker;
}

export interface BuiltImage {
  name: ImageName;
  /** The content-addressed reference, e.g. faultline/base:3f2a9c01d4e5. */
  reference: string;
  contentHash: string;
  /** True when an image with this content already existed. */
  cached: boolean;
  durationMs: number;
}

/** The reference the docker backend runs: the newest build of an image. */
export function imageReference(name: ImageName): string {
  return `faultline/${name}:latest`;
}

export function defaultCacheDir(): string {
  const base = process.env.FAULTLINE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'faultline');
  return join(base, 'images');
}

export function defaultProjectDir(): string {
  // This file is dist/docker/builder.js once built, docker/builder.ts under vitest: the root is above both.
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${sep}dist${sep}`) ? resolve(here, '..', '..') : resolve(here, '..');
}

function sha256(...parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
    hash.update('\0');
  }
  return hash.digest('hex');
}

interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a host command with a time bound; rejects with its last stderr lines when it fails. */
function run(argv: readonly string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv; allowFailure?: boolean }): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.length > 1_000_000) stdout = stdout.slice(-500_000);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitCode = code ?? 128;
      if (exitCode !== 0 && !options.allowFailure) {
        const tail = (stderr || stdout).trim().split('\n').slice(-5).join(' | ');
        const why = signal ? `killed by ${signal} (bound ${options.timeoutMs} ms)` : `exit ${exitCode}`;
        reject(new Error(`${argv.join(' ').slice(0, 200)}: ${why}: ${tail}`));
        return;
      }
      resolvePromise({ exitCode, stdout, stderr });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new UserError(
      `images build: ${what} needs root (debootstrap and chroot); run as root, or build docker/<image>/Dockerfile with docker build where a registry is reachable`,
    );
  }
}

/** debootstrap --variant=minbase, cached once per cache directory (it is the slow, network-bound step). */
async function minbaseRootfs(cacheDir: string, log: (line: string) => void): Promise<string> {
  const target = join(cacheDir, `minbase-${DEBIAN_SUITE}`);
  if (await exists(join(target, '.faultline-complete'))) return target;
  requireRoot('debootstrap');
  if (!(await exists('/usr/sbin/debootstrap'))) {
    throw new UserError('images build: debootstrap is missing; run scripts/setup-docker.sh or apt-get install debootstrap');
  }
  const staging = `${target}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(cacheDir, { recursive: true });
  log(`debootstrap --variant=minbase ${DEBIAN_SUITE} (a few minutes at most, once per cache dir)`);
  await run(['debootstrap', '--variant=minbase', DEBIAN_SUITE, staging, DEBIAN_MIRROR], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS });
  await writeFile(join(staging, '.faultline-complete'), new Date().toISOString());
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}

/** The minbase root filesystem plus `packages`, cached per package set. */
async function packagesRootfs(
  cacheDir: string,
  packages: readonly string[],
  force: boolean,
  log: (line: string) => void,
): Promise<string> {
  const key = sha256(BUILDER_VERSION, DEBIAN_SUITE, ...packages).slice(0, 12);
  const target = join(cacheDir, `rootfs-${key}`);
  if (!force && (await exists(join(target, '.faultline-complete')))) return target;
  const minbase = await minbaseRootfs(cacheDir, log);
  requireRoot('chroot apt-get');
  const staging = `${target}.partial`;
  await rm(staging, { recursive: true, force: true });
  await run(['cp', '-a', minbase, staging], { timeoutMs: APT_TIMEOUT_MS });
  await rm(join(staging, '.faultline-complete'), { force: true });
  // apt in the chroot resolves the mirror with the host's resolver; services must not start in a chroot.
  await copyFile('/etc/resolv.conf', join(staging, 'etc', 'resolv.conf')).catch(() => undefined);
  const policy = join(staging, 'usr', 'sbin', 'policy-rc.d');
  await writeFile(policy, '#!/bin/sh\nexit 101\n');
  await chmod(policy, 0o755);
  log(`chroot apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  await run(['chroot', staging, 'apt-get', 'update', '-qq'], { timeoutMs: APT_TIMEOUT_MS, env });
  await run(['chroot', staging, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages], {
    timeoutMs: APT_TIMEOUT_MS,
    env,
  });
  await run(['chroot', staging, 'apt-get', 'clean'], { timeoutMs: 60_000, env });
  await rm(join(staging, 'var', 'lib', 'apt', 'lists'), { recursive: true, force: true });
  await mkdir(join(staging, 'var', 'lib', 'apt', 'lists', 'partial'), { recursive: true });
  await rm(policy, { force: true });
  await writeFile(join(staging, '.faultline-complete'), new Date().toISOString());
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}

function dockerClient(options: ImageBuildOptions): Docker {
  return options.docker ?? new Docker();
}

async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  try {
    await docker.getImage(reference).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Waits for an engine progress stream to end; rejects on the first error message in it. */
function followProgress(docker: Docker, stream: NodeJS.ReadableStream, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker engine did not finish within ${timeoutMs} ms`)), timeoutMs);
    docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
      clearTimeout(timer);
      if (error) return reject(error);
      const failed = output.find((event) => event.error || event.errorDetail);
      if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'docker engine error'));
      resolvePromise();
    });
  });
}

async function tagLatest(docker: Docker, reference: string, name: ImageName): Promise<void> {
  await docker.getImage(reference).tag({ repo: `faultline/${name}`, tag: 'latest' });
  // Older content-addressed builds of this image only take disk; an image a container still uses stays.
  const images = await docker.listImages({ filters: JSON.stringify({ reference: [`faultline/${name}`] }) });
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag === reference || tag === `faultline/${name}:latest` || !tag.startsWith(`faultline/${name}:`)) continue;
      await docker.getImage(tag).remove().catch(() => undefined);
    }
  }
  const dangling = await docker.listImages({ filters: JSON.stringify({ dangling: ['true'], label: [`faultline.image=${name}`] }) });
  for (const image of dangling) await docker.getImage(image.Id).remove().catch(() => undefined);
}

function imageLabels(name: ImageName, contentHash: string): Record<string, string> {
  return { 'faultline.image': name, 'faultline.content-hash': contentHash };
}

/** `tar -C rootfs -c . | docker import`: the rootfs becomes one image layer. */
async function importRootfs(docker: Docker, rootfs: string, name: ImageName, contentHash: string): Promise<string> {
  const tag = contentHash.slice(0, 12);
  const reference = `faultline/${name}:${tag}`;
  const tar = spawn('tar', ['-C', rootfs, '--exclude=./.faultline-complete', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarError = '';
  tar.stderr.on('data', (chunk: Buffer) => (tarError += chunk.toString()));
  const tarDone = new Promise<void>((resolvePromise, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`tar of ${rootfs} failed: ${tarError.trim()}`))));
  });
  const changes = [
    ...Object.entries(imageLabels(name, contentHash)).map(([key, value]) => `LABEL ${key}=${value}`),
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'CMD ["sleep", "infinity"]',
  ];
  const stream = (await docker.importImage(tar.stdout as unknown as string, {
    repo: `faultline/${name}`,
    tag,
    changes,
  } as unknown as object)) as NodeJS.ReadableStream;
  await followProgress(docker, stream, IMPORT_TIMEOUT_MS);
  await tarDone;
  return reference;
}

/** Copies the controller's Node binary (and any library the rootfs lacks) into the root filesystem. */
async function installNode(rootfs: string): Promise<void> {
  const destination = join(rootfs, IMAGE_NODE_PATH.slice(1));
  await mkdir(dirname(destination), { recursive: true });
  await copyFile(process.execPath, destination);
  await chmod(destination, 0o755);
  const ldd = await run(['ldd', process.execPath], { timeoutMs: 30_000, allowFailure: true });
  for (const line of ldd.stdout.split('\n')) {
    const match = /=>\s+(\/\S+)/.exec(line);
    if (!match) continue;
    const library = match[1];
    if (!(await exists(join(rootfs, library))) && !(await exists(join(rootfs, 'usr', library)))) {
      await mkdir(dirname(join(rootfs, library)), { recursive: true });
      await copyFile(library, join(rootfs, library));
    }
  }
  // Targets start Node by the controller's own path (process.execPath); the same path works on every node.
  if (process.execPath !== IMAGE_NODE_PATH) {
    const alias = join(rootfs, process.execPath.slice(1));
    await mkdir(dirname(alias), { recursive: true });
    await rm(alias, { force: true });
    await symlink(IMAGE_NODE_PATH, alias);
  }
  const check = await run(['chroot', rootfs, process.execPath, '--version'], { timeoutMs: 30_000, allowFailure: true });
  if (check.exitCode !== 0) throw new Error(`node does not run inside the image root filesystem: ${check.stderr.trim()}`);
}

async function nodeBinaryHash(): Promise<string> {
  return sha256(process.execPath, await readFile(process.execPath));
}

/** Builds an image straight from a package root filesystem plus Node (base and etcd). */
async function buildRootfsImage(
  docker: Docker,
  name: ImageName,
  packages: readonly string[],
  options: Required<Pick<ImageBuildOptions, 'cacheDir' | 'force' | 'log'>>,
  nodeHash: string,
): Promise<BuiltImage> {
  const started = Date.now();
  const contentHash = sha256(BUILDER_VERSION, DEBIAN_SUITE, name, ...packages, nodeHash);
  const reference = `faultline/${name}:${contentHash.slice(0, 12)}`;
  if (!options.force && (await imageExists(docker, reference))) {
    await tagLatest(docker, reference, name);
    return { name, reference, contentHash, cached: true, durationMs: Date.now() - started };
  }
  const rootfs = await packagesRootfs(options.cacheDir, packages, options.force, options.log);
  await installNode(rootfs);
  await mkdir(join(rootfs, 'var', 'lib', 'faultline'), { recursive: true });
  options.log(`docker import ${reference}`);
  await importRootfs(docker, rootfs, name, contentHash);
  await tagLatest(docker, reference, name);
  return { name, reference, contentHash, cached: false, durationMs: Date.now() - started };
}

const IMPORT_PATTERN = /(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * The files raftkv's server needs: the JS import closure of dist/targets/raftkv (relative imports
 * followed file by file) and the npm packages it names, with their own dependencies.
 */
export async function raftkvClosure(projectDir: string): Promise<{ files: string[]; packages: string[] }> {
  const root = join(projectDir, 'dist', 'targets', 'raftkv');
  if (!(await exists(root))) {
    throw new UserError(`images build: ${relative(process.cwd(), root) || root} is missing; run npm run build first`);
  }
  const pending: string[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.js') && !entry.name.includes('.test.')) pending.push(path);
    }
  };
  await walk(root);
  const files = new Set<string>();
  const packages = new Set<string>();
  // Bounded: each file is visited once and the dist tree is finite.
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(IMPORT_PATTERN)) {
      const specifier = match[1] ?? match[2];
      if (!specifier || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (target.startsWith(join(projectDir, 'dist') + sep) && (await exists(target))) pending.push(target);
      } else {
        packages.add(packageNameOf(specifier));
      }
    }
  }
  // Node's own modules written without the node: prefix are not npm packages.
  const { builtinModules } = await import('node:module');
  for (const builtin of builtinModules) packages.delete(builtin);
  const allPackages = new Set<string>();
  const queue = [...packages];
  while (queue.length > 0 && allPackages.size < 2000) {
    const name = queue.pop()!;
    if (allPackages.has(name)) continue;
    const manifestPath = join(projectDir, 'node_modules', name, 'package.json');
    if (!(await exists(manifestPath))) continue;
    allPackages.add(name);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(manifest.dependencies ?? {}));
  }
  return { files: [...files].sort(), packages: [...allPackages].sort() };
}

async function hashFiles(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(path);
    hash.update(await readFile(path));
  }
  return hash.digest('hex');
}

/** Collects every file below `directory` (for hashing an npm package's contents). */
async function listFiles(directory: string, limit = 20_000): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      if (found.length >= limit) return;
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) found.push(path);
    }
  };
  await walk(directory);
  return found.sort();
}

/** raftkv = base + the built server and its npm dependencies, layered by the engine's build from docker/raftkv/Dockerfile. */
async function buildRaftkvImage(
  docker: Docker,
  base: BuiltImage,
  options: Required<Pick<ImageBuildOptions, 'cacheDir' | 'force' | 'log' | 'projectDir'>>,
): Promise<BuiltImage> {
  const started = Date.now();
  const { projectDir } = options;
  const closure = await raftkvClosure(projectDir);
  const packageFiles: string[] = [];
  for (const name of closure.packages) packageFiles.push(...(await listFiles(join(projectDir, 'node_modules', name))));
  const dockerfilePath = join(projectDir, 'docker', 'raftkv', 'Dockerfile');
  const dockerfile = await readFile(dockerfilePath);
  const contentHash = sha256(
    BUILDER_VERSION,
    'raftkv',
    base.contentHash,
    dockerfile,
    await hashFiles(closure.files.map((file) => file)),
    await hashFiles(packageFiles),
    await readFile(join(projectDir, 'package.json')),
    projectDir,
  );
  const reference = `faultline/raftkv:${contentHash.slice(0, 12)}`;
  if (!options.force && (await imageExists(docker, reference))) {
    await tagLatest(docker, reference, 'raftkv');
    return { name: 'raftkv', reference, contentHash, cached: true, durationMs: Date.now() - started };
  }
  // The build context: the Dockerfile and a faultline/ tree mirroring the project layout.
  const context = join(options.cacheDir, `context-raftkv-${process.pid}`);
  await rm(context, { recursive: true, force: true });
  const projectCopy = join(context, 'faultline');
  await mkdir(projectCopy, { recursive: true });
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  // Only "type": "module" (and name) matter to Node at run time; a tiny package.json avoids shipping scripts.
  const manifest = JSON.parse(await readFile(join(projectDir, 'package.json'), 'utf8')) as { name?: string; type?: string };
  await writeFile(join(projectCopy, 'package.json'), JSON.stringify({ name: manifest.name, type: manifest.type, private: true }, null, 2));
  for (const file of closure.files) {
    const destination = join(projectCopy, relative(projectDir, file));
    await mkdir(dirname(destination), { recursive: true });
    await copyFile(file, destination);
  }
  for (const name of closure.packages) {
    await cp(join(projectDir, 'node_modules', name), join(projectCopy, 'node_modules', name), { recursive: true, dereference: true });
  }
  await mkdir(join(projectCopy, 'node_modules'), { recursive: true });
  try {
    options.log(`docker build ${reference} (FROM ${base.reference}; ${closure.files.length} files, ${closure.packages.length} npm packages)`);
    const tar = spawn('tar', ['-C', context, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stream = (await docker.buildImage(tar.stdout as unknown as string, {
      t: reference,
      buildargs: { BASE_IMAGE: base.reference, HOST_PROJECT_DIR: projectDir },
      labels: imageLabels('raftkv', contentHash),
      rm: true,
      forcerm: true,
    } as Docker.ImageBuildOptions)) as NodeJS.ReadableStream;
    await followProgress(docker, stream, IMPORT_TIMEOUT_MS);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  await tagLatest(docker, reference, 'raftkv');
  return { name: 'raftkv', reference, contentHash, cached: false, durationMs: Date.now() - started };
}

/**
 * Builds the base, raftkv and etcd images (or `options.images`), each cached by the hash of its inputs:
 * a second build with unchanged inputs only re-tags `:latest` and returns at once.
 */
export async function buildImages(options: ImageBuildOptions = {}): Promise<BuiltImage[]> {
  const docker = dockerClient(options);
  const wanted = new Set(options.images ?? IMAGE_NAMES);
  const settings = {
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    force: options.force ?? false,
    log: options.log ?? (() => undefined),
    projectDir: options.projectDir ?? defaultProjectDir(),
  };
  try {
    await docker.ping();
  } catch (error) {
    throw new UserError(`images build: no Docker engine answers (${(error as Error).message}); run scripts/setup-docker.sh as root`);
  }
  const nodeHash = await nodeBinaryHash();
  await mkdir(settings.cacheDir, { recursive: true });
  const release = await acquireBuildLock(settings.cacheDir, settings.log);
  try {
    return await buildWanted(docker, wanted, settings, nodeHash);
  } finally {
    await release();
  }
}

/**
 * One build at a time per cache directory (two would share staging directories). A lock whose owner died is
 * taken over; waiting is bounded.
 */
async function acquireBuildLock(cacheDir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const lock = join(cacheDir, '.build-lock');
  const deadline = Date.now() + BUILD_LOCK_WAIT_MS;
  let announced = false;
  for (let attempt = 0; attempt < BUILD_LOCK_WAIT_MS / 500 + 1; attempt++) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return () => rm(lock, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''), 10);
    let ownerAlive = false;
    if (Number.isInteger(owner) && owner > 0) {
      try {
        process.kill(owner, 0);
        ownerAlive = true;
      } catch {
        ownerAlive = false;
      }
    }
    // No pid yet may be an owner between mkdir and writeFile: only a lock with a dead owner is stale.
    if (Number.isInteger(owner) && owner > 0 && !ownerAlive) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) break;
    if (!announced) {
      log(`waiting for another image build (pid ${owner || '?'}) to finish`);
      announced = true;
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
  }
  throw new Error(`images build: ${lock} is held by another build for over ${BUILD_LOCK_WAIT_MS / 60_000} min`);
}

async function buildWanted(
  docker: Docker,
  wanted: Set<ImageName>,
  settings: Required<Pick<ImageBuildOptions, 'cacheDir' | 'force' | 'log' | 'projectDir'>>,
  nodeHash: string,
): Promise<BuiltImage[]> {
  const built: BuiltImage[] = [];
  let base: BuiltImage | undefined;
  if (wanted.has('base') || wanted.has('raftkv')) {
    base = await buildRootfsImage(docker, 'base', BASE_PACKAGES, settings, nodeHash);
    if (wanted.has('base')) built.push(base);
  }
  if (wanted.has('etcd')) built.push(await buildRootfsImage(docker, 'etcd', ETCD_PACKAGES, settings, nodeHash));
  // Last: raftkv needs `npm run build`'s output, and its absence should not cost the other images.
  if (wanted.has('raftkv') && base) built.push(await buildRaftkvImage(docker, base, settings));
  return built;
}

/** Whether an image is present in the engine (for doctor and for the docker backend's friendly error). */
export async function imagePresent(name: ImageName, docker: Docker = new Docker()): Promise<boolean> {
  return imageExists(docker, imageReference(name));
}

