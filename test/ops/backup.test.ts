import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { backup, prune } from '../../src/ops/backup.js';
import { type BackupManifest, readManifest, STABLE_TEXT_SETTINGS, tableStats } from '../../src/ops/manifest.js';
import { checkToolVersion, findPgTool, libpqTarget, runTool } from '../../src/ops/pg-tools.js';
import { restore, verifyAgainst } from '../../src/ops/restore.js';
import { type Backend, describeEachBackend, type ProvisionedDatabase, provisionDatabase } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

const FIXTURE = `
  create type mood as enum ('happy', 'sad', 'it''s complicated');
  create table users (
    id serial primary key,
    name text not null unique,
    mood mood,
    moods mood[],
    tags text[],
    data jsonb,
    raw json,
    avatar bytea,
    created timestamptz not null default '2026-01-02 03:04:05.678+02',
    score double precision,
    amount numeric(12, 4),
    span interval
  );
  comment on table users is 'people';
  create table posts (
    id bigint generated always as identity primary key,
    user_id integer not null references users (id) on delete cascade,
    body text,
    words integer generated always as (length(body)) stored
  );
  create index posts_user on posts (user_id);
  create table ferry_migrations (
    id text primary key, checksum text not null, applied_at timestamptz not null default now(),
    duration_ms integer not null, applied_by text not null
  );
  insert into ferry_migrations (id, checksum, duration_ms, applied_by)
    values ('20260101000000_init', 'abc', 3, 'test'), ('20260102000000_posts', 'def', 4, 'test');
  insert into users (name, mood, moods, tags, data, raw, avatar, score, amount, span) values
    ('ana', 'happy', '{happy,sad}', '{a,"b c",NULL}', '{"k": [1, 2.5, null], "é": "ü"}', '{"keep":  "spacing"}',
     '\\x00ff10', 0.1, 12345678.1234, '1 day 02:03:04'),
    ('Zoë 🚢', 'it''s complicated', '{}', null, 'null', null, '\\x', -1e300, -0.0001, null),
    ('tab	and
newline \\ backslash', null, null, '{}', '[]', '[]', null, 'NaN', null, '-3 months');
  insert into posts (user_id, body) values (1, 'hello'), (1, null), (2, 'ünïcödé ✓'), (3, '');
  delete from users where name = 'nobody';
  select setval(pg_get_serial_sequence('users', 'id'), 40);
`;

/** A fresh database on `backend`, dropped after the file. */
const provisioned: ProvisionedDatabase[] = [];
async function fresh(backend: Backend): Promise<string> {
  const p = await provisionDatabase(backend);
  provisioned.push(p);
  return p.url;
}

/** A data dir path that does not exist yet. */
const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-backup-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const p of provisioned) await p.cleanup();
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

