import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { DbHandle } from '../../db/open.js';
import { toMs } from '../../duration.js';
import { Migrator } from '../../migrate/runner.js';
import type { HealthOptions } from '../../ops/health.js';
import type { RedisLike } from '../../redis/connection.js';

/** A client `openRedis` made from a URL: an ioredis Redis or Cluster, both event emitters. */
type OwnClient = RedisLike & Pick<NodeJS.EventEmitter, 'once' | 'off'>;

import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson } from '../output.js';

interface HealthCliOptions {
  url?: string;
  redis?: string | false;
  timeout: string;
  json?: boolean;
}

/**
 * `ferry health`: the readiness checks `/readyz` runs, from a shell or a
 * container's exec probe: the database (ping, pool), migrations pending in
 * the project's folder, and Redis when REDIS_URL or --redis names one (not
 * critical: a Redis outage prints `degraded` and exits 0).
 */
export function registerHealth(program: Command, globals: () => GlobalOptions): void {
  program
    .command('health')
    .description(
      'readiness checks (database ping, pool, pending migrations, Redis): one line each; exit 0 when ready (also when degraded), 1 when not',
    )
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--redis <url>', 'also PING this Redis (default: REDIS_URL when set); not critical')
    .option('--no-redis', 'do not check Redis even when REDIS_URL is set')
    .option('--timeout <duration>', 'time limit of each check, e.g. 500ms, 2s', '2s')
    .option('--json', 'print the report as JSON')
    .action(async (options: HealthCliOptions) => {
      const config = await loadConfig({ configPath: globals().config });
      const redisUrl = options.redis === false ? undefined : (options.redis ?? process.env.REDIS_URL);
      const secrets = knownSecrets([options.url, redisUrl]);
      let handle: DbHandle | undefined;
      let redis: OwnClient | undefined;
      try {
        const timeoutMs = toMs(options.timeout as never, '--timeout', 'E_BAD_ARGUMENT');
        handle = await openProjectDatabase(config, { url: options.url });
        const db = handle;
        // Loaded here, not with the CLI: ioredis loaded at startup and again by an import file
        // (tsx loads those in a namespace of their own) fails with "Cannot redefine property: default".
        const { health } = await import('../../ops/health.js');
        const checks: HealthOptions = { timeout: timeoutMs };
        if (existsSync(config.migrationsDir)) checks.migrations = config.migrationsDir;
        if (redisUrl) {
          const { openRedis } = await import('../../redis/connection.js');
          const { watchRedis } = await import('../../redis/health.js');
          // A redis+cluster:// URL checks the cluster (ioredis's Cluster), any other URL one server.
          redis = openRedis(redisUrl, { what: 'ferry health' })!.client as OwnClient;
          watchRedis(redis);
          await connected(redis, timeoutMs);
          checks.redis = redis;
        }
        const report = await health(
          {
            backend: db.backend,
            ping: () => db.ping(),
            poolStats: () => db.poolStats(),
            migrator: (o) => new Migrator(db.db, o),
          },
          checks,
        ).ready();
        if (options.json) printJson({ ok: report.ready, ...report });
        else {
          for (const c of report.checks) {
            const mark = c.status === 'ok' ? '+' : '-';
            process.stdout.write(`[${mark}]${c.name} ${c.status}${c.message !== c.status ? `: ${c.message}` : ''}\n`);
          }
          process.stdout.write(
            `${report.ready ? 'ready' : 'not ready'}${report.status === 'degraded' ? ' (degraded)' : ''}\n`,
          );
        }
        process.exitCode = report.ready ? EXIT_OK : EXIT_PROBLEM;
      } catch (err) {
        if (options.json) printJson({ ok: false, error: errorPayload(err, secrets) });
        else printError(err, secrets);
        process.exitCode = EXIT_PROBLEM;
      } finally {
        redis?.disconnect();
        await handle?.close();
      }
    });
}

/** Wait for the client's first connection outcome (ready, or an error), so the check reports it instead of a timeout. */
function connected(client: OwnClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    client.once('ready', done);
    client.once('error', done);
  });
}
