/**
 * Temporary folders for one test file (migration folders, pulled modules),
 * removed when the file's tests are done:
 *
 *   const newDir = tempDirs('ferry-views-');
 *   await generateMigration({ shadow, schema, dir: newDir(), name: 'init' });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function tempDirs(prefix: string): () => string {
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    roots.push(d);
    return d;
  };
}
