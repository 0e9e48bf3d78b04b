// Puts the raftkv server on a node that does not share this checkout (ssh machines): the compiled import
// closure of dist/targets/raftkv/server.js, and any npm packages it needs, uploaded into the node's directory.
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Node } from '../../src/backends/types.js';
import type { TestContext } from '../../src/test-context.js';

/** Bounds on the walk: the server's closure is a handful of files and no packages today. */
const closureFilesMax = 500;
const closurePackagesMax = 200;

// Statements that start a line (as tsc emits them): imports and re-exports with `from`, side-effect imports;
// and literal dynamic imports anywhere. Anchoring keeps a string such as 'x-from' out of the match.
const importPattern = /^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"\n]+)['"]|^\s*import\s*['"]([^'"\n]+)['"]|\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/gm;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The package an import names: '@scope/name/sub' -> '@scope/name', 'name/sub' -> 'name'. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export interface ServerClosure {
  /** The project root: the folder that holds dist/ and package.json. */
  projectDirectory: string;
  /** Absolute paths of the compiled files the server imports, itself included. */
  files: string[];
  /** npm packages the files import, with their own dependencies (names below node_modules). */
  packages: string[];
}

/**
 * The compiled import closure of `serverPath` (dist/targets/raftkv/server.js): every relative import
 * followed, bare imports collected as packages (Node's own modules excluded), packages' dependencies added.
 */
export async function raftkvServerClosure(serverPath: string): Promise<ServerClosure> {
  const distDirectory = resolve(dirname(serverPath), '..', '..');
  const projectDirectory = dirname(distDirectory);
  if (!(await exists(serverPath))) throw new Error(`raftkv: ${serverPath} is missing; run npm run build first`);
  const builtins = new Set(builtinModules);
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(serverPath)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    if (files.size >= closureFilesMax) throw new Error(`raftkv: the server imports more than ${closureFilesMax} files`);
    files.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (!specifier || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (!target.startsWith(distDirectory + sep)) throw new Error(`raftkv: ${file} imports ${specifier}, outside ${distDirectory}`);
        pending.push(target);
      } else if (!builtins.has(packageNameOf(specifier))) {
        packages.add(packageNameOf(specifier));
      }
    }
  }
  // A package needs its own dependencies at run time too (a flat node_modules, as npm installs it).
  const allPackages = new Set<string>();
  const queue = [...packages];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (allPackages.has(name)) continue;
    if (allPackages.size >= closurePackagesMax) throw new Error(`raftkv: the server needs more than ${closurePackagesMax} packages`);
    allPackages.add(name);
    const manifestPath = join(projectDirectory, 'node_modules', name, 'package.json');
    if (!(await exists(manifestPath))) throw new Error(`raftkv: the server imports ${name}, which is not installed (${manifestPath})`);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { dependencies?: Record<string, string> };
    queue.push(...Object.keys(manifest.dependencies ?? {}));
  }
  return { projectDirectory, files: [...files].sort(), packages: [...allPackages].sort() };
}

/**
 * Lays the closure out in a fresh local folder mirroring the project (package.json with its "type", dist/...,
 * node_modules/...), so that a copy of the folder runs anywhere with `node <folder>/<server path>`.
 * Returns the folder; the caller removes it.
 */
export async function stageServer(closure: ServerClosure): Promise<string> {
  const staging = await mkdtemp(join(tmpdir(), 'faultline-raftkv-server-'));
  try {
    // Node reads "type": "module" from the nearest package.json to run the .js files as ES modules.
    const manifest = JSON.parse(await readFile(join(closure.projectDirectory, 'package.json'), 'utf8')) as { name?: string; type?: string };
    await writeFile(join(staging, 'package.json'), `${JSON.stringify({ name: manifest.name, type: manifest.type, private: true }, null, 2)}\n`);
    for (const file of closure.files) {
      const destination = join(staging, relative(closure.projectDirectory, file));
      await mkdir(dirname(destination), { recursive: true });
      await cp(file, destination);
    }
    for (const name of closure.packages) {
      await cp(join(closure.projectDirectory, 'node_modules', name), join(staging, 'node_modules', name), { recursive: true, dereference: true });
    }
    return staging;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

export interface InstalledServer {
  nodeBinary: string;
  serverPath: string;
  /** Whether the files were uploaded (the node did not have them). */
  uploaded: boolean;
}

async function existsOnNode(test: TestContext, node: Node, path: string, flag: '-f' | '-x'): Promise<boolean> {
  const result = await test.backend.exec(node, ['test', flag, path], { allowFailure: true });
  return result.exitCode === 0;
}

/** Where an uploaded server lives on the node: beside the data, outside it (setup wipes the data). */
export function uploadedServerDirectory(node: Node): string {
  return `${node.dir}/raftkv-server`;
}

/**
 * Makes sure `node` can run the server: the given (or this checkout's) server path when the node has it
 * (local and docker backends share or mirror the checkout), otherwise an uploaded copy of its closure. The
 * node binary: the one asked for; else this controller's own when the node has that path; else `node`.
 */
export async function installServer(
  test: TestContext,
  node: Node,
  options: { serverPath: string; serverPathGiven: boolean; nodeBinary?: string },
): Promise<InstalledServer> {
  const nodeBinary =
    options.nodeBinary ?? ((await existsOnNode(test, node, process.execPath, '-x')) ? process.execPath : 'node');
  if (await existsOnNode(test, node, options.serverPath, '-f')) return { nodeBinary, serverPath: options.serverPath, uploaded: false };
  // A server path the user named is theirs to provide; only this checkout's own build is ours to copy.
  if (options.serverPathGiven) throw new Error(`raftkv: server ${options.serverPath} is not on ${node.name}`);
  const closure = await raftkvServerClosure(options.serverPath);
  const staging = await stageServer(closure);
  const directory = uploadedServerDirectory(node);
  try {
    await test.backend.exec(node, ['rm', '-rf', directory]);
    await test.backend.upload(node, staging, directory);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const serverPath = `${directory}/${relative(closure.projectDirectory, options.serverPath).split(sep).join('/')}`;
  return { nodeBinary, serverPath, uploaded: true };
}
