// A copy of the demo project (examples/demo) for CLI tests that predate the
// demo's live sync and its later templates: those tests count the demo's
// features and captures, so they take the four features and no connector
// block, and stay independent of what `npm start` shows next.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const DEMO = path.resolve('examples/demo');
const FIRST_FEATURES = ['heartbeat', 'inactivity', 'order-paid', 'welcome-drip'];

/** Copies the demo into `dir` (or a new temporary folder) without its connectors block; `firstFeatures` keeps only the original four. */
export async function copyDemo(
  options: { dir?: string; prefix?: string; firstFeatures?: boolean } = {},
): Promise<string> {
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), options.prefix ?? 'nudge-demo-')));
  await cp(DEMO, dir, { recursive: true });
  const file = path.join(dir, 'nudge.yaml');
  const yaml = await readFile(file, 'utf8');
  const without = yaml.replace(/^connectors:\n(?:[ \t]+.*\n)*/m, '');
  if (without === yaml)
    throw new Error('examples/demo/nudge.yaml has no connectors block to leave out');
  await writeFile(file, without);
  if (options.firstFeatures) {
    const features = path.join(dir, 'nudge/features');
    for (const name of await readdir(features))
      if (!FIRST_FEATURES.includes(name.replace(/\.yaml$/, '')))
        await rm(path.join(features, name));
  }
  return dir;
}
