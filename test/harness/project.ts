// A project folder for a test: nudge.yaml and its feature files, written
// under a fresh directory in tmp (paths relative to it; folders made).
import { chmod, cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
