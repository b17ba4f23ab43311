import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lockFileFor } from '../../src/db/data-dir-lock.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { E_CLOSED, E_DATA_DIR_LOCKED, E_PGLITE_REENTRANT } from '../../src/errors.js';
import { freshPgliteDatabase, type ProvisionedDatabase, TEST_BACKENDS } from '../support/backends.js';
import { rejection } from '../support/expect-error.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOLDER = fileURLToPath(new URL('../support/hold-database.ts', import.meta.url));

/** Fails instead of hanging when `promise` does not settle in time. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms)),
  ]);
}

const hasPglite = TEST_BACKENDS.includes('pglite');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(hasPglite)('PGlite dialect: transactions and concurrency', () => {
  let h: DbHandle;
  let db: Kysely<any>;

  beforeAll(async () => {
    h = await openDatabase({ url: 'memory://' });
    db = h.db;
    await sql`create table items (id serial primary key, name text not null, qty int not null default 0)`.execute(db);
    await sql`create table counter (id int primary key, n int not null)`.execute(db);
  });
  afterAll(() => h?.close());
  beforeEach(async () => {
    await sql`truncate items restart identity`.execute(db);
    await sql`delete from counter`.execute(db);
    await sql`insert into counter values (1, 0)`.execute(db);
  });

  const names = async () => (await db.selectFrom('items').select('name').orderBy('id').execute()).map((r) => r.name);

  it('commits a transaction', async () => {
    const result = await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name: 'a' }).execute();
      return 'done';
    });
    expect(result).toBe('done');
    expect(await names()).toEqual(['a']);
  });

  it('rolls back when the callback throws, and the connection is usable afterwards', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'a' }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await names()).toEqual([]);
    expect(h.poolStats()).toEqual({ total: 1, idle: 1, waiting: 0, max: 1 });
  });

  it('rolls back after a failed statement (aborted transaction)', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ name: 'a' }).execute();
        await trx.insertInto('items').values({ name: null }).execute();
      }),
    ).rejects.toMatchObject({ code: '23502' });
    expect(await names()).toEqual([]);
  });

  it('supports savepoints on controlled transactions', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('items').values({ name: 'before' }).execute();
    const sp = await trx.savepoint('sp1').execute();
    await sp.insertInto('items').values({ name: 'discarded' }).execute();
    const back = await sp.rollbackToSavepoint('sp1').execute();
    await back.insertInto('items').values({ name: 'after' }).execute();
    const sp2 = await back.savepoint('sp2').execute();
    await sp2.insertInto('items').values({ name: 'kept' }).execute();
    const released = await sp2.releaseSavepoint('sp2').execute();
    await released.commit().execute();
    expect(await names()).toEqual(['before', 'after', 'kept']);
  });

  it('rolls back a controlled transaction', async () => {
    const trx = await db.startTransaction().execute();
    await trx.insertInto('items').values({ name: 'x' }).execute();
    await trx.rollback().execute();
    expect(await names()).toEqual([]);
  });

  it('honours isolation level and access mode', async () => {
    const level = await db
      .transaction()
      .setIsolationLevel('serializable')
      .execute(
        async (trx) =>
          (await sql<{ l: string }>`select current_setting('transaction_isolation') as l`.execute(trx)).rows[0]?.l,
      );
    expect(level).toBe('serializable');
    await expect(
      db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.insertInto('items').values({ name: 'x' }).execute()),
    ).rejects.toMatchObject({ code: '25006' });
  });

  it('serialises concurrent transactions: no interleaving, no lost updates', async () => {
    const events: string[] = [];
    const bump = (label: string) =>
      db.transaction().execute(async (trx) => {
        events.push(`${label}:begin`);
        const { n } = await trx.selectFrom('counter').select('n').where('id', '=', 1).executeTakeFirstOrThrow();
        await sleep(30); // a real interleaving would lose one of the updates here
        await trx
          .updateTable('counter')
          .set({ n: n + 1 })
          .where('id', '=', 1)
          .execute();
        events.push(`${label}:end`);
      });
    const outside = (async () => {
      await sleep(5);
      const row = await db.selectFrom('counter').select('n').executeTakeFirstOrThrow();
      events.push(`outside:${row.n}`);
    })();
    await Promise.all([bump('A'), bump('B'), bump('C'), outside]);
    expect(await db.selectFrom('counter').select('n').executeTakeFirstOrThrow()).toEqual({ n: 3 });
    // Each transaction's begin is immediately followed by its own end.
    const txEvents = events.filter((e) => !e.startsWith('outside'));
    for (let i = 0; i < txEvents.length; i += 2) {
      expect(txEvents[i]!.split(':')[0]).toBe(txEvents[i + 1]!.split(':')[0]);
    }
    // The plain query waited for the first transaction and saw its committed result.
    expect(events.indexOf('A:end')).toBeLessThan(events.findIndex((e) => e.startsWith('outside')));
  });

  it('throws E_PGLITE_REENTRANT instead of deadlocking when a transaction uses the outer db', async () => {
    const err = await rejection(
      within(
        5_000,
        db.transaction().execute(async (trx) => {
          await trx.insertInto('items').values({ name: 'inside' }).execute();
          await db.selectFrom('items').selectAll().execute(); // the mistake
        }),
      ),
    );
    expect(err.code).toBe(E_PGLITE_REENTRANT);
    expect(err.message).toMatch(/one connection/);
    expect(err.message).toMatch(/trx/);
    expect(await names()).toEqual([]); // rolled back
    expect(h.poolStats().idle).toBe(1);
  });

  it('detects re-entrancy from code called deep inside the callback, and nested transactions', async () => {
    const lookup = async () => {
      await sleep(1);
      return db.selectFrom('items').selectAll().execute();
    };
    const deep = await rejection(
      within(
        5_000,
        db.transaction().execute(() => Promise.resolve().then(lookup)),
      ),
    );
    expect(deep.code).toBe(E_PGLITE_REENTRANT);
    const nested = await rejection(
      within(
        5_000,
        db.transaction().execute(() => db.transaction().execute(async () => {})),
      ),
    );
    expect(nested.code).toBe(E_PGLITE_REENTRANT);
  });

  it('does not mistake concurrent callers for re-entrancy after a transaction', async () => {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('items').values({ name: 'a' }).execute();
    });
    // Same async context as the finished transaction's caller: must just work.
    await expect(db.selectFrom('items').selectAll().execute()).resolves.toHaveLength(1);
    const later = await new Promise<unknown[]>((resolve, reject) => {
      db.transaction()
        .execute(async (trx) => {
          // Work scheduled from inside, but run after the transaction ended.
          setTimeout(() => void db.selectFrom('items').selectAll().execute().then(resolve, reject), 50);
          await trx.insertInto('items').values({ name: 'b' }).execute();
        })
        .catch(reject);
    });
    expect(later).toHaveLength(2);
  });

  it('reports affected rows as bigint and streams results in chunks', async () => {
    const inserted = await db
      .insertInto('items')
      .values([{ name: 'a' }, { name: 'b' }, { name: 'c' }])
      .executeTakeFirst();
    expect(inserted.numInsertedOrUpdatedRows).toBe(3n);
    const updated = await db.updateTable('items').set({ qty: 5 }).where('name', '!=', 'c').executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
    const deleted = await db.deleteFrom('items').where('name', '=', 'c').executeTakeFirst();
    expect(deleted.numDeletedRows).toBe(1n);

    await db
      .insertInto('items')
      .values(Array.from({ length: 7 }, (_, i) => ({ name: `s${i}` })))
      .execute();
    const seen: string[] = [];
    for await (const row of db.selectFrom('items').select('name').orderBy('id').stream(3)) seen.push(row.name);
    expect(seen).toEqual(['a', 'b', 's0', 's1', 's2', 's3', 's4', 's5', 's6']);
  });

  it('runs parameterless multi-statement SQL like pg does (simple protocol, no rows)', async () => {
    const res = await sql`insert into items (name) values ('m1'); insert into items (name) values ('m2')`.execute(db);
    expect(res.rows).toEqual([]);
    expect(await names()).toEqual(['m1', 'm2']);
  });

  it('shares the one connection between Kysely instances built on the same dialect', async () => {
    const { Kysely } = await import('kysely');
    const other = new Kysely<any>({ dialect: h.dialect });
    const order: string[] = [];
    await Promise.all([
      db.transaction().execute(async () => {
        order.push('t1');
        await sleep(20);
        order.push('t1 end');
      }),
      other.transaction().execute(async () => {
        order.push('t2');
      }),
    ]);
    expect(order).toEqual(['t1', 't1 end', 't2']);
    await other.destroy(); // must not close the shared instance
    expect(await h.ping()).toBeGreaterThanOrEqual(0);
  });
});

describe.runIf(hasPglite)('PGlite on disk: persistence, close and the data-dir lock', () => {
  let store: ProvisionedDatabase;
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    store = await freshPgliteDatabase();
    dataDir = store.url.slice('pglite:'.length);
  });
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });
  afterAll(() => store?.cleanup());

  it('keeps data across close and reopen, and close is idempotent', async () => {
    const first = await openDatabase({ url: store.url });
    expect(first.backend).toBe('pglite');
    expect(first.redactedUrl).toBe(store.url);
    expect(await first.serverVersion()).toMatch(/^18\./);
    await sql`create table notes (id int primary key, body text)`.execute(first.db);
    await sql`insert into notes values (1, 'persisted')`.execute(first.db);
    await first.close();
    await first.close();
    expect(existsSync(lockFileFor(dataDir))).toBe(false);
    expect((await rejection(first.ping())).code).toBe(E_CLOSED);
    expect((await rejection(first.db.selectFrom('notes').selectAll().execute())).code).toBe(E_CLOSED);

    const second = await openDatabase({ url: store.url });
    try {
      expect(await second.db.selectFrom('notes').selectAll().execute()).toEqual([{ id: 1, body: 'persisted' }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a second open of the same directory in one process', async () => {
    const first = await openDatabase({ url: store.url });
    try {
      const err = await rejection(openDatabase({ url: `pglite://${dataDir}/` }));
      expect(err.code).toBe(E_DATA_DIR_LOCKED);
      expect(err.message).toContain(dataDir);
      expect(err.message).toMatch(/already open in this process/);
      expect(err.details).toMatchObject({ dataDir, pid: process.pid });
    } finally {
      await first.close();
    }
    const again = await openDatabase({ url: store.url });
    await again.close();
  });

  function spawnHolder(): Promise<{ child: ChildProcess; pid: number }> {
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, store.url], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk) => {
        out += chunk;
        const m = /ready (\d+)/.exec(out);
        if (m) resolve({ child, pid: Number(m[1]) });
      });
      child.stderr!.on('data', (chunk) => {
        err += chunk;
      });
      child.on('exit', (code) => reject(new Error(`holder exited with ${code}: ${err}`)));
    });
  }

  const exited = (child: ChildProcess) =>
    new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));

  it('refuses a directory held by another process, naming it; works once it exits cleanly', async () => {
    const { child, pid } = await spawnHolder();
    const err = await rejection(openDatabase({ url: store.url }));
    expect(err.code).toBe(E_DATA_DIR_LOCKED);
    expect(err.message).toContain(`process ${pid}`);
    expect(err.message).toContain(dataDir);
    expect(err.message).toMatch(/FERRY_DATA_DIR/);
    expect(err.details).toMatchObject({ pid, dataDir });

    child.stdin!.end(); // holder closes its handle and exits
    await exited(child);
    expect(existsSync(lockFileFor(dataDir))).toBe(false);
    const h = await openDatabase({ url: store.url });
    await h.close();
  });

  it('takes over the lock of a process that died without releasing it', async () => {
    const { child, pid } = await spawnHolder();
    child.kill('SIGKILL');
    await exited(child);
    expect(JSON.parse(readFileSync(lockFileFor(dataDir), 'utf8'))).toMatchObject({ pid });
    const h = await openDatabase({ url: store.url });
    try {
      expect(JSON.parse(readFileSync(lockFileFor(dataDir), 'utf8'))).toMatchObject({ pid: process.pid });
      expect(await h.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await h.close();
    }
  });

  it('takes over a hand-written stale lock (dead pid)', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await exited(dead);
    writeFileSync(
      lockFileFor(dataDir),
      JSON.stringify({ pid: dead.pid, hostname: 'elsewhere', startedAt: '2020-01-01T00:00:00Z', token: 'x' }),
    );
    const h = await openDatabase({ url: store.url });
    await h.close();
    expect(existsSync(lockFileFor(dataDir))).toBe(false);
  });
});
