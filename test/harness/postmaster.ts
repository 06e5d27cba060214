// A persistent embedded server runs in a process group of its own
// (src/dev/embedded.ts), so killing a test's `nudge` process group leaves it
// running. A test that may end that way stops it here before deleting its
// data directory: otherwise it would keep its port and shared memory.
import { readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

/** Stops the postmaster of `dataDir` if one still runs (fast shutdown), and waits for it to exit. */
export async function stopLeftPostmaster(dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return; // no server: nothing left
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !alive()) return;
  process.kill(pid, 'SIGINT');
  await waitFor(
    () => (alive() ? undefined : true),
    () => `the postmaster ${pid} of ${dataDir} to exit`,
    30_000,
  );
}
