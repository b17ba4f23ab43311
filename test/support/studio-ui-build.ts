/**
 * Builds Studio's browser UI (dist/studio-ui/) when it is missing or older
 * than its sources, so a clean clone's `npm test` serves the current UI.
 * Called once per run from the global setup: two test files building at
 * once would empty each other's output folder.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = [path.join(ROOT, 'src/studio/ui'), path.join(ROOT, 'src/studio/api.ts')];
export const STUDIO_UI_DIR = path.join(ROOT, 'dist/studio-ui');

async function newestMtime(target: string): Promise<number> {
  const info = await stat(target);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of await readdir(target)) newest = Math.max(newest, await newestMtime(path.join(target, entry)));
  return newest;
}

/** True when dist/studio-ui/index.html is missing or older than any UI source file. */
export async function studioUiIsStale(): Promise<boolean> {
  const built = path.join(STUDIO_UI_DIR, 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(...(await Promise.all(SOURCES.map(newestMtime))));
  return (await stat(built)).mtimeMs < sources;
}

/** Build the UI with Vite (as `npm run build:studio` does) when it is stale; returns whether it built. */
export async function ensureStudioUi(): Promise<boolean> {
  if (!(await studioUiIsStale())) return false;
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'src/studio/ui/vite.config.ts'), logLevel: 'warn' });
  return true;
}
