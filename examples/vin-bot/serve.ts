/**
 * The VIN bot as a long-running service, with the endpoints seed 000/001's
 * runbooks ask for: `GET /vin/<VIN>?user=<telegram id>` (the lookup, JSON),
 * `/livez`, `/readyz` (database, migrations, the cache's Redis as degraded,
 * sessions), `/metrics` (Prometheus), and a graceful stop on SIGTERM.
 *
 *   PORT=8080 npx tsx examples/vin-bot/serve.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/vinbot REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/vin-bot/serve.ts
 *
 * Upstash (TLS): REDIS_URL='rediss://default:<token>@<host>:6379'; a private CA: REDIS_TLS_CA=<PEM file>.
 *
 * Backups and exports of its tables (the seed's `pg_dump -F c` routine; the
 * whole runbook, tested, is in README.md), from examples/vin-bot:
 *   npx ferry backup --out backups --keep 7            # pg_dump -Fc (or PGlite's data dir) + manifest
 *   npx ferry restore backups/<name> --clean --verify  # refuses a damaged file; checks counts and checksums
 *   npx tsx clear-cache.ts                              # after a restore: drop the Redis copies
 *   npx ferry export vehicles --format csv --out vehicles.csv
 *   npx ferry export user_vin_history --where "looked_up_at > now() - interval '1 day'" --format ndjson
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Ferry } from '../../src/index.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import type { RedisTlsOptions } from '../../src/redis/connection.js';
import { type OpsServer, serverError, startOpsServer } from '../shared/ops-server.js';
import { appSchema, createVinBot, type DB, type VinBot } from './vin-service.js';

export interface VinBotService {
  readonly ferry: Ferry<DB>;
  readonly bot: VinBot;
  readonly metrics: Metrics;
  readonly ops: OpsServer;
}

export async function serveVinBot(
  options: {
    url?: string;
    redis?: string | null;
    /** TLS settings of a `rediss://` URL (see VinBotOptions.redisTls). */
    redisTls?: RedisTlsOptions;
    namespace?: string;
    port?: number;
    signals?: boolean;
    /** Redis command timeout of the cache, ms (default 100). */
    cacheTimeoutMs?: number;
  } = {},
): Promise<VinBotService> {
  const ferry = await connect({ schema: appSchema, url: options.url });
  const migrations = new URL('./migrations', import.meta.url).pathname;
  await ferry.migrate(migrations);
  const bot = createVinBot({
    ferry,
    redis: options.redis,
    redisTls: options.redisTls,
    namespace: options.namespace,
    cacheTimeoutMs: options.cacheTimeoutMs,
  });
  const metrics = createMetrics(ferry, {
    cache: bot.cache,
    rateLimiter: bot.limiter,
    sessions: bot.sessions,
    migrations: { dir: migrations },
  });
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/vin\/([^/]+)$/.exec(url.pathname);
    if (!match) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    const user = {
      id: Number(url.searchParams.get('user') ?? 0),
      username: url.searchParams.get('username') ?? undefined,
    };
    bot.lookupVin(user, decodeURIComponent(match[1] as string)).then(
      (result) => {
        res.writeHead(result.status === 'ok' ? 200 : result.status === 'invalid' ? 400 : 429, {
          'content-type': 'application/json',
        });
        res.end(`${JSON.stringify(result)}\n`);
      },
      (err) => serverError(res, err),
    );
  };
  const ops = await startOpsServer(ferry, {
    port: options.port,
    migrations,
    cache: bot.cache,
    sessions: bot.sessions,
    metrics,
    app,
    signals: options.signals,
    close: [bot, metrics],
  });
  return { ferry, bot, metrics, ops };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await serveVinBot({ port: Number(process.env.PORT ?? 8080), signals: true });
  console.log(`vin-bot: ${service.ferry.backend} at ${service.ferry.url}; listening on ${service.ops.url}`);
}
