// What the Liquid of a feature's actions reads, checked where the file alone
// cannot say (action-checks.ts says what it can): a `new.<column>` or
// `old.<column>` the trigger's table does not have (or capture never
// copies), checked by check.ts as a condition's field is, and a
// `contact.<field>` that is a typo of a field the contact is known to have.
// Each would render empty on every run.
//
// Contact fields are not a closed set: besides the contact's own fields and
// the attributes nudge.yaml declares, syncs or a feature sets, the API can
// set any attribute. So a contact field is refused only when it is unknown
// and close to a known one (`frist_name` beside `first_name`); declaring it
// in contacts.attributes says it is meant.
import type { VariableSegments } from '../actions/render.js';
import type { FieldRef } from '../conditions/index.js';
import type { LoadedConfig } from '../config/load.js';
import { compileUserMapping } from '../contacts/mapping.js';
import { CONTACT_FIELDS } from '../contacts/sql/read-contacts.js';
import type { ConfigError } from '../errors.js';
import { closest, editDistance } from '../suggest.js';
import type { Feature } from './load.js';
import type { AttributeTypes } from './types.js';

/**
 * The `new.<column>` / `old.<column>` field a Liquid variable reads, as a
 * condition's field would name it (`{{ new.meta.plan }}` reads meta's path
 * plan), for check.ts to check against the trigger's table as it checks
 * the conditions'. A lookup by a variable (`new[key]`) names no column.
 */
export function liquidRowField(segments: VariableSegments): FieldRef | undefined {
  const [scope, column, ...rest] = segments;
  if ((scope !== 'new' && scope !== 'old') || typeof column !== 'string') return undefined;
  const jsonPath: string[] = [];
  let raw = `${scope}.${column}`;
  for (const step of rest) {
    if (typeof step === 'string') raw += `.${step}`;
    else if (typeof step === 'number') raw += `[${step}]`;
    else break;
    jsonPath.push(String(step));
  }
  return { scope, column, jsonPath, text: false, raw };
}

/**
 * Every field a contact is known to have: its own, the attributes
 * nudge.yaml declares, those its connector's user_mapping and table_mapping
 * sync, and those the features' `set` actions set.
 */
export function knownContactFields(
  features: Feature[],
  attributes: AttributeTypes,
  supabase: LoadedConfig['supabase'],
): Set<string> {
  const known = new Set([...CONTACT_FIELDS, ...Object.keys(attributes)]);
  for (const field of compileUserMapping(supabase?.user_mapping).fields) known.add(field.target);
  for (const entry of Object.values(supabase?.table_mapping ?? {})) {
    if (entry.sync_as === 'events') continue;
    const { sync_as: _, event_name: _name, properties: _p, contact: _c, ...pairs } = entry;
    for (const target of Object.values(pairs)) if (typeof target === 'string') known.add(target);
  }
  for (const feature of features) {
    for (const stage of feature.machine.stages.values())
      for (const action of stage.actions)
        if (action.kind === 'set') for (const name of Object.keys(action.params)) known.add(name);
  }
  return known;
}

/** Each `contact.<field>` the feature's actions read that is unknown and a near miss of a known one. */
export function contactVariableErrors(feature: Feature, known: Set<string>): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const { at, segments } of feature.variables) {
    const [root, name] = segments;
    if (root !== 'contact' || typeof name !== 'string' || known.has(name)) continue;
    const meant = nearMiss(name, known);
    if (!meant) continue;
    errors.push(
      feature.source.error(
        at,
        `contact.${name} is not a field of the contact, nor an attribute nudge.yaml declares or syncs, or a feature sets (did you mean "${meant}"?)`,
        {
          hint: `if it is set another way (the API), declare it in nudge.yaml: contacts: { attributes: { ${name}: text } }`,
        },
      ),
    );
  }
  return errors;
}

/**
 * The known name `name` is a typo of, if it is plainly one: at most one edit
 * in four letters (`frist_name`, `first_nme`, `emial`: two neighbours swapped
 * are one edit). Short names are not guessed at: `tz` is not a typo of `id`.
 */
function nearMiss(name: string, known: Iterable<string>): string | undefined {
  const meant = closest(name, known);
  if (meant === undefined) return undefined;
  return editDistance(name, meant) * 4 <= Math.max(name.length, meant.length) ? meant : undefined;
}
