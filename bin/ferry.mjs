#!/usr/bin/env node
// Runs the TypeScript sources through tsx when they are present (a checkout),
// the compiled dist otherwise (an installed package). `import` and `verify`
// first relaunch themselves with a capped heap (heap-cap.mjs says why).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { endWithParent, heapCapFor, relaunch } from './heap-cap.mjs';

const args = process.argv.slice(2);
const cap = heapCapFor(args);
if (cap !== null) {
  relaunch(fileURLToPath(import.meta.url), args, cap);
} else {
  endWithParent();
  const source = new URL('../src/cli/main.ts', import.meta.url);
  let main;
  if (existsSync(source)) {
    const { tsImport } = await import('tsx/esm/api');
    ({ main } = await tsImport(source.href, import.meta.url));
  } else {
    ({ main } = await import('../dist/cli/main.js'));
  }
  await main(process.argv);
}
