// Where the master key is looked for: the project's folder, except for the
// bundled demo, whose nudge.yaml lies in Nudge's package: its key is the
// folder's that nudge dev runs in (dev/demo.ts), so the commands nudge dev
// prints for another terminal (--config <package>/examples/demo/nudge.yaml)
// open the secrets it stored.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import { keySourceOf, masterKey } from '../db/secrets.js';
import { DEMO_CONFIG } from '../dev/demo.js';

let folder = '';
afterEach(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

const project = (file: string | undefined, cwd: string, env: Record<string, string> = {}) =>
  ({ file, cwd, dir: file ? path.dirname(file) : cwd, env }) as unknown as LoadedConfig;

describe('keySourceOf', () => {
  it("gives the bundled demo the key nudge dev made in its folder, not the package's", async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'nudge-key-source-'));
    // The folder's key (as nudge dev makes it there; a key an older Nudge
    // left in the package is read only while the folder has none).
    const made = masterKey({ dir: folder, env: {} });
    expect(keySourceOf(project(DEMO_CONFIG, folder)).dir).toBe(folder);
    expect(masterKey(keySourceOf(project(DEMO_CONFIG, folder)))).toEqual(made);
  });

  it('keeps NUDGE_SECRET_KEY first, and any other project its own folder', async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'nudge-key-source-'));
    const env = { NUDGE_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') };
    expect(keySourceOf(project(DEMO_CONFIG, folder, env))).toEqual({
      dir: path.dirname(DEMO_CONFIG),
      env,
    });
    const own = path.join(folder, 'nudge.yaml');
    expect(keySourceOf(project(own, '/elsewhere')).dir).toBe(folder);
  });

  it('says which key file it cannot read or make, and what to do', async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'nudge-key-source-'));
    await writeFile(path.join(folder, '.nudge'), 'a file in the way\n');
    const file = path.join(folder, '.nudge', 'secret.key');
    let error: unknown;
    try {
      masterKey(keySourceOf(project(path.join(folder, 'nudge.yaml'), folder)));
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({
      message: `cannot read or make the master key ${file} (ENOTDIR)`,
      hint: expect.stringContaining(`make ${path.join(folder, '.nudge')} a folder you can write`),
    });
  });
});
