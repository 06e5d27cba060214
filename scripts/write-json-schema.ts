// npm run schema: writes schema/*.json from the zod schemas.
import { mkdir, writeFile } from 'node:fs/promises';
import { jsonSchemas } from '../src/config/json-schema.js';

await mkdir('schema', { recursive: true });
for (const [name, schema] of Object.entries(jsonSchemas())) {
  await writeFile(`schema/${name}`, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/${name}`);
}
