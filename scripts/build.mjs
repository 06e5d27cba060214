// `npm run build` (and `npm start`'s prestart): compiles src/ into dist/ with
// tsc, copies the SQL and template assets, and builds the dashboard (web/)
// into dist/web with Vite — each part only when its inputs changed.
//
// Never a stale build: each part writes, after it succeeded, a digest of the
// content and paths of every file it was built from (dist/.build-inputs,
// dist/web/.build-inputs); the next run rebuilds that part unless the digest
// of the files now on disk is the same and the outputs are there. The digest
// is removed before a part builds, so a failed or interrupted build is never
// taken for a finished one. Content, not modification times: a checkout, a
// copy or a clock change cannot fool it. `--force` rebuilds everything.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const force = process.argv.includes('--force');
const quiet = process.argv.includes('--quiet');

/** Every file under `dir` (sorted, relative to the repository) that `keep` accepts. */
function files(dir, keep = () => true) {
  if (!existsSync(dir)) return [];
  const found = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) found.push(...files(full, keep));
    else if (keep(full)) found.push(full);
  }
  return found;
}

function digest(list) {
  const hash = createHash('sha256');
  for (const file of list) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function run(what, command, args) {
  if (!quiet) process.stderr.write(`build: ${what}\n`);
  const bin = path.join('node_modules', '.bin', command);
  const result = spawnSync(existsSync(bin) ? bin : command, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** Builds one part unless its inputs are those of the last finished build. */
function part({ name, inputs, stamp, outputs, build }) {
  const current = digest(inputs);
  const done = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (!force && done === current && outputs.every((o) => existsSync(o))) return false;
  rmSync(stamp, { force: true });
  build();
  writeFileSync(stamp, `${current}\n`);
  if (!quiet) process.stderr.write(`build: ${name} done\n`);
  return true;
}

const SHARED = ['package-lock.json', 'tsconfig.json'].filter((f) => existsSync(f));
const notATest = (file) => !/\.test\.ts$|\.arbitraries\.ts$/.test(file);

part({
  name: 'server (dist/)',
  inputs: [...SHARED, 'tsconfig.build.json', ...files('src', notATest)],
  stamp: 'dist/.build-inputs',
  outputs: ['dist/cli/main.js'],
  build() {
    run('compiling src/ (tsc)', 'tsc', ['-p', 'tsconfig.build.json']);
    run('copying SQL and templates', process.execPath, ['scripts/copy-assets.mjs']);
  },
});

// The dashboard imports the project only through src/client (its one
// contract with the server); should it import anything else from src/, all
// of src/ counts as its input.
const webSources = files('web', (f) => !f.includes(`${path.sep}node_modules${path.sep}`));
const reachesPastClient = webSources.some((file) =>
  /from '(\.\.\/)+src\/(?!client\/)/.test(readFileSync(file, 'utf8')),
);
part({
  name: 'dashboard (dist/web)',
  inputs: [...SHARED, ...webSources, ...files(reachesPastClient ? 'src' : 'src/client', notATest)],
  stamp: 'dist/web/.build-inputs',
  outputs: ['dist/web/index.html'],
  build() {
    run('building the dashboard (vite)', 'vite', ['build', '--config', 'web/vite.config.ts']);
  },
});
