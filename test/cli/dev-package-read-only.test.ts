// `nudge dev` in a folder without a nudge.yaml runs the bundled demo, whose
// nudge.yaml is in Nudge's package — for an `npm -g` install a folder shared
// by every user, replaced by an upgrade, perhaps read-only. Nothing may be
// written there: the demo's master key goes in the folder's .nudge/, beside
// its demo database, and a key an earlier Nudge made in the package is read
// while the folder has none, so the secrets stored with it still decrypt.
//
// The package is a copy of dist/ and examples/ made read-only for the run:
// as root (whom chmod does not stop) by a read-only bind mount in a mount
// namespace of the run's own (unshare), else by chmod. Either way its files
// are compared before and after.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve('.');
const asRoot = process.getuid?.() === 0;

let base: string;
let pkg: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'nudge-read-only-package-'));
  // The embedded server runs as the `postgres` OS user when we are root.
  await chmod(base, 0o755);
  pkg = path.join(base, 'package');
  await mkdir(pkg);
  await cp(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  await cp(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  await cp(path.join(ROOT, 'examples'), path.join(pkg, 'examples'), {
    recursive: true,
    // What nudge dev left in the repository's own demo.
    filter: (source) => path.basename(source) !== '.nudge',
  });
  await symlink(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
});

afterAll(async () => {
  if (!base) return;
  if (!asRoot) await run('chmod', ['-R', 'u+w', pkg]);
  await rm(base, { recursive: true, force: true });
});

function run(
  file: string,
  args: string[],
  options: { cwd?: string; timeout?: number } = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        ...options,
        env: { ...process.env, CI: 'true', NO_COLOR: '1', NUDGE_SECRET_KEY: '' },
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** `nudge dev --once` of the package in `cwd`, with the package read-only. */
async function devWithPackageReadOnly(cwd: string, more: string[] = []) {
  const args = [path.join(pkg, 'dist/cli/main.js'), 'dev', '--once', ...more];
  if (asRoot) {
    const mountReadOnly = 'mount --bind -o ro "$0" "$0" && exec node "$@"';
    return run('unshare', ['--mount', 'sh', '-c', mountReadOnly, pkg, ...args], {
      cwd,
      timeout: 120_000,
    });
  }
  await run('chmod', ['-R', 'a-w', pkg]);
  try {
    return await run('node', args, { cwd, timeout: 120_000 });
  } finally {
    await run('chmod', ['-R', 'u+w', pkg]);
  }
}

/** Every file and folder under `dir` (node_modules, a link, not followed), with its size and time of modification (chmod leaves it). */
async function filesOf(dir: string, under = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(dir, under), { withFileTypes: true })) {
    const name = path.join(under, entry.name);
    const { size, mtimeMs } = await lstat(path.join(dir, name));
    found.push(`${name} ${size} ${mtimeMs}`);
    if (entry.isDirectory()) found.push(...(await filesOf(dir, name)));
  }
  return found;
}

async function folder(name: string): Promise<string> {
  const dir = path.join(base, name);
  await mkdir(dir);
  await chmod(dir, 0o755);
  return dir;
}

describe('nudge dev of the bundled demo, with the package read-only', () => {
  it('keeps its master key in the folder, and writes nothing in the package', async () => {
    const cwd = await folder('first');
    const before = await filesOf(pkg);
    const result = await devWithPackageReadOnly(cwd);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain('the bundled demo project (no nudge.yaml here)');
    expect(await filesOf(pkg)).toEqual(before);
    const key = path.join(cwd, '.nudge', 'secret.key');
    expect(Buffer.from((await readFile(key, 'utf8')).trim(), 'base64')).toHaveLength(32);
    expect((await stat(key)).mode & 0o777).toBe(0o600);
  }, 150_000);

  it('reads the key an earlier Nudge left in the package while the folder has none', async () => {
    const earlier = path.join(pkg, 'examples', 'demo', '.nudge', 'secret.key');
    const old = `${Buffer.alloc(32, 7).toString('base64')}\n`;
    await mkdir(path.dirname(earlier), { mode: 0o700 });
    await writeFile(earlier, old, { mode: 0o600 });
    const cwd = await folder('second');
    const key = path.join(cwd, '.nudge', 'secret.key');
    try {
      const before = await filesOf(pkg);
      const result = await devWithPackageReadOnly(cwd);
      expect(result.code, result.out).toBe(0);
      expect(await filesOf(pkg)).toEqual(before);
      expect(existsSync(key)).toBe(false);
    } finally {
      await rm(path.dirname(earlier), { recursive: true, force: true });
    }
    // Its secrets were stored with the package's key: moved into the folder
    // it opens them (a start checks them all), and another does not.
    await writeFile(key, `${Buffer.alloc(32, 8).toString('base64')}\n`, { mode: 0o600 });
    const other = await devWithPackageReadOnly(cwd);
    expect(other.code, other.out).toBe(1);
    expect(other.out).toContain('wrong master key');
    await writeFile(key, old);
    const moved = await devWithPackageReadOnly(cwd);
    expect(moved.code, moved.out).toBe(0);
    expect(moved.out).toContain('Reusing the Supabase-shaped demo database');
  }, 300_000);

  it('says where it cannot make the key, and what to do', async () => {
    const cwd = await folder('third');
    await writeFile(path.join(cwd, '.nudge'), 'a file in the way\n');
    const result = await devWithPackageReadOnly(cwd, ['--data-dir', path.join(cwd, 'pg')]);
    expect(result.code, result.out).toBe(1);
    expect(result.out).toContain(
      `✗ cannot read or make the master key ${path.join(cwd, '.nudge', 'secret.key')} (`,
    );
    expect(result.out).toContain(`hint: make ${path.join(cwd, '.nudge')} a folder you can write`);
    expect(result.out).not.toContain('unexpected');
  }, 150_000);
});
