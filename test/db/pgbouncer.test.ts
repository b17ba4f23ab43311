/**
 * PostgreSQL through PgBouncer in transaction pooling mode (a PgBouncer of
 * this file's own, support/pgbouncer.ts): what Ferry sends at startup, the
 * settings it relies on, and raw sessions on the direct URL.
 */
import { sql } from 'kysely';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionStringOf, type DbHandle, type OpenOptions, openDatabase } from '../../src/db/open.js';
import { resolvePoolOptions } from '../../src/db/pg-pool.js';
import { clientWithStartupParameters } from '../../src/db/pgbouncer.js';
import { freshPostgresDatabase, type ProvisionedDatabase, withAdmin } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { type OwnPgbouncer, startPgbouncer } from '../support/pgbouncer.js';

let bouncer: OwnPgbouncer;
let database: ProvisionedDatabase;
let name: string;
const handles: DbHandle[] = [];

beforeAll(async () => {
  database = await freshPostgresDatabase();
  name = new URL(database.url).pathname.slice(1);
  // One server connection per database: every client of it takes turns on the same one.
  bouncer = await startPgbouncer({ poolSize: 1 });
});
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await bouncer?.stop();
  await database?.cleanup();
});

async function open(options: OpenOptions): Promise<DbHandle> {
  const handle = await openDatabase({ env: {}, ...options });
  handles.push(handle);
  return handle;
}

async function scalar(handle: DbHandle, text: string): Promise<string> {
  return handle.session(async (s) => String(Object.values((await s.query(text)).rows[0]!)[0]));
}

describe('startup through PgBouncer', () => {
  it('pgbouncer=true sends only startup parameters PgBouncer accepts, and every pool option still works', async () => {
    const handle = await open({
      url: bouncer.url(name),
      pool: { max: 3, applicationName: 'ferry-bouncer', idleTimeoutMillis: '5s', connectionTimeoutMillis: '5s' },
    });
    expect(await handle.ping()).toBeGreaterThanOrEqual(0);
    const { rows } = await handle.db
      .selectNoFrom((eb) => [
        eb.fn<string>('current_setting', [eb.val('TimeZone')]).as('tz'),
        eb.fn<string>('current_setting', [eb.val('DateStyle')]).as('ds'),
        eb.fn<string>('current_setting', [eb.val('IntervalStyle')]).as('is'),
        eb.fn<string>('current_setting', [eb.val('application_name')]).as('app'),
      ])
      .execute()
      .then((r) => ({ rows: r }));
    expect(rows[0]).toEqual({ tz: 'UTC', ds: 'ISO, MDY', is: 'postgres', app: 'ferry-bouncer' });
    // Through PgBouncer there is no statement_timeout of Ferry's: the role's (here the server default) applies.
    expect(handle.poolStats().max).toBe(3);
  });

  it('the option form (pool.pgbouncer) works as the URL parameter does', async () => {
    const handle = await open({ url: bouncer.rawUrl(name), pool: { pgbouncer: true } });
    expect(await handle.ping()).toBeGreaterThanOrEqual(0);
  });

  it("Ferry's TimeZone and DateStyle hold on a server connection another client set differently", async () => {
    const handle = await open({ url: bouncer.url(name), pool: { max: 1 } });
    // Another app on the same PgBouncer database, with settings of its own, sharing the one server connection.
    const Other = clientWithStartupParameters({ TimeZone: 'America/New_York', DateStyle: 'SQL, DMY' });
    const other = new (Other as unknown as typeof pg.Client)({ connectionString: bouncer.rawUrl(name) });
    await other.connect();
    try {
      for (let i = 0; i < 3; i++) {
        const theirs = await other.query<{ tz: string; ds: string }>(
          "select current_setting('TimeZone') as tz, current_setting('DateStyle') as ds",
        );
        expect(theirs.rows[0]).toEqual({ tz: 'America/New_York', ds: 'SQL, DMY' });
        const rows = await handle.db
          .selectNoFrom((eb) => [
            eb.fn<string>('current_setting', [eb.val('TimeZone')]).as('tz'),
            eb.fn<string>('current_setting', [eb.val('DateStyle')]).as('ds'),
            eb.cast<string>(eb.val('2024-01-02 03:04:05+00'), 'timestamptz').as('at'),
          ])
          .execute();
        expect(rows[0]).toMatchObject({ tz: 'UTC', ds: 'ISO, MDY' });
        expect((rows[0]!.at as unknown as Date).toISOString()).toBe('2024-01-02T03:04:05.000Z');
      }
    } finally {
      await other.end();
    }
  });

  it('statements are never named: two handles take turns on one server connection with the same queries', async () => {
    // A named prepared statement lives on the server connection that prepared it: with one server
    // connection, the second handle's Parse of the same name fails (42P05), and after a switch the
    // first's Bind finds none (26000). PgBouncer before 1.21 does not translate names.
    const a = await open({ url: bouncer.url(name), pool: { max: 2 } });
    const b = await open({ url: bouncer.url(name), pool: { max: 2 } });
    await sql`create table if not exists named_check (id int primary key, v text)`.execute(a.db);
    await sql`insert into named_check values (1, 'one') on conflict do nothing`.execute(a.db);
    const read = (h: DbHandle) => h.db.selectFrom('named_check').select(['id', 'v']).where('id', '=', 1).execute();
    const rounds = await Promise.all(Array.from({ length: 20 }, (_, i) => read(i % 2 === 0 ? a : b)));
    for (const rows of rounds) expect(rows).toEqual([{ id: 1, v: 'one' }]);
    // (Not b inside a's transaction: that holds the one server connection until it ends.)
    await a.db.transaction().execute(async (tx) => {
      await tx.updateTable('named_check').set({ v: 'uno' }).where('id', '=', 1).execute();
      expect(await tx.selectFrom('named_check').select(['id', 'v']).where('id', '=', 1).execute()).toEqual([
        { id: 1, v: 'uno' },
      ]);
    });
    expect(await read(b)).toEqual([{ id: 1, v: 'uno' }]);
  });

  it('without pgbouncer=true the connect error names PgBouncer and says to add it', async () => {
    const err = await expectFerryError(
      open({ url: bouncer.rawUrl(name) }),
      'E_CONNECT',
      /unsupported startup parameter/,
    );
    expect(err.message).toMatch(/looks like PgBouncer/);
    expect(err.message).toMatch(/pgbouncer=true/);
  });

  it('refuses, before connecting, settings PgBouncer cannot carry', async () => {
    const url = bouncer.url(name);
    const option = await expectFerryError(
      open({ url, pool: { statementTimeoutMillis: '5s' } }),
      'E_CONFIG',
      /statementTimeoutMillis=5000 cannot be applied through PgBouncer.*ALTER ROLE/,
    );
    expect(option.details).toEqual({ option: 'statementTimeoutMillis' });
    const variable = await expectFerryError(
      open({ url, env: { FERRY_STATEMENT_TIMEOUT_MS: '5000' } }),
      'E_CONFIG',
      /FERRY_STATEMENT_TIMEOUT_MS=5000/,
    );
    expect(variable.details).toEqual({ variable: 'FERRY_STATEMENT_TIMEOUT_MS' });
    await expectFerryError(
      open({ url: `${url}&options=-c%20search_path%3Dx` }),
      'E_CONFIG',
      /refuses that startup parameter/,
    );
    await expectFerryError(
      open({ url: bouncer.rawUrl(name) + '?pgbouncer=maybe' }),
      'E_CONFIG',
      /expected true or false/,
    );
    // 0 is "none", which is what PgBouncer gives anyway.
    expect(resolvePoolOptions({ statementTimeoutMillis: 0 }, {}, url)).toMatchObject({
      pgbouncer: true,
      statementTimeoutMillis: 0,
    });
    expect(resolvePoolOptions({}, {}, `${url.replace('true', 'false')}`).pgbouncer).toBe(false);
    expect(resolvePoolOptions({}, {}, url).statementTimeoutMillis).toBe(0);
  });

  it('a server whose IntervalStyle differs (untracked by PgBouncer) is refused at open, naming the fix', async () => {
    const other = await freshPostgresDatabase();
    try {
      const otherName = new URL(other.url).pathname.slice(1);
      await withAdmin((c) => c.query(`alter database "${otherName}" set IntervalStyle = 'iso_8601'`));
      const err = await expectFerryError(
        open({ url: bouncer.url(otherName) }),
        'E_CONFIG',
        /IntervalStyle = 'iso_8601'.*ALTER ROLE/,
      );
      expect(err.details).toMatchObject({ setting: 'IntervalStyle', expected: 'postgres' });
      // Directly, Ferry sets it per session as always.
      const direct = await open({ url: other.url });
      expect(await scalar(direct, "select current_setting('IntervalStyle')")).toBe('postgres');
    } finally {
      await Promise.all(handles.splice(0).map((h) => h.close()));
      await other.cleanup();
    }
  });
});

