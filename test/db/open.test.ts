import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase, resolveDatabaseTarget } from '../../src/db/open.js';
import { resolvePoolOptions } from '../../src/db/pg-pool.js';
import { E_BAD_URL, E_CLOSED, E_CONFIG, E_CONNECT, FerryError } from '../../src/errors.js';
import {
  adminUrl,
  freshPgliteDatabase,
  freshPostgresDatabase,
  type ProvisionedDatabase,
  TEST_BACKENDS,
  withAdmin,
} from '../support/backends.js';
import { rejection } from '../support/expect-error.js';

const hasPostgres = TEST_BACKENDS.includes('postgres');
const hasPglite = TEST_BACKENDS.includes('pglite');

/** Everything a user could ever print about an error. */
function everyRendering(err: FerryError): string[] {
  const out = [err.message, String(err.stack), inspect(err, { depth: 10 }), JSON.stringify(err.details)];
  for (let cause: unknown = err.cause; cause; cause = (cause as Error).cause) {
    out.push(inspect(cause, { depth: 10 }), String((cause as Error).stack), JSON.stringify(cause));
  }
  return out;
}

describe('resolveDatabaseTarget: precedence', () => {
  const cwd = '/srv/app';
  const pgUrl = 'postgres://u:pw@db/app';

  it('options.url beats DATABASE_URL', () => {
    expect(resolveDatabaseTarget({ cwd, url: 'memory://', env: { DATABASE_URL: pgUrl } })).toMatchObject({
      backend: 'pglite',
      dataDir: null,
    });
  });

  it('DATABASE_URL beats FERRY_DATA_DIR and options.dataDir', () => {
    const env = { DATABASE_URL: pgUrl, FERRY_DATA_DIR: '/data' };
    expect(resolveDatabaseTarget({ cwd, env })).toMatchObject({ backend: 'postgres' });
    expect(resolveDatabaseTarget({ cwd, env, dataDir: '/x' })).toMatchObject({ backend: 'postgres' });
  });

  it('options.dataDir beats FERRY_DATA_DIR, which beats the default', () => {
    expect(resolveDatabaseTarget({ cwd, dataDir: 'mine', env: { FERRY_DATA_DIR: '/data' } })).toEqual({
      backend: 'pglite',
      dataDir: '/srv/app/mine',
      redacted: 'pglite:/srv/app/mine',
    });
    expect(resolveDatabaseTarget({ cwd, env: { FERRY_DATA_DIR: 'rel' } })).toMatchObject({ dataDir: '/srv/app/rel' });
    expect(resolveDatabaseTarget({ cwd, env: {} })).toMatchObject({ dataDir: '/srv/app/.ferry/pglite' });
  });

  it('puts the default data dir in projectDir; shell settings and options.dataDir stay relative to cwd', () => {
    const sub = '/srv/app/src/deep';
    expect(resolveDatabaseTarget({ cwd: sub, projectDir: cwd, env: {} })).toMatchObject({
      dataDir: '/srv/app/.ferry/pglite',
    });
    expect(resolveDatabaseTarget({ cwd: sub, projectDir: cwd, env: { FERRY_DATA_DIR: 'db' } })).toMatchObject({
      dataDir: '/srv/app/src/deep/db',
    });
    expect(resolveDatabaseTarget({ cwd: sub, projectDir: cwd, env: { DATABASE_URL: 'pglite:db' } })).toMatchObject({
      dataDir: '/srv/app/src/deep/db',
    });
    expect(resolveDatabaseTarget({ cwd: sub, projectDir: cwd, dataDir: 'db', env: {} })).toMatchObject({
      dataDir: '/srv/app/src/deep/db',
    });
  });

  it('treats empty variables as unset and reads process.env only when no env is given', () => {
    expect(resolveDatabaseTarget({ cwd, env: { DATABASE_URL: '', FERRY_DATA_DIR: ' ' } })).toMatchObject({
      dataDir: '/srv/app/.ferry/pglite',
    });
    expect(resolveDatabaseTarget({ env: {} })).toMatchObject({ dataDir: path.resolve('.ferry/pglite') });
  });

  it('rejects a bad DATABASE_URL with E_BAD_URL', async () => {
    const err = await rejection(openDatabase({ env: { DATABASE_URL: 'mysql://root:hunter2@db/app' } }));
    expect(err.code).toBe(E_BAD_URL);
    expect(everyRendering(err).join('\n')).not.toContain('hunter2');
  });
});

