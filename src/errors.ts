// The error types a user can act on. Each carries a one-line message and an
// optional hint; the CLI prints them without a stack trace unless --debug.

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
export function noDatabaseConfigured(): NudgeError {
  return new NudgeError(
    'no database configured',
    'set database_url in nudge.yaml or the DATABASE_URL environment variable (Supabase: Settings → Database → Connection string; `nudge dev` prints its demo database’s), or run `nudge dev` to try Nudge on an embedded database',
  );
}
