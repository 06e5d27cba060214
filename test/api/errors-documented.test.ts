// docs/api.md's error tables against the server's source: every error code
// src/server answers is documented with its status, and every code the
// tables list is one the server still answers. Read from the source, so a
// new HttpError fails here until the docs say it.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

/** `422 idempotency_key_reused` */
type Answer = `${number} ${string}`;

async function sources(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    files.set(path.relative(process.cwd(), file), await readFile(file, 'utf8'));
  }
  return files;
}

const all = (text: string, pattern: RegExp) => [...text.matchAll(pattern)];

/**
 * Where an HttpError takes its code from a variable: the file, the status,
 * and where its codes are written. A new such place fails the test until it
 * is listed here.
 */
const PASSED_CODES: Record<
  string,
  { status: number; codes: (files: Map<string, string>) => string[] }
> = {
  // unprocessable(code, detail): /ingest's 422s.
  'src/server/payloads.ts': {
    status: 422,
    codes: (files) =>
      all(files.get('src/server/payloads.ts')!, /unprocessable\(\s*'([a-z_]+)'/g).map((m) => m[1]!),
  },
  // A refused loss (capture/loss-error.ts): its transport's code, e.g. unread_slot.
  'src/server/api/deploy.ts': {
    status: 409,
    codes: (files) =>
      [...files]
        .filter(([file]) => file.startsWith('src/capture/'))
        .flatMap(([, text]) => all(text, /\bcode: '([a-z_]+)'/g).map((m) => m[1]!)),
  },
};

/** What the server answers, as `<status> <code>`, read from src/server (and src/capture for losses). */
async function answeredBySource(): Promise<Set<Answer>> {
  const files = new Map([...(await sources('src/server')), ...(await sources('src/capture'))]);
  const answers = new Set<Answer>();
  const passed = new Set<string>();
  for (const [file, text] of files) {
    if (!file.startsWith('src/server/')) continue;
    for (const m of all(text, /HttpError\(\s*(\d{3})\s*,\s*('([a-z_]+)'|[^'\s,]+)/g)) {
      if (m[3]) answers.add(`${Number(m[1])} ${m[3]}`);
      else passed.add(file);
    }
    // Answers written without HttpError: errorBody(code, …) and { error: code, detail }, status after.
    for (const m of all(
      text,
      /(?:errorBody\(\s*|\berror: )'([a-z_]+)'[\s\S]{0,300}?\b([45]\d\d)\b/g,
    ))
      answers.add(`${Number(m[2])} ${m[1]}`);
  }
  expect(
    [...passed].sort(),
    'an HttpError with a code from a variable: list it in PASSED_CODES',
  ).toEqual(Object.keys(PASSED_CODES).sort());
  for (const { status, codes } of Object.values(PASSED_CODES)) {
    const found = codes(files);
    expect(found.length).toBeGreaterThan(0);
    for (const code of found) answers.add(`${status} ${code}`);
  }
  return answers;
}

/** The rows of docs/api.md's tables that start with a status: `| 409 | \`a\`, \`b\` | … |`. */
async function documented(): Promise<Set<Answer>> {
  const text = await readFile('docs/api.md', 'utf8');
  const answers = new Set<Answer>();
  for (const m of all(text, /^\| (\d{3}) \| ([^|]+) \|/gm))
    for (const code of all(m[2]!, /`([a-z_]+)`/g)) answers.add(`${Number(m[1])} ${code[1]}`);
  return answers;
}

describe('docs/api.md error tables', () => {
  let source: Set<Answer>;
  let docs: Set<Answer>;
  beforeAll(async () => {
    source = await answeredBySource();
    docs = await documented();
  });

  it('read the codes it is checked against', () => {
    // The readers work: a few answers each must find, whatever else changes.
    for (const answer of ['404 feature_not_found', '405 method_not_allowed', '409 unread_slot'])
      expect(source).toContain(answer);
    expect(docs).toContain('401 missing_api_key');
  });

  it('document every error the server answers, with its status', () => {
    expect([...source].filter((answer) => !docs.has(answer)).sort()).toEqual([]);
  });

  it('document no error the server does not answer', () => {
    expect([...docs].filter((answer) => !source.has(answer)).sort()).toEqual([]);
  });
});
