/** Test backend settings shared by global setup (main process) and the fixtures (workers). */
import { isAlive } from './pglite-template.js';

export type Backend = 'pglite' | 'postgres';

const KNOWN: readonly Backend[] = ['pglite', 'postgres'];

/** From FERRY_TEST_BACKENDS (comma list), default both. */
export const TEST_BACKENDS: readonly Backend[] = parseBackends(process.env.FERRY_TEST_BACKENDS);

function parseBackends(raw: string | undefined): Backend[] {
  if (raw === undefined || raw.trim() === '') return [...KNOWN];
  const names = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!KNOWN.includes(name as Backend)) {
      throw new Error(`FERRY_TEST_BACKENDS: unknown backend "${name}" (known: ${KNOWN.join(', ')})`);
    }
  }
  return names as Backend[];
}

/** Admin connection used to create and drop per-file databases. */
export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
}

export const TEST_DB_PREFIX = 'ferry_t_';

/** `ferry_t_<pid>_<random>`: the pid lets a later run tell live databases from leftovers. */
export function isTestDatabaseOrphan(name: string): boolean {
  const m = /^ferry_t_(\d+)_/.exec(name);
  return m !== null && !isAlive(Number(m[1]));
}