describe('pool options', () => {
  it('has documented defaults', () => {
    expect(resolvePoolOptions({}, {})).toEqual({
      max: 10,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 5_000,
      statementTimeoutMillis: 30_000,
      maxLifetimeSeconds: 0,
      applicationName: 'ferry',
      pgbouncer: false,
    });
  });

  it('reads env, with explicit options first and FERRY_POOL_MAX before DB_POOL_SIZE + DB_MAX_OVERFLOW', () => {
    const env = {
      DB_POOL_SIZE: '3',
      DB_MAX_OVERFLOW: '2',
      FERRY_POOL_IDLE_TIMEOUT_MS: '100',
      FERRY_CONNECT_TIMEOUT_MS: '200',
      FERRY_STATEMENT_TIMEOUT_MS: '0',
      FERRY_POOL_MAX_LIFETIME_S: '60',
    };
    expect(resolvePoolOptions({}, env)).toEqual({
      max: 5,
      idleTimeoutMillis: 100,
      connectionTimeoutMillis: 200,
      statementTimeoutMillis: 0,
      maxLifetimeSeconds: 60,
      applicationName: 'ferry',
      pgbouncer: false,
    });
    expect(resolvePoolOptions({}, { ...env, FERRY_POOL_MAX: '7' }).max).toBe(7);
    expect(resolvePoolOptions({ max: 2, connectionTimeoutMillis: 50 }, { ...env, FERRY_POOL_MAX: '7' })).toMatchObject({
      max: 2,
      connectionTimeoutMillis: 50,
    });
    expect(resolvePoolOptions({}, { DB_POOL_SIZE: '4' }).max).toBe(4);
  });

  it.each([
    ['FERRY_POOL_MAX', 'ten'],
    ['FERRY_POOL_MAX', '0'],
    ['DB_POOL_SIZE', '2.5'],
    ['DB_MAX_OVERFLOW', '-1'],
    ['FERRY_CONNECT_TIMEOUT_MS', '5 sec'],
    ['FERRY_CONNECT_TIMEOUT_MS', '0s'],
    ['FERRY_POOL_IDLE_TIMEOUT_MS', '-1s'],
    ['FERRY_POOL_MAX_LIFETIME_S', '1500ms'],
    ['FERRY_STATEMENT_TIMEOUT_MS', '1e99'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    let err: unknown;
    try {
      resolvePoolOptions({}, { [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe(E_CONFIG);
    expect((err as FerryError).message).toContain(`${name}="${value}"`);
    expect((err as FerryError).details).toEqual({ variable: name });
  });

  it('rejects bad explicit options', () => {
    expect(() => resolvePoolOptions({ max: 0 })).toThrow(/max=0/);
  });

  it('takes Durations for every time option and its variable; bare numbers keep their unit', () => {
    expect(
      resolvePoolOptions(
        {
          idleTimeoutMillis: '30s',
          connectionTimeoutMillis: '2s',
          statementTimeoutMillis: '1m',
          maxLifetimeSeconds: '1h',
        },
        {},
      ),
    ).toMatchObject({
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 2_000,
      statementTimeoutMillis: 60_000,
      maxLifetimeSeconds: 3_600,
    });
    const env = {
      FERRY_POOL_IDLE_TIMEOUT_MS: '2m',
      FERRY_CONNECT_TIMEOUT_MS: '5s',
      FERRY_STATEMENT_TIMEOUT_MS: '250ms',
      FERRY_POOL_MAX_LIFETIME_S: '30m',
    };
    expect(resolvePoolOptions({}, env)).toMatchObject({
      idleTimeoutMillis: 120_000,
      connectionTimeoutMillis: 5_000,
      statementTimeoutMillis: 250,
      maxLifetimeSeconds: 1_800,
    });
    // A bare number in the lifetime variable/option is seconds, as before Durations.
    expect(resolvePoolOptions({ maxLifetimeSeconds: 90 }, {}).maxLifetimeSeconds).toBe(90);
    expect(resolvePoolOptions({}, { FERRY_POOL_MAX_LIFETIME_S: '90' }).maxLifetimeSeconds).toBe(90);
  });

  it.each([
    ['idleTimeoutMillis', 'soon'],
    ['connectionTimeoutMillis', '0ms'],
    ['statementTimeoutMillis', '1 week'],
    ['maxLifetimeSeconds', '1500ms'],
  ] as const)('refuses pool option %s=%s with E_CONFIG naming the option', (key, value) => {
    let err: unknown;
    try {
      resolvePoolOptions({ [key]: value } as never, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe(E_CONFIG);
    expect((err as FerryError).message).toContain(`Pool option ${key}="${value}" is not valid`);
    expect((err as FerryError).message).toMatch(/duration such as/);
  });
});

describe.runIf(hasPostgres)('openDatabase: postgres', () => {
  let fresh: ProvisionedDatabase;
  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
  });
  afterAll(() => fresh?.cleanup());

  it('opens a SQLAlchemy-style URL; ping, serverVersion and poolStats work; close is idempotent', async () => {
    const h = await openDatabase({ url: 'postgresql+asyncpg://postgres:s3cret@127.0.0.1:5432/test', env: {} });
    expect(h.backend).toBe('postgres');
    expect(h.redactedUrl).toBe('postgresql://postgres:****@127.0.0.1:5432/test');
    expect(await h.ping()).toBeGreaterThanOrEqual(0);
    expect(await h.serverVersion()).toMatch(/^\d+\.\d+/);
    expect(h.poolStats()).toMatchObject({ max: 10, waiting: 0 });
    expect(h.poolStats().total).toBeGreaterThanOrEqual(1);
    await h.close();
    await h.close();
    expect((await rejection(h.ping())).code).toBe(E_CLOSED);
    expect((await rejection(h.db.selectNoFrom(sql`1`.as('x')).execute())).code).toBe(E_CLOSED);
  });

  it('takes DATABASE_URL from the env option and the pool size from DB_POOL_SIZE + DB_MAX_OVERFLOW', async () => {
    const h = await openDatabase({ env: { DATABASE_URL: fresh.url, DB_POOL_SIZE: '3', DB_MAX_OVERFLOW: '2' } });
    try {
      expect(h.backend).toBe('postgres');
      expect(h.poolStats().max).toBe(5);
    } finally {
      await h.close();
    }
  });

  it('rejects a bad env number before connecting', async () => {
    const err = await rejection(openDatabase({ url: fresh.url, env: { FERRY_POOL_MAX: 'lots' } }));
    expect(err.code).toBe(E_CONFIG);
    expect(err.message).toContain('FERRY_POOL_MAX');
  });

  it('runs sessions with UTC, statement_timeout and application_name, keeping URL options', async () => {
    const url = new URL(fresh.url);
    url.searchParams.set('options', '-c search_path=custom,public');
    const h = await openDatabase({ url: url.toString(), env: { FERRY_STATEMENT_TIMEOUT_MS: '1234' } });
    try {
      const { rows } = await sql<Record<string, string>>`select current_setting('TimeZone') as tz,
        current_setting('statement_timeout') as st, current_setting('application_name') as app,
        current_setting('search_path') as sp, current_setting('IntervalStyle') as ivs`.execute(h.db);
      expect(rows[0]).toEqual({ tz: 'UTC', st: '1234ms', app: 'ferry', sp: 'custom,public', ivs: 'postgres' });
    } finally {
      await h.close();
    }
  });

  it('fails fast with E_CONNECT on an unreachable server, without leaking the password', async () => {
    const started = Date.now();
    const err = await rejection(openDatabase({ url: 'postgres://u:s3cretPW@127.0.0.1:1/x', env: {} }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err.code).toBe(E_CONNECT);
    expect(err.message).toContain('postgresql://u:****@127.0.0.1:1/x');
    expect(err.message).toMatch(/connection refused/);
    expect(err.message).toMatch(/Is PostgreSQL running/);
    expect(err.details).toMatchObject({ code: 'ECONNREFUSED', host: '127.0.0.1', port: '1', database: 'x' });
    for (const text of everyRendering(err)) expect(text).not.toContain('s3cretPW');
  });

  it('scrubs URL-encoded passwords too', async () => {
    const err = await rejection(openDatabase({ url: 'postgres://u:p%40ss%21word@127.0.0.1:1/x', env: {} }));
    for (const text of everyRendering(err)) {
      expect(text).not.toContain('p%40ss%21word');
      expect(text).not.toContain('p@ss!word');
    }
  });

  it('times out within the connect timeout on a server that never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const err = await rejection(
        openDatabase({ url: `postgres://u:s3cretPW@127.0.0.1:${port}/x`, env: { FERRY_CONNECT_TIMEOUT_MS: '300' } }),
      );
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(err.code).toBe(E_CONNECT);
      expect(err.message).toMatch(/no answer .* within 300 ms/);
      expect(err.message).toMatch(/FERRY_CONNECT_TIMEOUT_MS/);
      for (const text of everyRendering(err)) expect(text).not.toContain('s3cretPW');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('explains a missing database', async () => {
    const url = new URL(adminUrl());
    url.pathname = '/ferry_no_such_db';
    url.password = 's3cretPW';
    const err = await rejection(openDatabase({ url: url.toString(), env: {} }));
    expect(err.code).toBe(E_CONNECT);
    expect(err.message).toMatch(/database "ferry_no_such_db" does not exist/);
    expect(err.message).toMatch(/createdb ferry_no_such_db/);
    expect(err.details).toMatchObject({ code: '3D000', database: 'ferry_no_such_db' });
    for (const text of everyRendering(err)) expect(text).not.toContain('s3cretPW');
  });

  it('explains a rejected login', async () => {
    const url = new URL(fresh.url);
    url.username = 'ferry_no_such_role';
    const err = await rejection(openDatabase({ url: url.toString(), env: {} }));
    expect(err.code).toBe(E_CONNECT);
    expect(err.message).toMatch(/ferry_no_such_role/);
    expect(['28000', '28P01']).toContain(err.details.code);
  });

  it('survives an idle client being killed and reports it through onError, redacted', async () => {
    const errors: Error[] = [];
    const url = new URL(fresh.url);
    url.password = 's3cretPW';
    const h = await openDatabase({ url: url.toString(), env: {}, onError: (e) => errors.push(e) });
    try {
      await h.ping(); // leaves one idle client in the pool
      await withAdmin((admin) =>
        admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'ferry' and datname = $1`,
          [url.pathname.slice(1)],
        ),
      );
      for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(errors.length).toBeGreaterThan(0);
      expect(inspect(errors[0])).not.toContain('s3cretPW');
      expect(await h.ping()).toBeGreaterThanOrEqual(0); // a new client replaces it
    } finally {
      await h.close();
    }
  });
});

describe.runIf(hasPglite)('openDatabase: pglite', () => {
  let store: ProvisionedDatabase;
  beforeAll(async () => {
    store = await freshPgliteDatabase();
  });
  afterAll(() => store?.cleanup());

  it('opens FERRY_DATA_DIR from the env option when no URL is set', async () => {
    const dir = store.url.slice('pglite:'.length);
    const h: DbHandle = await openDatabase({ env: { FERRY_DATA_DIR: dir } });
    try {
      expect(h.backend).toBe('pglite');
      expect(h.redactedUrl).toBe(`pglite:${dir}`);
      expect(h.poolStats()).toEqual({ total: 1, idle: 1, waiting: 0, max: 1 });
      expect(await h.serverVersion()).toMatch(/^18\./);
    } finally {
      await h.close();
      await h.close();
    }
  });

  it('creates a missing data directory (mkdir -p)', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-open-'));
    const dir = path.join(root, 'nested', 'deeper');
    try {
      const h = await openDatabase({ dataDir: dir, env: {} });
      try {
        await sql`create table t (x int)`.execute(h.db);
        expect(h.redactedUrl).toBe(`pglite:${dir}`);
      } finally {
        await h.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('can start from a dumped data dir (loadDataDir)', async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    const copy = await freshPgliteDatabase();
    const source = await PGlite.create({ dataDir: copy.url.slice('pglite:'.length) });
    await source.exec(`create table seeded (v text); insert into seeded values ('from tarball')`);
    const tarball = await source.dumpDataDir('none');
    await source.close();
    await copy.cleanup();
    const h = await openDatabase({ url: 'memory://', loadDataDir: tarball });
    try {
      expect(await h.db.selectFrom('seeded').selectAll().execute()).toEqual([{ v: 'from tarball' }]);
    } finally {
      await h.close();
    }
  });
});

describe('embedded database settings', () => {
  it('PGlite starts with 32 MB of shared buffers (its WASM memory then stays at its initial size), on disk and in memory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-open-settings-'));
    try {
      for (const url of ['memory://', `pglite:${dir}`]) {
        const h = await openDatabase({ url, env: {} });
        try {
          const r = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(h.db);
          expect(r.rows[0]!.shared_buffers).toBe('32MB');
        } finally {
          await h.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
