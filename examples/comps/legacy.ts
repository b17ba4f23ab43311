/**
 * Kuya Comps as it was before the database: every search answered from a
 * Redis-only cache, else the upstream APIs, nothing kept anywhere else (the
 * seed's "Current State": sold results for 30 minutes, active ones for 5,
 * "ephemeral: data lost on Redis restart"). It reads and writes the keys of
 * `redisSearchStore` (`<prefix>:sold:<card>|<filters>`, JSON, with a TTL)
 * and nothing else: the old store a live cutover moves from. Where there is
 * no Redis (the demo on a bare machine), `store` puts the same results in
 * another store, e.g. `jsonSearchStore` (a JSON file, the same TTLs).
 *
 *   const legacy = createLegacyComps({ redis: 'redis://127.0.0.1:6379' });
 *   const offline = createLegacyComps({ store: jsonSearchStore('legacy.json') });
 *   await legacy.search('sold', '2020 Topps Chrome Luis Robert'); // { source: 'upstream', result }
 *   http.createServer(legacyRoutes(legacy)).listen(8081);          // GET /comps?q=…, /active?q=…
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { CutoverStore } from '../../src/cutover/store.js';
import { FerryError } from '../../src/errors.js';
import { createRedisClient } from '../../src/redis/connection.js';
import type { SearchFilters } from './schema.js';
import { normalizeFilters, redisSearchStore, type SearchResult, searchKey } from './store.js';
import { createUpstream, type SearchKind, type Upstream } from './upstream.js';

export interface LegacyOptions {
  /** A Redis URL or an ioredis client (not closed by `close()`); or give `store`. */
  redis?: string | Redis;
  /** Key prefix (default `kuya`). */
  prefix?: string;
  /** The results' store instead of Redis (`prefix` unused); not closed by `close()`. */
  store?: CutoverStore<SearchResult>;
  upstream?: Upstream;
  now?: () => Date;
}

export interface LegacyComps {
  /** The cache as a cutover store: the same keys, read and written the same way. */
  readonly store: CutoverStore<SearchResult>;
  readonly upstream: Upstream;
  search(
    kind: SearchKind,
    query: string,
    filters?: SearchFilters,
  ): Promise<{ source: 'redis' | 'upstream'; result: SearchResult }>;
  close(): Promise<void>;
}

export function createLegacyComps(options: LegacyOptions): LegacyComps {
  if (!options.store && !options.redis) {
    throw new FerryError('E_BAD_ARGUMENT', 'createLegacyComps: give `redis` (a URL or a client) or `store`.');
  }
  const owned = !options.store && typeof options.redis === 'string';
  const client = options.store
    ? null
    : typeof options.redis === 'string'
      ? createRedisClient(options.redis, { mode: 'queue', what: 'comps legacy' })
      : (options.redis as Redis);
  const now = options.now ?? (() => new Date());
  const store = options.store ?? redisSearchStore(client as Redis, { prefix: options.prefix, now });
  const upstream = options.upstream ?? createUpstream({ now });
  return {
    store,
    upstream,
    async search(kind, query, filters = {}) {
      const key = searchKey(kind, query, filters);
      const cached = await store.get(key);
      if (cached) return { source: 'redis', result: cached };
      const result: SearchResult = {
        key,
        kind,
        query: query.trim(),
        filters: normalizeFilters(filters),
        fetched_at: now().toISOString(),
        items: await upstream.search(kind, query, filters),
      };
      await store.put(key, result);
      return { source: 'upstream', result };
    },
    async close() {
      if (owned && client) await client.quit().catch(() => client.disconnect());
    },
  };
}

/** The old app's two routes (`/comps`, `/active`), for `http.createServer`. */
export function legacyRoutes(legacy: LegacyComps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams.get('q')?.trim();
    if (req.method !== 'GET' || (url.pathname !== '/comps' && url.pathname !== '/active') || !q) {
      res.writeHead(url.pathname === '/comps' || url.pathname === '/active' ? 400 : 404, {
        'content-type': 'application/json',
      });
      res.end(`${JSON.stringify({ error: 'GET /comps?q=<card> or /active?q=<card>' })}\n`);
      return;
    }
    const flag = (name: string) => {
      const v = url.searchParams.get(name);
      return v !== null && v !== '0' && v !== 'false';
    };
    legacy
      .search(url.pathname === '/comps' ? 'sold' : 'active', q, {
        raw_only: flag('raw_only'),
        base_only: flag('base_only'),
        exclude_auto: flag('exclude_auto'),
      })
      .then(({ source, result }) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ source, ...result, count: result.items.length })}\n`);
      })
      .catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${err instanceof Error ? err.message : String(err)}\n`);
      });
  };
}
