// One registry per kind (issue 13): the spec, the CLI help and the runner all take names from the registries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { loadSpec } from './spec/index.js';
import { loadTarget, registerTarget, targetNames } from './targets.js';
import { loadWorkload, registerWorkload, workloadNames } from '../workloads/index.js';
import { createNemesisPackages, FAULT_NAMES, faultNames, loadNemesisModules, registerNemesis } from '../nemeses/index.js';
import { register as registerRunCommand } from './cli/run.js';
import { registerWorkload as registerWorkloadFromPublicApi } from './index.js';

function messageOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

async function rejectionOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a rejection');
}

function runHelp(): string {
  const program = new Command('faultline');
  registerRunCommand(program);
  return program.commands.find((command) => command.name() === 'run')!.helpInformation();
}

describe('registries', () => {
  it('the spec accepts every registered target, workload and fault, and nothing else', () => {
    for (const target of targetNames()) expect(loadSpec({ flags: { target } }).target).toBe(target);
    for (const workload of workloadNames()) expect(loadSpec({ flags: { workload } }).workload).toBe(workload);
    for (const fault of FAULT_NAMES) expect(loadSpec({ flags: { nemesis: fault } }).nemesis).toEqual([fault]);
    expect(messageOf(() => loadSpec({ flags: { workload: 'no-such-workload' } }))).toMatch(/^--workload: expected one of .*register.*, got 'no-such-workload'$/);
  });

  it("the run command's help lists each registry's names", () => {
    const help = runHelp().replace(/\s+/g, ' ');
    for (const name of [...targetNames(), ...workloadNames(), ...FAULT_NAMES]) expect(help).toContain(name);
  });

  it('a registered workload, target or nemesis becomes a name the spec and loaders accept', async () => {
    expect(messageOf(() => loadSpec({ flags: { workload: 'registry-test-workload' } }))).toMatch(/expected one of/);
    const workload = { name: 'registry-test-workload', create: () => { throw new Error('not run here'); } };
    registerWorkloadFromPublicApi('registry-test-workload', workload);
    expect(loadSpec({ flags: { workload: 'registry-test-workload' } }).workload).toBe('registry-test-workload');
    expect(await loadWorkload('registry-test-workload')).toBe(workload);

    const target = { name: 'registry-test-target', workloads: ['register'], db: () => { throw new Error('not run here'); }, client: () => { throw new Error('not run here'); } };
    registerTarget('registry-test-target', target);
    expect(loadSpec({ flags: { target: 'registry-test-target' } }).target).toBe('registry-test-target');
    expect(await loadTarget('registry-test-target')).toBe(target);

    const nemesisPackage = { name: 'registry-test-fault', nemesis: { fs: ['start-test'], setup: async () => {}, invoke: async (_t: unknown, _d: unknown, op: never) => op, teardown: async () => {} }, startOp: () => ({ f: 'start-test', value: null }), healOp: () => ({ f: 'stop-test', value: null }) };
    registerNemesis('registry-test-fault', () => nemesisPackage as never);
    expect(faultNames()).toContain('registry-test-fault');
    expect(loadSpec({ flags: { nemesis: 'partition,registry-test-fault' } }).nemesis).toEqual(['partition', 'registry-test-fault']);
    expect(createNemesisPackages(['registry-test-fault'])[0]).toBe(nemesisPackage);

    expect(() => registerWorkload('Bad Name', workload)).toThrow(/lowercase letters/);
    expect(() => registerTarget('half-target', { name: 'x' } as never)).toThrow(/is not a Target/);
  });
});

describe('module paths in a spec', () => {
  const folder = mkdtempSync(join(tmpdir(), 'faultline-registries-'));
  writeFileSync(join(folder, 'my-target.js'), `export const target = { name: 'mine', workloads: ['register'], db() {}, client() {} };\n`);
  writeFileSync(join(folder, 'not-a-target.js'), `export const something = 1;\n`);
  writeFileSync(join(folder, 'my-workload.js'), `export default { name: 'my-workload', create() { throw new Error('not run here'); } };\n`);
  writeFileSync(
    join(folder, 'my-nemesis.js'),
    `export const nemesis = () => ({ name: 'mine', nemesis: { fs: ['start-mine', 'stop-mine'], async setup() {}, async invoke(t, d, op) { return op; }, async teardown() {} }, startOp: () => ({ f: 'start-mine', value: null }), healOp: () => ({ f: 'stop-mine', value: null }) });\n`,
  );
  writeFileSync(join(folder, 'spec.yaml'), 'target: ./my-target.js\nworkload: ./my-workload.js\nnemesis: [partition, ./my-nemesis.js]\n');
  writeFileSync(join(folder, 'missing.yaml'), 'nodes: 3\ntarget: ./nowhere.js\n');

  it('resolves paths against the spec file and names runs by the file names', () => {
    const spec = loadSpec({ file: join(folder, 'spec.yaml') });
    expect(spec.target).toBe(join(folder, 'my-target.js'));
    expect(spec.workload).toBe(join(folder, 'my-workload.js'));
    expect(spec.nemesis).toEqual(['partition', join(folder, 'my-nemesis.js')]);
    expect(spec.name).toBe('my-target-my-workload');
  });

  it("lets a timeline name a module nemesis by the package's own name, and still refuses unknown built-in names", () => {
    writeFileSync(join(folder, 'timeline.yaml'), 'nemesis: [kill, ./my-nemesis.js]\nnemesis-timeline:\n  - {at: 1, fault: mine, action: start}\n  - {at: 2, fault: mine, action: stop}\n');
    expect(loadSpec({ file: join(folder, 'timeline.yaml') }).nemesisTimeline?.map((event) => event.fault)).toEqual(['mine', 'mine']);
    writeFileSync(join(folder, 'timeline-bad.yaml'), 'nemesis: [kill]\nnemesis-timeline:\n  - {at: 1, fault: mine, action: start}\n');
    expect(messageOf(() => loadSpec({ file: join(folder, 'timeline-bad.yaml') }))).toBe(
      `${join(folder, 'timeline-bad.yaml')}:3: nemesis-timeline[0].fault: expected a fault listed in nemesis (kill), got 'mine'`,
    );
  });

  it('refuses a missing module with the file, the line and the path', () => {
    expect(messageOf(() => loadSpec({ file: join(folder, 'missing.yaml') }))).toBe(`${join(folder, 'missing.yaml')}:2: target: no such target module: ${join(folder, 'nowhere.js')}`);
  });

  it('loads the modules, and names the file and the shape expected when an export is wrong', async () => {
    expect((await loadTarget(join(folder, 'my-target.js'))).name).toBe('mine');
    expect((await loadWorkload(join(folder, 'my-workload.js'))).name).toBe('my-workload');
    await loadNemesisModules([join(folder, 'my-nemesis.js')]);
    expect(createNemesisPackages([join(folder, 'my-nemesis.js')])[0].name).toBe('mine');
    expect(await rejectionOf(loadTarget(join(folder, 'not-a-target.js')))).toBe(
      `target ${join(folder, 'not-a-target.js')}: expected a default export or an export named 'target' that is a Target {name, workloads, db(), client()}, got exports: something`,
    );
    expect(await rejectionOf(loadTarget(join(folder, 'gone.js')))).toMatch(/^target .*gone\.js: no such file/);
  });
});
