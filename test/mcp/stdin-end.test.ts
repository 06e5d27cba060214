// A client that writes its requests and closes stdin at once (`printf … |
// nudge mcp`) gets an answer to every one of them: the end of stdin means
// that nothing more will be asked, not that what was asked is dropped.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');
/** tsx's loader by URL: the server runs in the project's folder, where no tsx is installed. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'nudge-mcp-eof-'));
  await mkdir(path.join(cwd, 'nudge/features'), { recursive: true });
  await writeFile(path.join(cwd, 'nudge.yaml'), 'access: read-write\n');
  await writeFile(
    path.join(cwd, 'nudge/features/welcome.yaml'),
    'name: welcome\ntrigger: { table: auth.users, on: insert }\nstages:\n  - name: welcomed\n',
  );
});

afterAll(async () => {
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

/** Runs `nudge mcp`, writes `messages` and ends stdin in the same breath; resolves with what it printed when it exits. */
function pipeThrough(messages: unknown[]): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, path.join(REPO, 'src/cli/main.ts'), 'mcp'],
    {
      cwd,
      env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1:1/none' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stdin.end(messages.map((m) => `${JSON.stringify(m)}\n`).join(''));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: stdout.split('\n').filter(Boolean) }));
  });
}

describe('nudge mcp, stdin closed right after the requests', () => {
  it('answers every request it received before exiting', async () => {
    const { code, lines } = await pipeThrough([
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'pipe', version: '1' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'list_features', arguments: {} },
      },
      { jsonrpc: '2.0', id: 3, method: 'resources/list' },
    ]);
    const answers = lines.map((line) => JSON.parse(line) as { id: number; result?: unknown });
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    const features = answers.find((a) => a.id === 2)?.result as {
      isError?: boolean;
      content: { text: string }[];
    };
    expect(features.isError ?? false).toBe(false);
    expect(JSON.parse(features.content[0]!.text)).toMatchObject([{ name: 'welcome' }]);
    expect(code).toBe(0);
  }, 60_000);
});
