// The error types a user can act on. Each carries a one-line message and an
// optional hint; the CLI prints them without a stack trace unless --debug.

import type { LoadedConfig } from './config/load.js';

export class NudgeError extends Error {
  override name = 'NudgeError';
  constructor(
    message: string,
    readonly hint?: string,
    /** Process exit code the CLI uses for this error. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** An error as one line, its hint in parentheses: for an HTTP answer or a stored state, where the CLI would print two. */
export function messageWithHint(error: { message: string; hint?: string | undefined }): string {
  return `${error.message}${error.hint ? ` (${error.hint})` : ''}`;
}

/**
 * A value on the command line the command cannot take (`--since 2x`, `clock
 * advance -1d`, `keys create ""`): exit 2, as commander's own refusals of an
 * option or argument, and a ConfigError, exit.
 */
export class UsageError extends NudgeError {
  override name = 'UsageError';
  constructor(message: string, hint?: string) {
    super(message, hint, 2);
  }
}

export interface Place {
  file: string;
  line: number;
  column: number;
}

/** A problem in a file the user wrote: nudge.yaml or a feature file. */
export class ConfigError extends NudgeError {
  override name = 'ConfigError';
  constructor(
    readonly place: Place | { file: string; line?: undefined; column?: undefined },
    /** Dotted path of the offending field, e.g. `connectors.supabase.sync.tables[1]`. */
    readonly field: string,
    readonly problem: string,
    hint?: string,
  ) {
    const where = place.line ? `${place.file}:${place.line}:${place.column}` : place.file;
    super(`${where} ${field ? `${field}: ` : ''}${problem}`, hint, 2);
  }
}

/** Several problems found in one pass, reported together. */
export class ConfigErrors extends NudgeError {
  override name = 'ConfigErrors';
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.message).join('\n'), errors.find((e) => e.hint)?.hint, 2);
  }
}

/** Throws the collected errors, if any. */
export function throwIfAny(errors: ConfigError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new ConfigErrors(errors);
}

/** Throws the errors, if any, sorted by file, line and column, each message once. */
export function throwInFileOrder(errors: ConfigError[]): void {
  const seen = new Set<string>();
  const once = errors.filter((error) => !seen.has(error.message) && seen.add(error.message));
  throwIfAny(
    once.sort(
      (a, b) =>
        (a.place.file < b.place.file ? -1 : a.place.file > b.place.file ? 1 : 0) ||
        (a.place.line ?? 0) - (b.place.line ?? 0) ||
        (a.place.column ?? 0) - (b.place.column ?? 0),
    ),
  );
}

/** A problem talking to the user's database, with its SQLSTATE and what to do. */
export class SourceError extends NudgeError {
  override name = 'SourceError';
  constructor(
    message: string,
    readonly sqlstate?: string,
    hint?: string,
  ) {
    super(sqlstate ? `${message} (SQLSTATE ${sqlstate})` : message, hint);
  }
}

/** No URL for the source database: the one error every command gives for it. */
export class NoDatabaseError extends NudgeError {
  override name = 'NoDatabaseError';
}

/**
 * What a command that needs the source database's URL says when there is
 * none. `database_url: ${VAR}` with VAR unset (as `nudge init` writes it):
 * the error naming the variable at its line, which says to set it; else
 * NoDatabaseError, which says to set a URL or use the demo database of a
 * `nudge dev`. Either names exactly the URL to export when a `nudge dev` is
 * found running (`running`: its URL, and `devDir` where its data is).
 */
export function noDatabaseConfigured(
  project?: Pick<LoadedConfig, 'databaseUrlUnset'>,
  running?: { devUrl: string; devDir: string },
): NudgeError {
  const unset = project?.databaseUrlUnset;
  const exportIt = (variable: string) =>
    running &&
    `nudge dev's demo database is running in ${running.devDir}: to use it, export ${variable}="${running.devUrl}" (as nudge dev printed for another terminal) and run this again`;
  if (unset) {
    const hint = exportIt(unset.variable);
    if (!hint) return unset.error;
    const { place, field, problem } = unset.error;
    return new ConfigError(place, field, problem, hint);
  }
  const hint = exportIt('DATABASE_URL');
  return new NoDatabaseError(
    'no database configured',
    hint
      ? `${hint}; or set database_url in nudge.yaml`
      : 'set database_url in nudge.yaml or export DATABASE_URL (Supabase: Settings → Database → Connection string); with `nudge dev` running, export the DATABASE_URL it printed for another terminal; or run `nudge dev` to try Nudge on an embedded database',
  );
}

/** The HTTP server's port is another process's: what `nudge start` says, before any work starts. */
export function portInUse(port: number, host: string): NudgeError {
  return new NudgeError(
    `port ${port} on ${host} is in use: another process (another nudge start?) listens there`,
    'stop it, or choose another port with --port or server.port in nudge.yaml',
  );
}
