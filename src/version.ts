// Nudge's own version, read from package.json (src/ and dist/ both sit beside it).
import { readFileSync } from 'node:fs';

export const NUDGE_VERSION: string = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
).version;
