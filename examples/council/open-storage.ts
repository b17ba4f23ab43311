/**
 * The seed's storage factory (`storage.py`): DATABASE_URL set → Postgres,
 * unset → the JSON files (local development). `COUNCIL_STORAGE=json|postgres`
 * (or `backend`) says so explicitly; `postgres` without DATABASE_URL is
 * Ferry's embedded PGlite. The migrations are applied on open, as the seed's
 * `init_db()` created its tables.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type DatabaseOf, type Ferry, FerryError } from '../../src/index.js';
import * as schema from './schema.js';
import { CouncilStorage } from './storage.js';
import { JsonCouncilStorage } from './storage-json.js';
import type { CouncilStore } from './store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const migrationsDir = path.join(here, 'migrations');

export type CouncilBackend = 'json' | 'postgres';

export type OpenedStorage =
  | { backend: 'json'; storage: JsonCouncilStorage; ferry: null; close(): Promise<void> }
  | { backend: 'postgres'; storage: CouncilStorage; ferry: Ferry<DatabaseOf<typeof schema>>; close(): Promise<void> };

export interface OpenStorageOptions {
  backend?: CouncilBackend;
  /** The database (else DATABASE_URL, else the embedded PGlite). */
  url?: string;
  /** The JSON folder (else COUNCIL_DATA, else `./data`). */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

export function chooseBackend(options: Pick<OpenStorageOptions, 'backend' | 'url' | 'env'> = {}): CouncilBackend {
  const env = options.env ?? process.env;
  const chosen = options.backend ?? (env.COUNCIL_STORAGE || undefined);
  if (chosen !== undefined && chosen !== 'json' && chosen !== 'postgres') {
    throw new FerryError('E_CONFIG', `COUNCIL_STORAGE must be "json" or "postgres", got ${JSON.stringify(chosen)}`);
  }
  return chosen ?? (options.url || env.DATABASE_URL ? 'postgres' : 'json');
}

export async function openCouncilStorage(options: OpenStorageOptions = {}): Promise<OpenedStorage> {
  const env = options.env ?? process.env;
  if (chooseBackend(options) === 'json') {
    const storage = new JsonCouncilStorage(options.dataDir ?? env.COUNCIL_DATA ?? 'data');
    return { backend: 'json', storage, ferry: null, close: async () => {} };
  }
  const ferry = await connect({ schema, url: options.url ?? env.DATABASE_URL });
  try {
    await ferry.migrate(migrationsDir);
  } catch (err) {
    await ferry.close();
    throw err;
  }
  return { backend: 'postgres', storage: new CouncilStorage(ferry), ferry, close: () => ferry.close() };
}

export type { CouncilStore };
