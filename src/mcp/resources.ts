// MCP resources: the project's feature files (nudge://features/<file>), Nudge's
// docs (nudge://docs/<file>) and the feature JSON Schema, read from disk at
// each request so an assistant sees edits at once.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { jsonSchemas } from '../config/json-schema.js';
import { NudgeError } from '../errors.js';
import { type McpContext, projectOf } from './context.js';

/** docs/ of this package (present in a checkout; the npm package ships without it). */
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

async function filesIn(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((file) => pattern.test(file)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** A resource's file, only when it is one the listing offers (no paths, no other files). */
async function readListed(dir: string, pattern: RegExp, name: unknown): Promise<string> {
  const file = String(name);
  if (!(await filesIn(dir, pattern)).includes(file)) {
    throw new NudgeError(`no such resource: ${file}`);
  }
  return readFile(path.join(dir, file), 'utf8');
}

const FEATURE_FILE = /^[^/\\]+\.ya?ml$/;
const DOC_FILE = /^[^/\\]+\.md$/;

/** Files of one directory as resources `nudge://<kind>/<file>`: listed, and readable only as listed. */
function fileResources(
  server: McpServer,
  kind: string,
  options: { dir: () => Promise<string>; pattern: RegExp; mimeType: string; description: string },
): void {
  const { pattern, mimeType, description } = options;
  server.registerResource(
    kind,
    new ResourceTemplate(`nudge://${kind}/{file}`, {
      list: async () => ({
        resources: (await filesIn(await options.dir(), pattern)).map((file) => ({
          uri: `nudge://${kind}/${file}`,
          name: file,
          mimeType,
        })),
      }),
    }),
    { description, mimeType },
    async (uri, { file }) => ({
      contents: [
        { uri: uri.href, mimeType, text: await readListed(await options.dir(), pattern, file) },
      ],
    }),
  );
}

export function registerResources(server: McpServer, context: McpContext): void {
  fileResources(server, 'features', {
    dir: async () => (await projectOf(context)).featuresDir,
    pattern: FEATURE_FILE,
    mimeType: 'application/yaml',
    description: 'a feature file of this project',
  });
  fileResources(server, 'docs', {
    dir: async () => DOCS,
    pattern: DOC_FILE,
    mimeType: 'text/markdown',
    description: 'Nudge documentation',
  });

  server.registerResource(
    'feature-schema',
    'nudge://schema/feature.schema.json',
    { description: 'the JSON Schema of feature files', mimeType: 'application/schema+json' },
    (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/schema+json',
          text: JSON.stringify(jsonSchemas()['feature.schema.json'], null, 2),
        },
      ],
    }),
  );
}
