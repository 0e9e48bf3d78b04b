// `faultline images build [--force]`: builds the base, raftkv and etcd images with no registry (docker/builder.ts).
import type { Command } from 'commander';
import { UserError } from '../errors.js';

const IMAGE_CHOICES = ['base', 'raftkv', 'etcd'] as const;
type ImageChoice = (typeof IMAGE_CHOICES)[number];

function parseImages(list: string | undefined): ImageChoice[] | undefined {
  if (list === undefined) return undefined;
  const names = list.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!(IMAGE_CHOICES as readonly string[]).includes(name)) {
      throw new UserError(`--only: expected a comma-separated list of ${IMAGE_CHOICES.join(', ')}, got '${name}'`);
    }
  }
  return names as ImageChoice[];
}

export function register(program: Command): void {
  const images = program.command('images').description('build and list the container images the docker backend runs');
  images
    .command('build')
    .description('build the base, raftkv and etcd images offline (debootstrap + docker import), cached by content')
    .option('--force', 'rebuild even when an image with the same inputs exists')
    .option('--only <names>', `comma-separated subset of ${IMAGE_CHOICES.join(', ')}`)
    .option('--cache-dir <dir>', 'where the debootstrap root filesystems are kept (default ~/.cache/faultline/images)')
    .action(async (options: { force?: boolean; only?: string; cacheDir?: string }) => {
      const { buildImages } = await import('../../docker/builder.js');
      const started = Date.now();
      const built = await buildImages({
        force: options.force === true,
        images: parseImages(options.only),
        cacheDir: options.cacheDir,
        log: (line) => process.stdout.write(`images: ${line}\n`),
      });
      for (const image of built) {
        const how = image.cached ? 'cached' : `built in ${(image.durationMs / 1000).toFixed(1)} s`;
        process.stdout.write(`${image.reference} (${image.name}, tagged latest): ${how}\n`);
      }
      process.stdout.write(`images ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  images
    .command('list')
    .description('list the faultline images present in the Docker engine')
    .action(async () => {
      const { default: Docker } = await import('dockerode');
      const docker = new Docker();
      try {
        await docker.ping();
      } catch (error) {
        throw new UserError(`images: no Docker engine answers (${(error as Error).message}); run scripts/setup-docker.sh as root`);
      }
      const found = await docker.listImages({ filters: JSON.stringify({ label: ['faultline.image'] }) });
      if (found.length === 0) process.stdout.write('no faultline images; run `faultline images build`\n');
      for (const image of found) {
        const sizeMiB = (image.Size / 1024 / 1024).toFixed(0);
        process.stdout.write(`${(image.RepoTags ?? ['<untagged>']).join(' ')}  ${sizeMiB} MiB\n`);
      }
    });
}
