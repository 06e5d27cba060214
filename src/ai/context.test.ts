// The model is told the email templates an action can name: every one the
// renderer finds (.liquid and .html, in subfolders too), each name once.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../config/load.js';
import type { Analysis } from '../source/introspect.js';
import { draftContext } from './context.js';

async function templatesOf(dir: string): Promise<string[]> {
  const project = {
    templatesDir: dir,
    config: { capture: { exclude_columns: {} }, contacts: { attributes: {} } },
  } as unknown as LoadedConfig;
  return (await draftContext(project, { schemas: [] } as unknown as Analysis)).templates;
}

describe('draftContext: the email templates', () => {
  it('names every template the renderer finds, sorted, each once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nudge-ai-templates-'));
    await mkdir(path.join(dir, 'promo'), { recursive: true });
    for (const file of ['welcome.liquid', 'welcome.html', 'receipt.html', 'promo/sale.liquid'])
      await writeFile(path.join(dir, file), '<p>Hi</p>\n');
    await writeFile(path.join(dir, 'notes.txt'), 'not a template\n');
    expect(await templatesOf(dir)).toEqual(['promo/sale', 'receipt', 'welcome']);
  });

  it('names none when the folder does not exist', async () => {
    expect(await templatesOf(path.join(tmpdir(), 'nudge-no-such-folder'))).toEqual([]);
  });
});