async function withDb<T>(url: string, fn: (db: DbHandle) => Promise<T>): Promise<T> {
  const db = await openDatabase({ url });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function tableNames(url: string): Promise<string[]> {
  return withDb(url, (db) =>
    db.session(async (s) => {
      const { rows } = await s.query<{ n: string }>(
        "select relname as n from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' order by 1",
      );
      return rows.map((r) => r.n);
    }),
  );
}

/** New rows continue after the restored ones (serial and identity). */
async function expectSequencesContinue(url: string): Promise<void> {
  await withDb(url, (db) =>
    db.session(async (s) => {
      const u = await s.query<{ id: number }>("insert into users (name) values ('new') returning id");
      expect(u.rows[0]?.id).toBe(41);
      const p = await s.query<{ id: string }>('insert into posts (user_id, body) values (41, $1) returning id', ['x']);
      expect(Number(p.rows[0]?.id)).toBe(5);
    }),
  );
}

describeEachBackend('backup and restore', (t) => {
  const other: Backend = t.backend === 'postgres' ? 'pglite' : 'postgres';
  let out: string;
  let dir: string;
  let manifest: BackupManifest;

  beforeAll(async () => {
    const db = await t.open();
    await db.session((s) => s.query(FIXTURE));
    out = await tempDir();
    const result = await backup({ db, out });
    dir = result.dir;
    manifest = result.manifest;
  });

  it('writes a complete backup directory with a manifest of files, counts and checksums', async () => {
    expect(path.dirname(dir)).toBe(out);
    expect(path.basename(dir)).toMatch(/^\d{8}T\d{9}Z-/);
    expect(await readdir(out)).toEqual([path.basename(dir)]);
    expect(await readManifest(dir)).toEqual(manifest);
    expect(manifest.source.backend).toBe(t.backend);
    expect(manifest.lastMigration).toBe('20260102000000_posts');
    expect(manifest.notPortable).toEqual([]);
    const kinds = manifest.files.map((f) => f.kind);
    expect(kinds).toContain(t.backend === 'postgres' ? 'pg_dump' : 'pglite-datadir');
    expect(kinds).toContain('portable');
    expect(manifest.tables.map((x) => [x.table, x.rows])).toEqual([
      ['ferry_migrations', 2],
      ['posts', 4],
      ['users', 3],
    ]);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it(`restores into a fresh ${t.backend} database with equal counts and checksums, sequences continuing`, async () => {
    const target = t.backend === 'pglite' ? `pglite:${path.join(await tempDir(), 'db')}` : await fresh('postgres');
    const result = await restore({ backup: dir, target: { url: target }, verify: true });
    expect(result.method).toBe(t.backend === 'postgres' ? 'pg_restore' : 'pglite-datadir');
    expect(result.verified).toBe(true);
    await expectSequencesContinue(target);
  });

  it(`restores into ${other} (the portable dump) with equal counts and checksums, sequences continuing`, async () => {
    const target = await fresh(other);
    const result = await restore({ backup: dir, target: { url: target }, verify: true });
    expect(result.method).toBe('portable');
    await withDb(target, async (db) => {
      expect(await verifyAgainst(db, manifest)).toEqual([]);
      const users = await db.session((s) =>
        s.query<{ name: string; mood: string | null; avatar: Buffer | null; data: unknown }>(
          'select name, mood::text as mood, avatar, data from users order by id',
        ),
      );
      expect(users.rows.map((r) => r.name)).toEqual(['ana', 'Zoë 🚢', 'tab\tand\nnewline \\ backslash']);
      expect(users.rows[0]?.avatar).toEqual(Buffer.from([0, 255, 16]));
      expect(users.rows[2]?.mood).toBeNull();
      const history = await db.session((s) => s.query<{ id: string }>('select id from ferry_migrations order by id'));
      expect(history.rows.map((r) => r.id)).toEqual(['20260101000000_init', '20260102000000_posts']);
    });
    await expectSequencesContinue(target);
  });

  it('refuses a truncated or bit-flipped backup file before touching the target', async () => {
    const target = await fresh(other);
    for (const damage of ['truncate', 'flip'] as const) {
      for (const file of manifest.files) {
        const copy = path.join(await tempDir(), 'b');
        await cp(dir, copy, { recursive: true });
        const victim = path.join(copy, file.name);
        if (damage === 'truncate') await truncate(victim, Math.floor(file.bytes / 2));
        else {
          const bytes = await readFile(victim);
          const at = Math.floor(bytes.length / 2);
          bytes[at] = (bytes[at] as number) ^ 0x01;
          await writeFile(victim, bytes);
        }
        const err = await expectFerryError(restore({ backup: copy, target: { url: target } }), 'E_BACKUP_CORRUPT');
        expect(err.message).toContain(victim);
        expect(err.message).toMatch(damage === 'truncate' ? /bytes; the manifest says/ : /sha256 .* the manifest says/);
      }
    }
    expect(await tableNames(target)).toEqual([]);
  });

  it('refuses a non-empty target naming its tables; --clean replaces it', async () => {
    const target = await fresh(t.backend);
    await withDb(target, (db) =>
      db.session((s) => s.query('create table keepme (x int); insert into keepme values (1)')),
    );
    const err = await expectFerryError(restore({ backup: dir, target: { url: target } }), 'E_BACKUP_TARGET_NOT_EMPTY');
    expect(err.message).toContain('public.keepme');
    expect(await tableNames(target)).toEqual(['keepme']);
    await restore({ backup: dir, target: { url: target }, clean: true, verify: true });
    expect(await tableNames(target)).toEqual(['ferry_migrations', 'posts', 'users']);
  });

  it('verify names the tables that differ from the manifest', async () => {
    const target = await fresh(other);
    await restore({ backup: dir, target: { url: target } });
    await withDb(target, async (db) => {
      await db.session((s) =>
        s.query("update users set tags = '{changed}' where name = 'ana'; delete from posts where body = ''"),
      );
      const diffs = await verifyAgainst(db, manifest);
      expect(diffs.map((d) => d.table)).toEqual(['posts', 'users']);
      expect(diffs[0]?.actual?.rows).toBe(3);
      expect(diffs[1]?.actual?.rows).toBe(3);
    });
    // A manifest that disagrees with what it restores: the restore itself reports it.
    const copy = path.join(await tempDir(), 'b');
    await cp(dir, copy, { recursive: true });
    const tampered = JSON.parse(await readFile(path.join(copy, 'manifest.json'), 'utf8')) as BackupManifest;
    const users = tampered.tables.find((x) => x.table === 'users');
    if (users) users.checksum = '0'.repeat(32);
    await writeFile(path.join(copy, 'manifest.json'), JSON.stringify(tampered));
    const err = await expectFerryError(
      restore({ backup: copy, target: { url: await fresh(other) }, verify: true }),
      'E_BACKUP_VERIFY',
    );
    expect(err.details.tables).toEqual(['users']);
    expect(err.message).toMatch(/"users" has the expected 3 rows but different content/);
  });

  it('--keep prunes the oldest complete backups only', async () => {
    const db = await t.open();
    const keepOut = await tempDir();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      made.push((await backup({ db, out: keepOut, now: new Date(Date.UTC(2026, 0, 1 + i)) })).dir);
    }
    await cp(made[0] as string, path.join(keepOut, '.partial-leftover'), { recursive: true });
    const last = await backup({ db, out: keepOut, keep: 2, now: new Date(Date.UTC(2026, 0, 9)) });
    expect(last.pruned).toEqual([made[0], made[1]]);
    expect((await readdir(keepOut)).sort()).toEqual(
      ['.partial-leftover', path.basename(made[2] as string), path.basename(last.dir)].sort(),
    );
    expect(await prune(keepOut, 5)).toEqual([]);
  });
});

describe('backup tools', () => {
  it('a missing pg_dump fails before anything is written, saying how to install it', async () => {
    const p = await provisionDatabase('postgres');
    provisioned.push(p);
    const out = await tempDir();
    await withDb(p.url, async (db) => {
      await expectFerryError(
        backup({ db, out, env: { ...process.env, PATH: '/nonexistent' } }),
        'E_BACKUP_TOOL',
        /pg_dump was not found on the PATH.*apt-get install postgresql-client-15/,
      );
    });
    expect(await readdir(out)).toEqual([]);
  });

  it('checksums hash the text form: hash_record_extended would tell the same enum label apart by its OID', async () => {
    const p = await provisionDatabase('postgres');
    provisioned.push(p);
    await withDb(p.url, async (db) => {
      // The same data under two enum types, as the same schema gets different pg_enum OIDs in two databases.
      await db.session((s) =>
        s.query(`create type e1 as enum ('x', 'y'); create type e2 as enum ('x', 'y');
          create table a (v e1); create table b (v e2); insert into a values ('x'), ('y'); insert into b values ('x'), ('y')`),
      );
      const byValue = await db.session((s) =>
        s.query<{ a: string; b: string }>(
          `select (select sum(hash_record_extended(row(v), 0)) from a)::text as a,
                  (select sum(hash_record_extended(row(v), 0)) from b)::text as b`,
        ),
      );
      expect(byValue.rows[0]?.a).not.toBe(byValue.rows[0]?.b);
      const stats = await db.session(async (s) => {
        await s.query('begin');
        try {
          await s.query(STABLE_TEXT_SETTINGS);
          return await tableStats(s);
        } finally {
          await s.query('rollback');
        }
      });
      expect(stats.map((x) => x.table)).toEqual(['a', 'b']);
      expect(stats[0]?.checksum).toBe(stats[1]?.checksum);
    });
  });

  it('passes the password to pg_dump in the environment, never on the command line or in its errors', async () => {
    const secret = 'S3cret-Passw0rd-Long-Enough';
    const url = `postgres://postgres:${secret}@127.0.0.1:5432/ferry_no_such_database_here`;
    const target = libpqTarget(url, { PATH: '/usr/bin' });
    expect(target.url).not.toContain(secret);
    expect(target.env.PGPASSWORD).toBe(secret);
    const tool = await findPgTool('pg_dump', 15);
    const err = await expectFerryError(
      runTool(tool.path, ['-Fc', '-f', '/dev/null', target.url], { env: target.env, secretsOf: url }),
      'E_BACKUP_TOOL',
      /pg_dump failed \(exit code 1\).*ferry_no_such_database_here/s,
    );
    expect(err.message).not.toContain(secret);
  });

  it('names both versions when pg_dump is older than the server (PGlite is PostgreSQL 18)', async () => {
    const tool = await findPgTool('pg_dump', 18);
    const err = await expectFerryError(
      Promise.resolve().then(() => checkToolVersion(tool, '18.6', 18)),
      'E_BACKUP_TOOL',
    );
    expect(err.message).toContain(`version ${tool.major}`);
    expect(err.message).toContain('PostgreSQL 18.6');
    expect(err.message).toContain('postgresql-client-18');
  });
});

describeEachBackend('a backup with objects the portable dump cannot carry', (t) => {
  const other: Backend = t.backend === 'postgres' ? 'pglite' : 'postgres';
  let dir: string;
  let manifest: BackupManifest;

  beforeAll(async () => {
    const db = await t.open();
    await db.session((s) =>
      s.query(`create table items (id int primary key, price int);
        insert into items values (1, 10), (2, 20);
        create view cheap as select id from items where price < 15;
        create function double_it(x int) returns int language sql as 'select x * 2';`),
    );
    const result = await backup({ db, out: await tempDir() });
    dir = result.dir;
    manifest = result.manifest;
  });

  it('lists them in the manifest and writes no portable dump', () => {
    expect(manifest.notPortable).toEqual(['function double_it(integer)', 'view cheap']);
    expect(manifest.files.map((f) => f.kind)).not.toContain('portable');
  });

  it(`refuses to restore into ${other}, naming what would be lost, without touching the target`, async () => {
    const target = await fresh(other);
    const err = await expectFerryError(restore({ backup: dir, target: { url: target } }), 'E_BACKUP_UNSUPPORTED');
    expect(err.message).toContain('function double_it(integer), view cheap');
    expect(await tableNames(target)).toEqual([]);
  });

  it(`restores everything into ${t.backend}`, async () => {
    const target = t.backend === 'pglite' ? `pglite:${path.join(await tempDir(), 'db')}` : await fresh('postgres');
    await restore({ backup: dir, target: { url: target }, verify: true });
    await withDb(target, async (db) => {
      const { rows } = await db.session((s) =>
        s.query<{ id: number; d: number }>('select id, double_it(id) as d from cheap'),
      );
      expect(rows).toEqual([{ id: 1, d: 2 }]);
    });
  });
});
