// A project folder for a test: nudge.yaml and its feature files, written
// under a fresh directory in tmp (paths relative to it; folders made).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A new folder holding `files` (e.g. `nudge.yaml`, `nudge/features/seen.yaml`); its path. */
export async function tempProject(
  files: Record<string, string>,
  prefix = 'nudge-',
): Promise<string> {
  const cwd = await mkdtemp(path.join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(cwd, name)), { recursive: true });
    await writeFile(path.join(cwd, name), text);
  }
  return cwd;
}
