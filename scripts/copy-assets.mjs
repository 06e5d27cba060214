// Copies the non-TypeScript files the code reads at run time (SQL) into dist/.
import { cpSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function walk(dir) {
  for (const entry of readdirSync(dir)) {
    const from = path.join(dir, entry);
    if (statSync(from).isDirectory()) walk(from);
    else if (/\.(sql|liquid|html)$/.test(entry)) cpSync(from, from.replace(/^src/, 'dist'));
  }
}
walk('src');
