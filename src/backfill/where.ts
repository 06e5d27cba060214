// `nudge backfill --where`: the condition language on the command line, in
// PostgREST's query-string form — `plan=eq.pro&created_at=lt.2024-01-01`,
// `or=(new.plan.eq.pro,new.plan.eq.team)` — or as a YAML/JSON mapping like a
// feature file's (`{ new.plan: eq.pro }`). Fields are the trigger table's
// columns; a bare name means `new.<name>`.
import { parse as parseYaml } from 'yaml';
import { type Condition, ConditionError, parseCondition } from '../conditions/index.js';
import { type NudgeError, UsageError } from '../errors.js';

const SCOPES = ['new'] as const;
const GROUPS = new Set(['and', 'or', 'not.and', 'not.or', 'not']);

/** The --where text as a condition on `new.*`; a clear error naming --where when it is wrong. */
export function parseWhere(text: string): Condition {
  const trimmed = text.trim();
  if (trimmed === '') throw whereError('it is empty');
  let mapping: Record<string, unknown>;
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = parseYaml(trimmed);
    } catch (error) {
      throw whereError(`not a valid mapping: ${(error as Error).message.split('\n')[0]}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw whereError('expected a mapping like { new.plan: eq.pro }');
    }
    mapping = value as Record<string, unknown>;
  } else {
    mapping = {};
    for (const part of trimmed.split('&')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw whereError(`expected name=operator.value, got "${part}"`);
      const key = part.slice(0, eq).trim();
      const value = part.slice(eq + 1).trim();
      const field = GROUPS.has(key) || key.includes('.') ? key : `new.${key}`;
      if (Object.hasOwn(mapping, field)) throw whereError(`"${key}" is given twice`);
      mapping[field] = value;
    }
  }
  try {
    return parseCondition(mapping, { scopes: SCOPES });
  } catch (error) {
    if (error instanceof ConditionError) {
      const at = error.path.length ? `${error.path.join('.')}: ` : '';
      throw whereError(`${at}${error.message}`);
    }
    throw error;
  }
}

function whereError(problem: string): NudgeError {
  return new UsageError(
    `--where: ${problem}`,
    'e.g. --where "plan=eq.pro&created_at=lt.2024-01-01" or --where "{ new.plan: eq.pro }"',
  );
}
