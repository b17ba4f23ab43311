/**
 * Read replicas against a real primary and streaming replica of the test's
 * own (test/support/pg-cluster.ts: initdb + pg_basebackup -R on loopback
 * ports, stopped in afterAll). The replica's lag is made deterministic with
 * recovery_min_apply_delay: a replica delayed by a minute has certainly not
 * replayed a row written a moment ago, so which server answered shows in
 * the rows themselves, not in timings.
 */
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Ferry } from '../../src/connect.js';
import { splitHosts } from '../../src/db/host-list.js';
import type { RouteInfo } from '../../src/db/observer.js';
import { type OpenOptions, openDatabase } from '../../src/db/open.js';
import { resolveReplicaOptions } from '../../src/db/replica-options.js';
import { E_BAD_ARGUMENT, E_CONFIG } from '../../src/errors.js';
import { createMetrics } from '../../src/ops/index.js';
import { integer, serial, table, text } from '../../src/schema/index.js';
import { PgStore } from '../../src/sessions/postgres.js';
import { sessionTables } from '../../src/sessions/tables.js';
import { expectFerryError } from '../support/expect-error.js';
import { type PgCluster, startPgCluster } from '../support/pg-cluster.js';
import { conventionProblems, parsePromText, sampleValue } from '../support/prom-text.js';

const notes = table('notes', {
  id: serial().primaryKey(),
  body: text().notNull(),
  n: integer().notNull().default(0),
});
const { sessions, refreshTokens, sessionOutbox } = sessionTables();
const schema = { notes, sessions, refreshTokens, sessionOutbox };

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A write the Ferry under test does not see (another app's): no token of ours covers it. */
async function writeBehindFerrysBack(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('insert into notes (body) values ($1)', [text]);
  } finally {
    await client.end();
  }
}

describe('resolveReplicaOptions', () => {
  it('splits DATABASE_REPLICA_URLS on commas that start a new URL, not inside a multi-host one', () => {
    const r = resolveReplicaOptions(
      'env',
      {},
      {
        DATABASE_REPLICA_URLS: 'postgresql://a:5432,b:5433/db , postgres://u:pw@c/db',
      },
    );
    expect(r.urls).toEqual(['postgresql://a:5432,b:5433/db', 'postgres://u:pw@c/db']);
    expect(r).toMatchObject({ readYourWrites: 'lsn', waitForReplicaMs: 0, maxLagMs: 10_000, pollIntervalMs: 1_000 });
  });

  it('rejects a replica that is not PostgreSQL, naming where it came from, without the password', async () => {
    const fromOption = await expectFerryError(
      Promise.resolve().then(() => resolveReplicaOptions(['memory://'], {}, {})),
      E_CONFIG,
      /replicas option: "memory:\/\/" is not a PostgreSQL URL/,
    );
    expect(fromOption.details).toEqual({ option: 'replicas' });
    const fromEnv = await expectFerryError(
      Promise.resolve().then(() =>
        resolveReplicaOptions('env', {}, { DATABASE_REPLICA_URLS: 'mysql://u:hunter2@h/db' }),
      ),
      E_CONFIG,
      /DATABASE_REPLICA_URLS/,
    );
    expect(fromEnv.message).not.toContain('hunter2');
  });

  it('rejects bad durations', async () => {
    await expectFerryError(
      Promise.resolve().then(() => resolveReplicaOptions([], { maxLag: 'soon' as never }, {})),
      E_CONFIG,
      /maxLag/,
    );
    await expectFerryError(
      Promise.resolve().then(() => resolveReplicaOptions([], { readYourWrites: 'always' as never }, {})),
      E_CONFIG,
      /readYourWrites/,
    );
  });

  it('openDatabase() alone (the CLI, the shadow database, restore) ignores DATABASE_REPLICA_URLS', async () => {
    const env = { DATABASE_REPLICA_URLS: 'postgresql://127.0.0.1:1/x' };
    expect(resolveReplicaOptions(undefined, {}, env).urls).toEqual([]);
    const handle = await openDatabase({ url: 'memory://', env });
    expect(handle.replicas).toBeUndefined();
    await handle.close();
  });

  it('replicas with PGlite are a configuration error, before anything opens', async () => {
    await expectFerryError(
      connect({ url: 'memory://', replicas: ['postgresql://127.0.0.1:1/x'] }),
      E_CONFIG,
      /only PostgreSQL has streaming replicas/,
    );
    await expectFerryError(
      connect({ url: 'memory://', env: { DATABASE_REPLICA_URLS: 'postgresql://127.0.0.1:1/x' } }),
      E_CONFIG,
      /DATABASE_REPLICA_URLS/,
    );
  });
});

