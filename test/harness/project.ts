// A project folder for a test: nudge.yaml and its feature files, written
// under a fresh directory in tmp (paths relative to it; folders made).
import { chmod, cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';

/** A new folder holding `files` (e.g. `nudge.yaml`, `nudge/features/seen.yaml`); its path. */
export async function tempProject(
  files: Record<string, string>,
  prefix = 'nudge-',
  options: {
    /** Open the new folder to other users (0755): an embedded server may run as another user than root. */
    worldReadable?: boolean;
  } = {},
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), prefix));
  if (options.worldReadable) await chmod(cwd, 0o755);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(cwd, name)), { recursive: true });
    await writeFile(path.join(cwd, name), text);
  }
  return cwd;
}

/**
 * A project folder for `nudge start`: nudge.yaml and nudge/features/<name>.yaml
 * written in a new temporary directory, the features' capture deployed into
 * the database at `url`. Returns the folder (the caller removes it).
 */
export async function deployedProject(
  sql: postgres.Sql,
  url: string,
  prefix: string,
  yaml: string,
  features: Record<string, string>,
): Promise<string> {
  const { deploy } = await import('../../src/capture/deploy.js');
  const { buildCaptureObjects } = await import('../../src/capture/triggers.js');
  const { loadConfig } = await import('../../src/config/load.js');
  const { checkFeatures } = await import('../../src/features/check.js');
  const { loadFeatures } = await import('../../src/features/load.js');
  const { readCatalog } = await import('../../src/source/catalog.js');
  const files = Object.entries(features).map(([name, text]) => [
    `nudge/features/${name}.yaml`,
    text,
  ]);
  const cwd = await tempProject({ 'nudge.yaml': yaml, ...Object.fromEntries(files) }, prefix);
  // nudge/features even when there is no feature.
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  const project = await loadConfig({ cwd, env: { DATABASE_URL: url } });
  const loaded = await loadFeatures(project.featuresDir, project.env, cwd);
  await deploy(sql, buildCaptureObjects(checkFeatures(loaded, await readCatalog(sql))));
  return cwd;
}

/** A copy of the project in `cwd` whose nudge.yaml says `access: read-only` instead of read-write; its path. */
export async function readOnlyCopy(cwd: string, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await cp(cwd, dir, { recursive: true });
  const file = path.join(dir, 'nudge.yaml');
  const text = await readFile(file, 'utf8');
  if (!/^access: read-write$/m.test(text))
    throw new Error(`${file} has no "access: read-write" line`);
  await writeFile(file, text.replace(/^access: read-write$/m, 'access: read-only'));
  return dir;
}

/** `nudge plan` in `cwd` against `url`: its exit code and the lines it marks ✗. */
export async function planProblems(
  cwd: string,
  url: string,
): Promise<{ code: number; problems: string[] }> {
  const { memoryIo } = await import('../../src/cli/io.js');
  const { run } = await import('../../src/cli/program.js');
  const m = memoryIo({ cwd, env: { DATABASE_URL: url } });
  const code = await run(['plan'], m.io);
  return {
    code,
    problems: m
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('✗')),
  };
}
