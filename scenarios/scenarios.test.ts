// Proves every bundled scenario is a valid spec with a fault timeline, names no target (so --target overrides it),
// resolves by bare name, and has its paragraph in scenarios/README.md.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSpec, readSpecFile, resolveSpecPath } from '../src/spec/load.js';

const folder = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(folder).filter((file) => file.endsWith('.yaml')).sort();

describe('bundled scenarios', () => {
  it('include the Target 2019 and S3 2017 scenarios', () => {
    expect(files).toEqual(expect.arrayContaining(['target-2019-flap.yaml', 's3-2017-majority-removal.yaml']));
  });

  for (const file of files) {
    it(`${file}: loads as a timeline spec, overridable to any target`, () => {
      const path = join(folder, file);
      expect(readSpecFile(path).has('target'), 'a scenario must not name a target').toBe(false);
      const spec = loadSpec({ file: path, flags: { seed: '1' } });
      expect(spec.nemesisSchedule).toBe('timeline');
      expect(spec.nemesisTimeline?.length).toBeGreaterThanOrEqual(2);
      expect(spec.target).toBe('raftkv');
      expect(loadSpec({ file: path, flags: { target: 'etcd', seed: '1' } }).target).toBe('etcd');
      // Every fault starts and is healed inside the timeline, within the first 10 s (so short runs show recovery).
      for (const fault of spec.nemesis) {
        const events = spec.nemesisTimeline!.filter((event) => event.fault === fault);
        expect(events.map((event) => event.action)).toEqual(['start', 'stop']);
        expect(Math.max(...events.map((event) => event.atSeconds))).toBeLessThanOrEqual(10);
      }
    });

    it(`${file}: has a paragraph in scenarios/README.md and resolves by bare name`, () => {
      expect(readFileSync(join(folder, 'README.md'), 'utf8')).toContain(`## \`${file}\``);
      expect(resolveSpecPath(file.replace(/\.yaml$/, ''))).toBe(join(folder, file));
    });
  }
});
