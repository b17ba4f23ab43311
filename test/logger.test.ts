/**
 * One `logger` option for connect, the import, the cache, the sessions and the rate limits:
 * pino-compatible, a child per layer, silent by default.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createCache } from '../src/cache/index.js';
import { connect } from '../src/connect.js';
import { layerLogger, noopLogger } from '../src/logger.js';
import { freshPostgresDatabase, withAdmin } from './support/backends.js';

type Line = Record<string, unknown>;

/** A real pino logger writing JSON lines into an array. */
function pinoLines(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  return { logger, lines };
}

const waitFor = async (fn: () => boolean) => {
  const deadline = Date.now() + 5_000;
  while (!fn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

describe('logger', () => {
  it('is silent by default', () => {
    expect(layerLogger(undefined, 'cache')).toBe(noopLogger);
    expect(layerLogger(false, 'sessions')).toBe(noopLogger);
  });

  it('gives each layer a pino child with its `layer` binding', () => {
    const { logger, lines } = pinoLines();
    layerLogger(logger, 'rate-limit').info({ key: 'k' }, 'hello');
    layerLogger(logger, 'sessions').child({ user: 'u1' }).warn({}, 'bye');
    expect(lines.map((l) => [l.layer, l.msg, l.key ?? l.user])).toEqual([
      ['rate-limit', 'hello', 'k'],
      ['sessions', 'bye', 'u1'],
    ]);
  });

  it('accepts a logger without child/error (the bindings are merged into each line)', () => {
    const lines: Line[] = [];
    const log = (obj: object, msg?: string) => lines.push({ ...obj, msg });
    const l = layerLogger({ debug: log, info: log, warn: log }, 'bus');
    l.error({ a: 1 }, 'e');
    l.child({ b: 2 }).info({}, 'i');
    expect(lines).toEqual([
      { layer: 'bus', a: 1, msg: 'e' },
      { layer: 'bus', b: 2, msg: 'i' },
    ]);
  });

  it("the cache logs through it under 'l2' and 'redis' (an unreachable Redis), never the password", async () => {
    const { logger, lines } = pinoLines();
    const cache = createCache({
      namespace: `ferrytest:log:${process.pid}`,
      redis: 'redis://default:hunter2-secret@127.0.0.1:1',
      logger,
    });
    try {
      expect(await cache.getOrSet('k', async () => 'from db')).toBe('from db');
      await waitFor(() => lines.some((l) => l.layer === 'redis') && lines.some((l) => l.layer === 'l2'));
      expect(lines.some((l) => l.layer === 'redis' && l.msg === 'redis: connection error')).toBe(true);
      expect(lines.some((l) => l.layer === 'l2' && l.msg === 'cache: Redis error')).toBe(true);
      for (const line of lines) expect(JSON.stringify(line)).not.toContain('hunter2');
    } finally {
      await cache.close();
    }
  });

  it("connect logs a dropped idle connection under layer 'db' (onError still called), never the password", async () => {
    const provisioned = await freshPostgresDatabase();
    // Trust auth ignores the password, so it is only there to be leaked, or not.
    const url = new URL(provisioned.url);
    url.username = 'postgres';
    url.password = 'hunter2-secret';
    const app = `ferry-logtest-${process.pid}`;
    const { logger, lines } = pinoLines();
    const errors: Error[] = [];
    const ferry = await connect({
      url: url.toString(),
      pool: { applicationName: app },
      logger,
      onError: (err) => errors.push(err),
    });
    try {
      await ferry.ping(); // the connection is now idle in the pool
      await withAdmin((c) =>
        c.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [app]),
      );
      await waitFor(() => errors.length > 0 && lines.some((l) => l.level === 50));
      expect(errors).toHaveLength(1);
      const db = lines.filter((l) => l.layer === 'db');
      expect(db.map((l) => l.msg)).toEqual(['database opened', 'an idle database connection failed']);
      expect(db[1]).toMatchObject({ level: 50, err: { message: errors[0]!.message }, url: ferry.url });
      expect(ferry.url).toContain('****');
      for (const line of lines) expect(JSON.stringify(line)).not.toContain('hunter2');
    } finally {
      await ferry.close();
      await provisioned.cleanup();
    }
  });
});
