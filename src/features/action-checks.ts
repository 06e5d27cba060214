// What an action's parameters would fail with on every run, found in the
// feature file: Liquid that does not parse (by the renderer's own parse,
// actions/render.ts, so plan and run time agree), a variable the renderer
// does not give or an enrichment the feature does not make (either renders
// empty), a webhook URL that is not one, a recipient that is neither an
// address nor a field that holds one, an Edge Function name that is not
// one. Read from the file as written, so that another problem of the file
// (even one off the schema) hides none of these.
import { httpUrl } from '../actions/http.js';
import { isEmailAddress, isFunctionName } from '../actions/params.js';
import {
  liquidFilterNames,
  PARAM_VARIABLES,
  textVariables,
  type VariableSegments,
} from '../actions/render.js';
import type { FieldPath } from '../config/yaml.js';
import { didYouMean } from '../suggest.js';
import { valueAtPath } from '../zod-words.js';
import { OVERRIDABLE } from './experiment.js';
import { type ActionKind, actionSchemas, recipientText } from './schema.js';

export interface ParamProblem {
  at: FieldPath;
  problem: string;
  hint?: string;
}

/** Action kinds whose parameters are not rendered: the journey takes them as they are. */
const NOT_RENDERED: ActionKind[] = ['goto', 'exit'];

/** `{{` or `{%`: where a string stops being what it says and becomes what it renders to. */
const LIQUID = /\{[{%]/;

/**
 * Every action of the feature file `value` (stages[i].do[j]) and every
 * variant's replacement parameters (stages[i].split[k].with), checked;
 * `variables`, what actionVariables gives for `value`, when it is at hand.
 */
export function actionProblems(
  value: unknown,
  variables: VariableUse[] = actionVariables(value),
): ParamProblem[] {
  const problems: ParamProblem[] = [];
  for (const { kind, params, at } of actionsIn(value))
    problems.push(...paramProblems(kind, params, at));
  problems.push(...variableProblems(value, variables));
  return problems;
}

/** The actions of a feature file as written, and the parameters its variants replace, with where each kind's key is. */
function actionsIn(value: unknown): { kind: string; params: unknown; at: FieldPath }[] {
  const found: { kind: string; params: unknown; at: FieldPath }[] = [];
  const stages = valueAtPath(value, ['stages']);
  if (!Array.isArray(stages)) return found;
  stages.forEach((stage, i) => {
    const actions = valueAtPath(stage, ['do']);
    if (Array.isArray(actions)) {
      actions.forEach((action, j) => {
        if (!isMapping(action) || Object.keys(action).length !== 1) return;
        const [kind, params] = Object.entries(action)[0]!;
        found.push({ kind, params, at: ['stages', i, 'do', j, kind] });
      });
    }
    const variants = valueAtPath(stage, ['split']);
    if (Array.isArray(variants)) {
      variants.forEach((variant, k) => {
        const replaced = valueAtPath(variant, ['with']);
        if (!isMapping(replaced)) return;
        // A kind a variant may not change is said on its own (experiment.ts).
        for (const [kind, params] of Object.entries(replaced))
          if ((OVERRIDABLE as readonly string[]).includes(kind))
            found.push({ kind, params, at: ['stages', i, 'split', k, 'with', kind] });
      });
    }
  });
  return found;
}

/** A variable a string of an action reads, and where that string is written. */
export interface VariableUse {
  at: FieldPath;
  /** As textVariables gives it: `{{ new.email }}` is ['new', 'email']. */
  segments: VariableSegments;
}

/**
 * Every variable the rendered strings of the file's actions read (a
 * recipient written bare, `to: new.email`, as the Liquid it stands for;
 * a string that does not parse, reported on its own, reads none).
 */
export function actionVariables(value: unknown): VariableUse[] {
  const uses: VariableUse[] = [];
  for (const { kind, params, at } of actionsIn(value)) {
    if (!(kind in actionSchemas) || NOT_RENDERED.includes(kind as ActionKind)) continue;
    for (const [path, written] of stringsIn(params, [])) {
      if (kind === 'email' && path[0] === 'template') continue;
      const text =
        kind === 'email' && path.length === 1 && path[0] === 'to'
          ? recipientText(written)
          : written;
      let read: VariableSegments[];
      try {
        read = textVariables(text);
      } catch {
        continue;
      }
      for (const segments of read) uses.push({ at: [...at, ...path], segments });
    }
  }
  return uses;
}

/**
 * Variables that always render empty: one the renderer does not give
 * (`{{ neww.id }}`, `{{ contct.email }}`), and `enrichment.<name>` when the
 * feature has no enrichment of that name (none at all once `enrich:` is
 * removed). Each said once per field.
 */
function variableProblems(value: unknown, variables: VariableUse[]): ParamProblem[] {
  const problems = new Map<string, ParamProblem>();
  const add = (at: FieldPath, problem: string, hint?: string) =>
    problems.set(`${at.join('.')}\n${problem}`, { at, problem, ...(hint ? { hint } : {}) });
  const enrich = valueAtPath(value, ['enrich']);
  // An enrich off the schema (not a mapping) is said on its own; its names are not known.
  const enrichments = enrich === undefined ? [] : isMapping(enrich) ? Object.keys(enrich) : null;
  for (const { at, segments } of variables) {
    const [root, name] = segments;
    if (typeof root !== 'string') continue;
    if (!PARAM_VARIABLES.includes(root)) {
      add(
        at,
        `unknown variable "${root}"${didYouMean(root, PARAM_VARIABLES)}; expected one of ${PARAM_VARIABLES.join(', ')}`,
      );
    } else if (root === 'enrichment' && typeof name === 'string' && enrichments) {
      if (enrichments.length === 0) {
        add(
          at,
          `enrichment.${name} is always empty: this feature has no enrich`,
          `add enrich: { ${name}: { table: public.<table>, match: { id: new.<column> } } }, or remove the variable`,
        );
      } else if (!enrichments.includes(name)) {
        add(
          at,
          `no enrichment "${name}" in this feature's enrich${didYouMean(name, enrichments)} (enrich: ${enrichments.join(', ')})`,
        );
      }
    }
  }
  return [...problems.values()];
}

/** The problems of one action's parameters (`at`: where the kind's key is). */
function paramProblems(kind: string, params: unknown, at: FieldPath): ParamProblem[] {
  if (!(kind in actionSchemas) || NOT_RENDERED.includes(kind as ActionKind)) return [];
  const problems: ParamProblem[] = [];
  for (const [path, text] of stringsIn(params, [])) {
    // The template check says what is wrong with a template's name.
    if (kind === 'email' && path[0] === 'template') continue;
    const problem = liquidProblem(text);
    if (problem) problems.push({ at: [...at, ...path], ...problem });
  }
  const param = (name: string) => {
    const text = valueAtPath(params, [name]);
    return typeof text === 'string' && !LIQUID.test(text) ? text.trim() : undefined;
  };
  const url = valueAtPath(params, ['url']);
  if (kind === 'webhook' && typeof url === 'string' && !liquidProblem(url)) {
    const problem = urlProblem(url);
    if (problem) problems.push({ at: [...at, 'url'], problem });
  }
  const to = param('to');
  // A field written bare (to: contact.email) is the address it holds: recipientText reads it as Liquid.
  if (kind === 'email' && to && !isEmailAddress(to) && recipientText(to) === to) {
    problems.push({
      at: [...at, 'to'],
      problem: `"${to}" is not an email address`,
      hint: 'write an address, or the field that holds one: to: contact.email (or new.<column>, or Liquid such as "{{ new.email | downcase }}")',
    });
  }
  const from = param('from');
  if (kind === 'email' && from && !isEmailAddress(from)) {
    problems.push({
      at: [...at, 'from'],
      problem: `"${from}" is not a sender address`,
      hint: 'write an address your provider lets you send from, alone or as "Acme <hello@acme.com>"',
    });
  }
  const name = param('name');
  if (kind === 'function' && name !== undefined && !isFunctionName(name)) {
    problems.push({
      at: [...at, 'name'],
      problem: `"${name}" is not an Edge Function name (letters, digits, - and _)`,
    });
  }
  return problems;
}

/** What rendering `text` would throw for its syntax, in the renderer's words. */
function liquidProblem(text: string): { problem: string; hint?: string } | undefined {
  try {
    textVariables(text);
    return undefined;
  } catch (error) {
    const message = inText(text, (error as Error).message);
    const filter = /^undefined filter: ([\w-]+)/.exec(message)?.[1];
    if (filter) {
      const [what, where] = message.split(/(?= \(line \d+ of the text\)$)/);
      return { problem: `${what}${didYouMean(filter, liquidFilterNames())}${where ?? ''}` };
    }
    const partial = /Failed to lookup "([^"]*)"/.exec(message)?.[1];
    if (partial !== undefined) {
      return {
        problem: `no template "${partial}" to render or include: an action's parameters have none`,
        hint: 'put the shared text in the email template, which can render or include others',
      };
    }
    return { problem: message };
  }
}

