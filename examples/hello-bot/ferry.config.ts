import { type ConnectOptions, defineConfig } from '../../src/index.js';

// What the CLI reads (`ferry migrate up|check`, `ferry db status`, ...): only these three keys.
export default defineConfig({ schema: './schema.ts', migrations: './migrations' });

/**
 * The pool the bot's processes open (`connect({ schema, pool, cache })` in
 * demo.ts and serve.ts; the CLI keeps its own defaults). It is seed 002's
 * production sizing for a 2 GB VPS, in Ferry's terms:
 *
 * - `max: 8` — SQLAlchemy's `pool_size=3` + `max_overflow=5`. Ferry's pool has
 *   no separate overflow: connections open on demand up to `max` and the idle
 *   ones close after `idleTimeoutMillis`, which is what the overflow did.
 *   An explicit value here wins over `FERRY_POOL_MAX` and over the seed's own
 *   `DB_POOL_SIZE` + `DB_MAX_OVERFLOW` variables: drop the line to size the
 *   pool from the environment instead (resolvePoolOptions, src/db/pg-pool.ts).
 * - `idleTimeoutMillis: '30s'` — keep a connection warm between bursts of
 *   messages, then give it back to the 512 MB Postgres container.
 * - `connectionTimeoutMillis: '30s'` — `pool_timeout=30`: how long a request
 *   waits for a free connection (or a new one) before it fails.
 * - `maxLifetimeSeconds: '1h'` — `pool_recycle=3600`: connections older than
 *   an hour are retired and replaced. Recycling is by age only: Ferry has no
 *   per-connection use count (pg's `maxUses`).
 *
 * The embedded database (PGlite, no DATABASE_URL) is one session in process:
 * it ignores these.
 */
export const pool = {
  max: 8,
  idleTimeoutMillis: '30s',
  connectionTimeoutMillis: '30s',
  maxLifetimeSeconds: '1h',
} satisfies NonNullable<ConnectOptions<unknown>['pool']>;