describe('read replicas (own primary + streaming replica)', () => {
  let cluster: PgCluster;
  const opened: Ferry<any>[] = [];

  const open = async (replicaOptions: Pick<OpenOptions, 'replicaOptions'> = {}) => {
    const ferry = await connect({
      url: cluster.primary.url,
      replicas: [cluster.replica.url],
      schema,
      ...replicaOptions,
    });
    opened.push(ferry);
    const routes: RouteInfo[] = [];
    ferry.observers.current = { onRoute: (info) => routes.push(info) };
    return { ferry, routes };
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    const setup = await connect({ url: cluster.primary.url, schema });
    await setup.createSchema();
    await sql`insert into sessions (user_id, access_jti, data, version, created_at, last_activity, expires_at)
      values ('u1', 'jti-1', '{}', 1, now(), now(), now() + interval '1 day')`.execute(setup.db);
    await setup.close();
    await cluster.waitForCatchUp();
  });

  afterAll(async () => {
    for (const f of opened) await f.close().catch(() => {});
    await cluster?.stop();
  });

  it('sends selects outside a transaction to the replica, everything else to the primary', async () => {
    await cluster.setApplyDelay(60_000);
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50 } });
    await writeBehindFerrysBack(cluster.primary.url, 'unseen');
    const repo = ferry.repo(notes);
    // The delayed replica has not replayed it: reads through the repository, ferry.db and get() miss it.
    expect(await repo.findMany({ where: { body: 'unseen' } })).toEqual([]);
    expect(await ferry.db.selectFrom('notes').selectAll().where('body', '=', 'unseen').execute()).toEqual([]);
    expect(await repo.count({ body: 'unseen' })).toBe(0);
    expect(routes.every((r) => r.target === 'replica')).toBe(true);
    expect(routes.length).toBe(3);
    const id = (await ferry.primary(() => repo.findMany({ where: { body: 'unseen' } })))[0]!.id;
    expect(await repo.get(id)).toBeUndefined();
    // ...while the primary has it: forced, in a transaction, with a locking clause, and raw SQL.
    expect(await ferry.primary(() => repo.get(id))).toMatchObject({ body: 'unseen' });
    expect(await ferry.transaction((tx) => tx.repo(notes).get(id))).toMatchObject({ body: 'unseen' });
    expect(
      await ferry.db.selectFrom('notes').selectAll().where('id', '=', id).forUpdate().executeTakeFirst(),
    ).toMatchObject({ body: 'unseen' });
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from notes where id = ${id}`.execute(ferry.db);
    expect(rows[0]!.n).toBe(1);
    // A held connection: once it used the primary (raw SQL), its later selects stay there.
    const held = await ferry.db.connection().execute(async (c) => {
      await sql`set application_name = 'held'`.execute(c);
      return c.selectFrom('notes').selectAll().where('id', '=', id).executeTakeFirst();
    });
    expect(held).toMatchObject({ body: 'unseen' });
    expect(routes.some((r) => r.target === 'primary' && r.reason === 'forced')).toBe(true);
    await cluster.setApplyDelay(0);
    await cluster.waitForCatchUp();
  });

  it('reads its own writes by LSN under a delayed replica, and only its own', async () => {
    await cluster.setApplyDelay(60_000);
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50 } });
    const repo = ferry.repo(notes);
    let token: string | null = null;
    const written = await ferry.consistency(null, async () => {
      const row = await repo.insert({ body: 'mine' });
      token = ferry.token();
      // The replica is a minute behind this write: the primary answers, and the row is there.
      routes.length = 0;
      expect(await repo.get(row.id)).toMatchObject({ body: 'mine' });
      expect(routes).toEqual([{ target: 'primary', reason: 'behind' }]);
      return row;
    });
    expect(token).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // Another request with the token (from a cookie, another process...): the same guarantee.
    expect(await ferry.consistency(token, () => repo.get(written.id))).toMatchObject({ body: 'mine' });
    // A transaction's commit advances the token too.
    const viaTx = await ferry.consistency(null, async () => {
      const row = await ferry.transaction((tx) => tx.repo(notes).insert({ body: 'tx' }));
      return { row, seen: await repo.get(row.id) };
    });
    expect(viaTx.seen).toMatchObject({ body: 'tx' });
    // A scope that wrote nothing reads from the replica, which has not got these rows yet.
    routes.length = 0;
    expect(await ferry.consistency(null, () => repo.get(written.id))).toBeUndefined();
    expect(routes).toEqual([{ target: 'replica', reason: 'replica' }]);
    // Once the replica replays past the token, the same read goes there and finds the row.
    await cluster.setApplyDelay(0);
    await cluster.waitForCatchUp();
    routes.length = 0;
    expect(await ferry.consistency(token, () => repo.get(written.id))).toMatchObject({ body: 'mine' });
    expect(routes).toEqual([{ target: 'replica', reason: 'replica' }]);
    await expectFerryError(
      Promise.resolve().then(() => ferry.consistency('not-a-token', () => 1)),
      E_BAD_ARGUMENT,
      /not a read-your-writes token/,
    );
  });

  it('a select the replica refuses (a function that writes) runs on the primary; a real error is not retried', async () => {
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50 } });
    await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
    const db = ferry.db as Kysely<any>;
    const next = await db
      .selectNoFrom((eb) => eb.fn<string>('nextval', [eb.val('notes_id_seq')]).as('v'))
      .executeTakeFirstOrThrow();
    expect(Number(next.v)).toBeGreaterThan(0);
    expect(routes).toEqual([{ target: 'primary', reason: 'failed' }]);
    // Refused for being read-only is no sign of ill health: the replica keeps serving reads.
    expect(ferry.replicaStatus()[0]!.state).toBe('up');
    routes.length = 0;
    const err = await db
      .selectFrom('no_such_table')
      .selectAll()
      .execute()
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('42P01');
    expect(routes).toEqual([]);
  });

  it("time-based read-your-writes (readYourWrites: '1h') reads from the primary after a write", async () => {
    const { ferry, routes } = await open({ replicaOptions: { readYourWrites: '1h', maxLag: '1h', pollInterval: 50 } });
    await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
    const repo = ferry.repo(notes);
    await ferry.consistency(null, async () => {
      await repo.count();
      expect(routes).toEqual([{ target: 'replica', reason: 'replica' }]);
      await repo.insert({ body: 'timed' });
      expect(ferry.token()).toMatch(/^t\d+$/);
      routes.length = 0;
      await repo.count();
      expect(routes).toEqual([{ target: 'primary', reason: 'recent-write' }]);
    });
  });

  it('waits for the replica up to waitForReplica when asked to', async () => {
    await cluster.setApplyDelay(1_500);
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', waitForReplica: '30s', pollInterval: 50 } });
    const repo = ferry.repo(notes);
    const row = await ferry.consistency(null, async () => {
      const r = await repo.insert({ body: 'wait' });
      routes.length = 0;
      expect(await repo.get(r.id)).toMatchObject({ body: 'wait' });
      return r;
    });
    expect(row.body).toBe('wait');
    expect(routes).toEqual([{ target: 'replica', reason: 'replica' }]);
    await cluster.setApplyDelay(0);
    await cluster.waitForCatchUp();
  });

  it('skips a replica lagging beyond maxLag, and uses it again once it caught up', async () => {
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '300ms', pollInterval: 50 } });
    await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
    await cluster.setApplyDelay(60_000);
    // Keep the primary writing (behind Ferry's back), so the replica falls behind in time.
    const writer = setInterval(() => void writeBehindFerrysBack(cluster.primary.url, 'tick').catch(() => {}), 100);
    try {
      await until('replica lagging', () => ferry.replicaStatus()[0]!.state === 'lagging');
      const status = ferry.replicaStatus()[0]!;
      expect(status.healthy).toBe(false);
      expect(status.lagBytes).toBeGreaterThan(0);
      expect(status.lagSeconds).toBeGreaterThan(0.3);
      routes.length = 0;
      await ferry.repo(notes).count();
      expect(routes).toEqual([{ target: 'primary', reason: 'unavailable' }]);
    } finally {
      clearInterval(writer);
    }
    await cluster.setApplyDelay(0);
    await until('replica up again', () => ferry.replicaStatus()[0]!.state === 'up');
    routes.length = 0;
    await ferry.repo(notes).count();
    expect(routes).toEqual([{ target: 'replica', reason: 'replica' }]);
  });

  it('the session store reads sessions from the primary, never from a lagging replica', async () => {
    await cluster.setApplyDelay(60_000);
    const { ferry } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50 } });
    const client = new pg.Client({ connectionString: cluster.primary.url });
    await client.connect();
    try {
      // Revoked by another process a moment ago: the replica still has the session live.
      await client.query('update sessions set revoked = true where access_jti = $1', ['jti-1']);
    } finally {
      await client.end();
    }
    expect(
      await (ferry.db as Kysely<any>)
        .selectFrom('sessions')
        .select('revoked')
        .where('access_jti', '=', 'jti-1')
        .execute(),
    ).toEqual([{ revoked: false }]);
    const store = new PgStore({ db: ferry });
    expect(await store.read('u1', 'jti-1')).toBeNull();
    expect(await store.list('u1')).toEqual([]);
    await cluster.setApplyDelay(0);
    await cluster.waitForCatchUp();
  });

  it('connect() takes the replicas from DATABASE_REPLICA_URLS when the option is not given', async () => {
    const ferry = await connect({
      url: cluster.primary.url,
      schema,
      env: { DATABASE_REPLICA_URLS: cluster.replica.url },
    });
    opened.push(ferry);
    expect(ferry.replicaStatus().map((r) => r.url)).toEqual([cluster.replica.url]);
    const none = await connect({
      url: cluster.primary.url,
      schema,
      replicas: [],
      env: { DATABASE_REPLICA_URLS: cluster.replica.url },
    });
    opened.push(none);
    expect(none.replicaStatus()).toEqual([]);
  });

  it('exports replica lag and read routing as Prometheus metrics', async () => {
    const ferry = await connect({
      url: cluster.primary.url,
      replicas: [cluster.replica.url],
      schema,
      replicaOptions: { maxLag: '1h', pollInterval: 50 },
    });
    opened.push(ferry);
    const metrics = createMetrics(ferry, { registry: new Registry(), sampleInterval: 0 });
    try {
      await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
      await ferry.repo(notes).count();
      await ferry.primary(() => ferry.repo(notes).count());
      const families = parsePromText(await metrics.text());
      expect(conventionProblems(families)).toEqual([]);
      const replica = { replica: 'postgresql://postgres@127.0.0.1:' + cluster.replica.port + '/postgres' };
      expect(sampleValue(families, 'ferry_db_replica_up', replica)).toBe(1);
      expect(sampleValue(families, 'ferry_db_replica_lag_bytes', replica)).toBeGreaterThanOrEqual(0);
      expect(sampleValue(families, 'ferry_db_replica_lag_seconds', replica)).toBeGreaterThanOrEqual(0);
      expect(
        sampleValue(families, 'ferry_db_reads_routed_total', { target: 'replica', reason: 'replica' }),
      ).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'ferry_db_reads_routed_total', { target: 'primary', reason: 'forced' })).toBe(1);
    } finally {
      metrics.close();
    }
  });

  it('a hung replica (stopped, sockets open) is marked down within checkTimeout; new reads go to the primary', async () => {
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50, checkTimeout: 300 } });
    await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
    // Warm: an idle pooled connection to the replica exists, and would hang a read sent to it.
    await ferry.repo(notes).count();
    cluster.pauseReplica();
    try {
      await until('replica marked down', () => ferry.replicaStatus()[0]!.state === 'down');
      routes.length = 0;
      expect(await ferry.repo(notes).count({ body: 'mine' })).toBeGreaterThan(0);
      expect(routes).toEqual([{ target: 'primary', reason: 'unavailable' }]);
    } finally {
      cluster.resumeReplica();
    }
    await until('replica back up', () => ferry.replicaStatus()[0]!.state === 'up');
  });

  it('a replica killed mid-load: every read still succeeds, on the primary, until it is back', async () => {
    const { ferry, routes } = await open({ replicaOptions: { maxLag: '1h', pollInterval: 50 } });
    await until('replica up', () => ferry.replicaStatus()[0]!.state === 'up');
    const repo = ferry.repo(notes);
    let failed = 0;
    let ok = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          await repo.findMany({ where: { body: 'mine' }, limit: 5 });
          ok++;
        } catch {
          failed++;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    try {
      await until('reads served by the replica', () => routes.filter((r) => r.target === 'replica').length > 50);
      await cluster.killReplica();
      await until('replica marked down', () => ferry.replicaStatus()[0]!.state === 'down');
      const before = routes.length;
      await until('reads served by the primary', () => routes.length > before + 50);
      expect(routes.slice(before).every((r) => r.target === 'primary')).toBe(true);
      await cluster.startReplica();
      await until('replica back up', () => ferry.replicaStatus()[0]!.state === 'up');
      const again = routes.length;
      await until('reads back on the replica', () =>
        routes.slice(again).some((r) => r.target === 'replica' && r.reason === 'replica'),
      );
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(100);
  });
});

describe('failover: a multi-host primary URL finds the promoted replica', () => {
  let cluster: PgCluster;
  let ferry: Ferry<any> | undefined;

  beforeAll(async () => {
    cluster = await startPgCluster();
  });
  afterAll(async () => {
    await ferry?.close().catch(() => {});
    await cluster?.stop();
  });

  it('splits the hosts and keeps only a writable one with target_session_attrs=read-write', () => {
    expect(splitHosts('postgresql://u:p%40w@h1:1,h2:2/db?sslmode=disable&target_session_attrs=read-write')).toEqual({
      urls: ['postgresql://u:p%40w@h1:1/db?sslmode=disable', 'postgresql://u:p%40w@h2:2/db?sslmode=disable'],
      targetSessionAttrs: 'read-write',
    });
    expect(splitHosts('postgresql://h1/db')).toBeNull();
    expect(() => splitHosts('postgresql://h1,h2/db?target_session_attrs=standby')).toThrow(/not supported/);
  });

  it('after the primary dies and the replica is promoted, writes continue on new connections', async () => {
    // The replica is listed first: it is read-only, so writes must still land on the primary.
    const url =
      `postgresql://postgres@127.0.0.1:${cluster.replica.port},127.0.0.1:${cluster.primary.port}` +
      '/postgres?target_session_attrs=read-write';
    ferry = await connect({
      url,
      replicas: [cluster.replica.url],
      schema,
      replicaOptions: { pollInterval: 50 },
      pool: { connectionTimeoutMillis: 2_000 },
    });
    expect(ferry.url).toBe(url);
    await ferry.createSchema();
    const repo = ferry.repo(notes);
    const before = await repo.insert({ body: 'before failover' });
    await cluster.killPrimary();
    await cluster.promoteReplica();
    // Writes in flight at the crash may fail; the next new connection finds the promoted host.
    await until(
      'a write succeeds after the promotion',
      async () => {
        try {
          await repo.insert({ body: 'first after failover' });
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await repo.insert({ body: 'after failover', n: i });
      } catch {
        failed++;
      }
    }
    expect(failed).toBe(0);
    expect(await repo.count({ body: 'after failover' })).toBe(20);
    expect(await repo.get(before.id)).toMatchObject({ body: 'before failover' });
    await until('the old replica is reported promoted', () => ferry!.replicaStatus()[0]!.state === 'promoted');
  });
});
