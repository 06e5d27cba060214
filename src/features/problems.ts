// Every problem of the feature files in one round: what loading finds in the
// files and what the live database finds in whatever of them could be read,
// listed together in file and line order, each once.

import { type ConfigError, throwInFileOrder } from '../errors.js';
import type { Feature } from './load.js';

/** What reading the feature files found (load.ts). */
export interface FeatureFiles {
  /** The features whose files have no problem: the ones to run. */
  features: Feature[];
  /**
   * What could be read of the files that have problems: checked against the
   * database as well, so that its problems show in the same round; never run.
   */
  incomplete: Feature[];
  errors: ConfigError[];
}

/**
 * Runs `check` (the live-database checks that plan, doctor and the engine's
 * start share) and returns what it returns. When the files have problems,
 * `check` still runs over what could be read of every file, and what it
 * finds is thrown with the files' problems: one list, in file and line order.
 */
export async function checkFeatureFiles<T>(
  files: FeatureFiles,
  check: (features: Feature[]) => Promise<T>,
): Promise<T> {
  if (files.errors.length === 0) return check(files.features);
  const found = [...files.errors];
  try {
    await check([...files.features, ...files.incomplete]);
  } catch (error) {
    // Anything else (the database went away) leaves the files' problems, found first, to say.
    found.push(...(configErrorsIn(error) ?? []));
  }
  throwInFileOrder(found);
  throw new Error('unreachable: the files have problems');
}

/** The located errors a ConfigError or ConfigErrors holds, or undefined for any other error. */
export function configErrorsIn(error: unknown): ConfigError[] | undefined {
  const list = (error as { errors?: unknown[] } | undefined)?.errors ?? [error];
  return list.every((e) => e instanceof Error && 'place' in e)
    ? (list as ConfigError[])
    : undefined;
}