const URL_EXPECTED = 'expected an absolute http(s) URL such as https://example.com/hooks';

/**
 * Whether `url` can render to an absolute http(s) URL. Without Liquid (a
 * `${ENV}` already in place) it is checked whole, as the webhook checks it
 * at run time. With Liquid, only the text before the first tag is known: it
 * must begin http:// or https:// (or be empty: the tag may give the whole
 * URL), and when it holds the whole host, that must be a URL. The value is
 * never echoed (a URL may carry a token).
 */
export function urlProblem(url: string): string | undefined {
  const liquid = url.search(LIQUID);
  if (liquid === -1) {
    try {
      httpUrl(url, 'url');
      return undefined;
    } catch {
      return URL_EXPECTED;
    }
  }
  const fixed = url.slice(0, liquid).trimStart().toLowerCase();
  if (fixed === '') return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(fixed)?.[1];
  const begins = scheme
    ? scheme === 'http' || scheme === 'https'
    : 'http://'.startsWith(fixed) || 'https://'.startsWith(fixed);
  const fixedHost = /^https?:\/\/[^/?#]*[/?#]/.exec(fixed)?.[0];
  if (begins && fixedHost !== undefined) {
    try {
      httpUrl(url.trimStart().slice(0, fixedHost.length), 'url');
    } catch {
      return `${URL_EXPECTED}; its host, before the first Liquid tag, is not one`;
    }
  }
  return begins
    ? undefined
    : `${URL_EXPECTED}; the text before its first Liquid tag must begin http:// or https://`;
}

/** Every string value in `value` with its path (keys are not rendered, so not included). */
function stringsIn(value: unknown, at: (string | number)[]): [(string | number)[], string][] {
  if (typeof value === 'string') return [[at, value]];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringsIn(item, [...at, i]));
  if (isMapping(value))
    return Object.entries(value).flatMap(([key, item]) => stringsIn(item, [...at, key]));
  return [];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The Liquid engine ends its messages with its own place, `, line:1, col:4`,
 * counted in the value (and pointing at the tag's start, not at the fault).
 * The error already names the field's place in the file: a one-line value
 * needs no more; a longer one keeps its line, said as a line of the text.
 */
function inText(text: string, message: string): string {
  const place = /, line:(\d+), col:\d+$/.exec(message);
  if (!place) return message;
  const what = message.slice(0, place.index);
  return text.includes('\n') ? `${what} (line ${place[1]} of the text)` : what;
}