describe('raw sessions through PgBouncer', () => {
  it('without a direct URL, session() fails with E_DIRECT_URL_REQUIRED naming DIRECT_DATABASE_URL', async () => {
    const handle = await open({ url: bouncer.url(name) });
    let ran = false;
    const err = await expectFerryError(
      handle.session(async () => {
        ran = true;
      }),
      'E_DIRECT_URL_REQUIRED',
      /DIRECT_DATABASE_URL/,
    );
    expect(ran).toBe(false);
    expect(err.details).toEqual({ variable: 'DIRECT_DATABASE_URL', url: handle.redactedUrl });
  });

  it('with DIRECT_DATABASE_URL, session() runs on a direct connection: temp tables, COPY, session settings hold', async () => {
    const handle = await open({ url: bouncer.url(name), env: { DIRECT_DATABASE_URL: database.url } });
    const result = await handle.session(async (s) => {
      await s.query('create temp table bounced (n int)');
      await s.copyIn('copy bounced (n) from stdin', '1\n2\n3\n');
      await s.query("set application_name = 'held'");
      const sum = await s.query<{ sum: string; app: string; st: string }>(
        "select sum(n)::text as sum, current_setting('application_name') as app, current_setting('statement_timeout') as st from bounced",
      );
      return sum.rows[0];
    });
    // statement_timeout 30s is Ferry's startup default: only a direct connection carries it.
    expect(result).toEqual({ sum: '6', app: 'held', st: '30s' });
    // Everything else still goes through PgBouncer.
    expect((await sql<{ one: number }>`select 1 as one`.execute(handle.db)).rows).toEqual([{ one: 1 }]);
    expect(connectionStringOf(handle)).toBe(database.url.replace(/^postgres:/, 'postgresql:'));
  });

  it('the directUrl option beats DIRECT_DATABASE_URL, and a bad one is a config error', async () => {
    const handle = await open({
      url: bouncer.url(name),
      directUrl: database.url,
      env: { DIRECT_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    });
    expect(await scalar(handle, 'select 1')).toBe('1');
    await expectFerryError(
      open({ url: bouncer.url(name), env: { DIRECT_DATABASE_URL: 'memory://' } }),
      'E_CONFIG',
      /DIRECT_DATABASE_URL.*straight to PostgreSQL/,
    );
    await expectFerryError(
      open({ url: bouncer.url(name), directUrl: bouncer.url(name) }),
      'E_CONFIG',
      /directUrl option.*not through PgBouncer/,
    );
  });
});
