// A sentence to a draft feature: ask the model for a feature (JSON constrained
// by the feature JSON Schema), write it as YAML with status: draft, check it
// as `nudge plan` would, and send the file:line errors back for a repair, at
// most MAX_REPAIRS times. An answer in ``` fences, with prose around it, or in
// YAML is read all the same: many models (local ones above all) write that way
// whatever the response format says. When no answer is valid, the error
// carries the last draft, numbered as its problems are, so nothing is lost.
// What leaves the machine is the prompt built in
// context.ts (schema names and types, never rows) and the model's own drafts.
import { parse as parseYamlText, stringify } from 'yaml';
import { jsonSchemas } from '../config/json-schema.js';
import { NudgeError } from '../errors.js';
import { type DraftContext, systemPrompt } from './context.js';
import { type AiEndpoint, type ChatMessage, completeChat, type Sleep } from './endpoint.js';

export const MAX_REPAIRS = 3;

export interface DraftRequest {
  sentence: string;
  endpoint: AiEndpoint;
  context: DraftContext;
  /** Checks the YAML as it would be saved as `fileName`; one message per problem (file:line:column field: problem). */
  check: (yaml: string, fileName: string) => Promise<string[]>;
  sleep?: Sleep;
  /** Told before each request: 0 for the first, then the repair number with the problems sent. */
  onAttempt?: (repair: number, problems: string[]) => void;
}

export interface Draft {
  name: string;
  fileName: string;
  yaml: string;
  /** How many repairs it took (0: the first answer was valid). */
  repairs: number;
}

/** Keys in the order a person writes them (features/schema.ts). */
const KEY_ORDER = [
  'name',
  'description',
  'status',
  'trigger',
  'contact',
  'enrich',
  'stages',
  'exit',
  'cooldown',
  'max_entries',
  're_entry',
];

/** The feature JSON Schema, as the response format: a name is required so the file can be named. */
export function responseSchema(): { name: string; schema: Record<string, unknown> } {
  const {
    $schema: _ignored,
    title: _title,
    ...schema
  } = jsonSchemas()['feature.schema.json'] as Record<string, unknown>;
  const required = new Set([...((schema.required as string[] | undefined) ?? []), 'name']);
  return { name: 'nudge_feature', schema: { ...schema, required: [...required] } };
}

export async function draftFeature(request: DraftRequest): Promise<Draft> {
  let format: ReturnType<typeof responseSchema> | undefined = responseSchema();
  const messages: ChatMessage[] = [
    { role: 'system', content: systemPrompt(request.context) },
    { role: 'user', content: `Write a feature for this: ${request.sentence}` },
  ];
  let problems: string[] = [];
  /** The last answer, for the error when none is valid: the draft as YAML, or what the model wrote. */
  let last = { what: 'answer', text: '' };
  for (let repair = 0; repair <= MAX_REPAIRS; repair++) {
    request.onAttempt?.(repair, problems);
    const answer = await completeChat(request.endpoint, messages, format, {
      ...(request.sleep ? { sleep: request.sleep } : {}),
      onFormatRefused: () => {
        format = undefined;
      },
    });
    messages.push({ role: 'assistant', content: answer });
    const parsed = parseAnswer(answer);
    if (typeof parsed === 'string') {
      problems = [parsed];
      last = {
        what: 'answer',
        text: answer.length > 4000 ? `${answer.slice(0, 4000)}\n…` : answer,
      };
      messages.push({
        role: 'user',
        content: `${parsed}. Answer with one JSON object for the feature.`,
      });
      continue;
    }
    const name = nameOf(parsed, request.sentence);
    const fileName = `${name}.yaml`;
    const yaml = featureYaml({ ...parsed, name }, request.sentence);
    problems = await request.check(yaml, fileName);
    if (problems.length === 0) return { name, fileName, yaml, repairs: repair };
    last = { what: `draft, ${fileName}`, text: numbered(yaml) };
    messages.push({ role: 'user', content: repairMessage(yaml, problems) });
  }
  throw new NudgeError(
    `the model gave no valid feature after ${MAX_REPAIRS} repairs; its last ${last.what} (not saved):\n${last.text.trimEnd()}\nhad these problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    'copy the draft into a file and fix it by hand, say more precisely what should happen (which table, which column, which email), or use a larger model (ai.model)',
  );
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The feature in an answer: the answer as JSON; else the inside of its first
 * ``` fence, or from its first { to its last }, as JSON; else the fenced text
 * or the whole answer as YAML (a mapping). A string says what was wrong.
 */
function parseAnswer(answer: string): Record<string, unknown> | string {
  const json = (text: string | undefined): unknown => {
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };
  const whole = json(answer);
  if (whole !== undefined) return isObject(whole) ? whole : 'Your answer was not a JSON object';
  const fenced = /```[\w-]*[^\S\n]*\n([\s\S]*?)\n?```/.exec(answer)?.[1];
  const open = answer.indexOf('{');
  const braces = open >= 0 ? answer.slice(open, answer.lastIndexOf('}') + 1) : undefined;
  for (const candidate of [json(fenced), json(braces)]) {
    if (isObject(candidate)) return candidate;
  }
  try {
    // Prose with a colon is a YAML mapping too: only one that looks like a feature counts.
    const yaml: unknown = parseYamlText(fenced ?? answer);
    if (isObject(yaml) && ('trigger' in yaml || 'stages' in yaml)) return yaml;
  } catch {
    // not YAML either
  }
  return 'Your answer was not valid JSON';
}

/** The feature's name as a file name: the model's, made safe, or words of the sentence. */
function nameOf(feature: Record<string, unknown>, sentence: string): string {
  const slug = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60);
  const given = typeof feature.name === 'string' ? slug(feature.name) : '';
  return given || slug(sentence.split(/\s+/).slice(0, 5).join(' ')) || 'draft';
}

/** The YAML saved: a comment with the sentence, the keys in order, status: draft. */
export function featureYaml(feature: Record<string, unknown>, sentence: string): string {
  const ordered: Record<string, unknown> = {};
  for (const key of KEY_ORDER) {
    if (key === 'status') ordered.status = 'draft';
    else if (feature[key] !== undefined) ordered[key] = feature[key];
  }
  for (const [key, value] of Object.entries(feature)) {
    if (!(key in ordered)) ordered[key] = value;
  }
  const said = sentence.replace(/\s+/g, ' ').trim();
  return `# Drafted by \`nudge new\` from: ${said}\n# Review it and try it; set status: active to deploy it.\n${stringify(ordered, { lineWidth: 0 })}`;
}

/** The YAML with line numbers, as the problems' file:line refer to them. */
function numbered(yaml: string): string {
  return yaml
    .split('\n')
    .map((line, i) => `${String(i + 1).padStart(3)} | ${line}`)
    .join('\n');
}

/** The draft with line numbers and what is wrong with it, for the model to fix. */
function repairMessage(yaml: string, problems: string[]): string {
  return [
    'Saved as YAML, your feature is:',
    numbered(yaml),
    '',
    '`nudge plan` found these problems (file:line:column field: problem):',
    ...problems.map((p) => `- ${p}`),
    '',
    'Answer with the whole corrected feature as one JSON object.',
  ].join('\n');
}
