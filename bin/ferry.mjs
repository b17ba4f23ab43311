#!/usr/bin/env node
// Runs the TypeScript sources through tsx when they are present (a checkout),
// the compiled dist otherwise (an installed package).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api');
  ({ main } = await tsImport(source.href, import.meta.url));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
