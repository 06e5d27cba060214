// Nudge as a package: `npm pack` makes a tarball holding the built dashboard,
// and in an empty folder, installing that tarball and running `nudge dev`
// works as `npm start` does — embedded PostgreSQL, the demo, the engine and
// the dashboard answering its one-click link. Slow (npm installs every
// dependency, from its cache when it can), so it is one test.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait.js';

const exec = promisify(execFile);
const ROOT = path.resolve('.');
const dirs: string[] = [];
let dev: ChildProcess | undefined;

afterAll(async () => {
  if (dev && dev.exitCode === null) dev.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  // The embedded server runs as the `postgres` OS user when we are root.
  await chmod(dir, 0o755);
  dirs.push(dir);
  return dir;
}

describe('the npm package', () => {
  it('packs the built dashboard, installs in an empty folder, and runs nudge dev', async () => {
    const out = await tempDir('nudge-pack-');
    // --ignore-scripts: `npm test` has just built dist/ (prepare would build again).
    const packed = await exec(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', out],
      {
        cwd: ROOT,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/web/index.html');
    expect(files.some((f) => /^dist\/web\/assets\/.+\.js$/.test(f))).toBe(true);
    expect(files).toContain('examples/demo/nudge/features/welcome-drip.yaml');
    expect(files).toContain('examples/demo/nudge/features/abandoned-cart.yaml');
    expect(files).toContain('dist/dev/demo.sql');
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([]);

    const app = await tempDir('nudge-installed-');
    await writeFile(path.join(app, 'package.json'), '{ "name": "my-app", "private": true }\n');
    await exec(
      'npm',
      ['install', '--no-fund', '--no-audit', '--prefer-offline', path.join(out, info!.filename)],
      { cwd: app, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(await readdir(path.join(app, 'node_modules/.bin'))).toContain('nudge');

    let output = '';
    dev = spawn(
      path.join(app, 'node_modules/.bin/nudge'),
      ['dev', '--data-dir', path.join(app, 'pg')],
      {
        cwd: app,
        env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      },
    );
    dev.stdout!.on('data', (chunk) => {
      output += chunk;
    });
    dev.stderr!.on('data', (chunk) => {
      output += chunk;
    });
    const link = await waitFor(
      () => /Dashboard: (http:\/\/\S+)/.exec(output)?.[1],
      () => `the dashboard link in:\n${output}`,
      120_000,
    );
    await waitFor(
      () => (output.includes('Watching') ? true : undefined),
      () => `the demo to play out:\n${output}`,
      120_000,
    );
    expect(output).toMatch(/✓ Deployed \(deployment #1: \d+ created/);
    expect(output).toContain('→ welcome-drip: 2 emails sent');
    expect(output).toMatch(/→ upload-thumbnails: webhook dead after 3 attempts/);
    expect(output).toContain('→ trial-ending: email sent');

    // The link signs the browser in (a session cookie) and serves the app.
    const signIn = await fetch(link, { redirect: 'manual' });
    const cookie = signIn.headers.get('set-cookie')?.split(';')[0];
    expect(cookie, `no session cookie from ${link}`).toBeTruthy();
    const page = await fetch(new URL('/', link), { headers: { cookie: cookie! } });
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /<script[^>]+src="([^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeTruthy();
    const asset = await fetch(new URL(script!, link), { headers: { cookie: cookie! } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const overview = await fetch(new URL('/v1/overview', link), { headers: { cookie: cookie! } });
    expect(overview.status, `${signIn.headers.get('set-cookie')} → ${await overview.text()}`).toBe(
      200,
    );

    const exited = new Promise<number | null>((resolve) => dev!.once('exit', resolve));
    dev.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 600_000);
});
