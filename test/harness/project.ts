// A project folder for a test: nudge.yaml and its feature files, written
// under a fresh directory in tmp (paths relative to it; folders made).
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
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
