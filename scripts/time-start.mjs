// Measures `npm start` as a newcomer meets it: from the command to the
// dashboard answering its printed link, twice — cold (a new embedded
// database: initdb, the demo app, the first deploy) and warm (the same
// database again) — then stops it with Ctrl-C (SIGINT) and checks it exits 0.
//
//   node scripts/time-start.mjs            # in the repository, after npm install
//
// Each run uses its own data directory under the system's temp folder and
// leaves nothing running.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';

const parent = mkdtempSync(path.join(tmpdir(), 'nudge-time-start-'));
// Run as root, the embedded server runs as the `postgres` OS user, which must reach it.
chmodSync(parent, 0o755);
const dataDir = path.join(parent, 'pg');

function once(label) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('npm', ['start', '--', '--data-dir', dataDir], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that Ctrl-C can be sent as a terminal sends it: to all of it.
      detached: true,
    });
    let output = '';
    let answered;
    let polling = false;
    const onData = async (chunk) => {
      output += chunk;
      const link = /Dashboard: (http:\/\/\S+)/.exec(output)?.[1];
      if (!link || polling || answered !== undefined) return;
      polling = true;
      while (answered === undefined) {
        const response = await fetch(link, { redirect: 'manual' }).catch(() => undefined);
        if (response && response.status < 500) answered = (performance.now() - started) / 1000;
        else await new Promise((r) => setTimeout(r, 20));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setInterval(() => {
      if (answered !== undefined && /Watching/.test(output)) {
        clearInterval(timer);
        const storyDone = (performance.now() - started) / 1000;
        process.kill(-child.pid, 'SIGINT');
        const kill = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 30_000);
        child.once('exit', () => clearTimeout(kill));
        child.once('exit', async () => {
          // Stopped cleanly: nudge said so, and the embedded server is down (its pid file gone).
          const pidFile = path.join(dataDir, 'postmaster.pid');
          for (let i = 0; i < 200 && existsSync(pidFile); i++)
            await new Promise((r) => setTimeout(r, 50));
          const stopped = /Stopping\./.test(output) && !existsSync(pidFile);
          const ready = /Ready in (\d+\.\d) s/.exec(output)?.[1];
          const build = /build: compiling/.test(output) ? ' (the build check rebuilt dist/)' : '';
          resolve({ label, answered, storyDone, ready, stopped, build });
        });
      }
    }, 50);
    child.once('exit', (code) => {
      if (answered === undefined || !/Watching/.test(output)) {
        clearInterval(timer);
        reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`));
      }
    });
  });
}

console.log(
  `${cpus().length} cores, load average ${loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')} at the start`,
);
try {
  for (const run of [await once('cold'), await once('warm')]) {
    console.log(
      `${run.label}: npm start → dashboard answering ${run.answered.toFixed(1)} s${run.build}; ` +
        `story played by ${run.storyDone.toFixed(1)} s; nudge dev's own "Ready in" ${run.ready} s; ` +
        `Ctrl-C: ${run.stopped ? 'stopped cleanly' : 'did NOT stop cleanly'}`,
    );
  }
} finally {
  rmSync(parent, { recursive: true, force: true });
}
