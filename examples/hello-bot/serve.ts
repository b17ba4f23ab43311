/**
 * Hello Bot as a long-running service: `GET /hello?id=<telegram id>&username=…`
 * registers the visit (get-or-create through the users cache, a write in its
 * own transaction) and greets;
 * `/livez`, `/readyz`, `/metrics`; a graceful stop on SIGTERM (readiness 503,
 * requests being served finish, then the pool closes).
 *
 *   PORT=8080 npx tsx examples/hello-bot/serve.ts
 *   DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 PORT=8080 npx tsx examples/hello-bot/serve.ts
 *
 * Without REDIS_URL users are cached in process only; with it, Redis is the
 * L2 and a Redis outage costs no request (`/readyz` stays 200; `?verbose` lists the cache as degraded).
 *
 * Backups and exports (the seed's pg_dump routine):
 *   npx ferry backup --out backups --keep 7 && npx ferry restore backups/<name> --url … --verify
 *   npx ferry export users --format csv --out users.csv
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cache } from '../../src/cache/index.js';
import { connect, type DatabaseOf, type Ferry } from '../../src/index.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { type OpsServer, serverError, startOpsServer } from '../shared/ops-server.js';
import { pool } from './ferry.config.js';
import * as schema from './schema.js';
import { createUserCache, displayName, UserService } from './user-service.js';

export interface HelloBotService {
  readonly ferry: Ferry<DatabaseOf<typeof schema>>;
  readonly cache: Cache;
  readonly users: UserService;
  readonly metrics: Metrics;
  readonly ops: OpsServer;
}

export async function serveHelloBot(
  options: { url?: string; port?: number; signals?: boolean; redis?: string | null } = {},
): Promise<HelloBotService> {
  // Left out, `redis` is REDIS_URL (createCache's default); null: no L2.
  const cache = createUserCache(options.redis === undefined ? {} : { redis: options.redis });
  const ferry = await connect({ schema, url: options.url, pool, cache }).catch(async (err) => {
    await cache.close();
    throw err;
  });
  const migrations = new URL('./migrations', import.meta.url).pathname;
  await ferry.migrate(migrations);
  const users = new UserService(ferry);
  const metrics = createMetrics(ferry, { migrations: { dir: migrations }, cache });
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = Number(url.searchParams.get('id'));
    if (url.pathname !== '/hello' || !Number.isSafeInteger(id) || id <= 0) {
      res.writeHead(url.pathname === '/hello' ? 400 : 404, { 'content-type': 'text/plain' });
      res.end(url.pathname === '/hello' ? 'id: a Telegram user id is required\n' : 'not found\n');
      return;
    }
    const visitor = {
      id,
      username: url.searchParams.get('username'),
      first_name: url.searchParams.get('first_name') ?? 'friend',
    };
    users.getOrCreateUser(visitor).then(
      ({ user, created }) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${created ? 'Hello' : 'Welcome back'}, ${displayName(user)}!\n`);
      },
      (err) => serverError(res, err),
    );
  };
  const ops = await startOpsServer(ferry, {
    port: options.port,
    migrations,
    metrics,
    cache,
    app,
    signals: options.signals,
    close: [metrics, cache],
  });
  return { ferry, cache, users, metrics, ops };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await serveHelloBot({ port: Number(process.env.PORT ?? 8080), signals: true });
  console.log(`hello-bot: ${service.ferry.backend} at ${service.ferry.url}; listening on ${service.ops.url}`);
}
