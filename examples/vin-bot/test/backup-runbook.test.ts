/**
 * The backup runbook of examples/vin-bot/README.md, run as written through
 * the real `ferry` binary from the example's folder (its ferry.config.ts), on
 * both backends: back up a database the bot has used, lose data (history
 * deleted, a vehicle changed, the users table dropped), restore with
 * `--clean --verify`, clear the bot's Redis namespace (clear-cache.ts), and
 * check every row is back, the migration history too, and the bot serves
 * from it; the restore drill into a scratch PGlite; and a damaged backup
 * refused before anything is touched. Redis is the shared server, under a
 * namespace of this file's own.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Ferry } from '../../../src/index.js';
import type { BackupManifest } from '../../../src/ops/manifest.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { createLocalDecoder } from '../decoder.js';
import { appSchema, type BotLogger, createVinBot, type DB } from '../vin-service.js';

const bin = new URL('../../../bin/ferry.mjs', import.meta.url).pathname;
const exampleDir = new URL('..', import.meta.url).pathname;
const migrations = new URL('../migrations', import.meta.url).pathname;
const clearCacheScript = new URL('../clear-cache.ts', import.meta.url).pathname;
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const TESLA = '5YJ3E1EA7KF317000';
const quiet: BotLogger = { info: () => {}, warn: () => {} };

let admin: Redis | undefined;
const namespaces: string[] = [];
async function redisKeys(pattern: string): Promise<string[]> {
  admin ??= new Redis(REDIS_URL);
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}
afterAll(async () => {
  for (const ns of namespaces) {
    const keys = await redisKeys(`${ns}*`);
    if (keys.length > 0) await admin?.unlink(...keys);
  }
  await admin?.quit();
});

/** `npx ferry ...` in examples/vin-bot, with DATABASE_URL as the runbook sets it. */
function ferryCli(args: string[], databaseUrl: string) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: exampleDir,
    env: { ...process.env, DATABASE_URL: databaseUrl, FERRY_DATA_DIR: undefined, REDIS_URL: undefined },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every row the bot keeps, in a stable order (timestamps as ISO strings). */
async function snapshot(ferry: Ferry<DB>) {
  const q = (text: string) =>
    sql
      .raw(text)
      .execute(ferry.db)
      .then((r) => JSON.parse(JSON.stringify(r.rows)));
  return {
    users: await q('select * from users order by id'),
    vehicles: await q('select * from vehicles order by id'),
    history: await q('select * from user_vin_history order by id'),
    sessions: await q('select id, user_id, data, expires_at, revoked_at from sessions order by id'),
  };
}

describeEachBackend('vin-bot backup runbook', (t) => {
  let scratch: string;
  let backups: string;
  let before: Awaited<ReturnType<typeof snapshot>>;
  let backupDir: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'vinbot-backup-'));
    backups = join(scratch, 'backups');
    // The bot in use: users with preferences, vehicles, history, a live session.
    const ferry = await connect({ url: t.url(), schema: appSchema });
    try {
      await ferry.migrate(migrations);
      const bot = createVinBot({ ferry, redis: null, logger: quiet, decoder: createLocalDecoder() });
      const alice = { id: 31, username: 'alice', first_name: 'Alice' };
      await bot.setPreferences(alice, { language: 'de', units: 'km' });
      await bot.lookupVin(alice, '1HGBH41JXMN109186');
      await bot.lookupVin({ id: 32, username: 'bob' }, 'WBADT43493G095554');
      await bot.startSession(alice);
      await bot.close();
      before = await snapshot(ferry);
    } finally {
      await ferry.close();
    }
    expect(before.users).toHaveLength(2);
    expect(before.history).toHaveLength(2);
  }, 60_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('1. nightly: `ferry backup --out backups --keep 7` writes a backup with its manifest', {
    timeout: 120_000,
  }, () => {
    const made = ferryCli(['backup', '--out', backups, '--keep', '7', '--json'], t.url());
    expect(made.code, made.err).toBe(0);
    const report = JSON.parse(made.out);
    expect(report.ok).toBe(true);
    backupDir = report.dir;
    expect(readdirSync(backups)).toEqual([backupDir.split('/').at(-1)]);
    const manifest = report.manifest as BackupManifest;
    const counts = Object.fromEntries(manifest.tables.map((x) => [x.table.replace(/^public\./, ''), x.rows]));
    expect(counts).toMatchObject({ users: 2, vehicles: 2, user_vin_history: 2, sessions: 1 });
    expect(report.manifest.lastMigration).toBe(readdirSync(migrations).sort().at(-1));
  });

  it('2. a damaged backup is refused (exit 1) before the database is touched', { timeout: 120_000 }, async () => {
    const copy = join(scratch, 'damaged');
    cpSync(backupDir, copy, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8')) as BackupManifest;
    const biggest = [...manifest.files].sort((a, b) => b.bytes - a.bytes)[0]!;
    truncateSync(join(copy, biggest.name), Math.floor(biggest.bytes / 2));
    const refused = ferryCli(['restore', copy, '--clean', '--verify', '--json'], t.url());
    expect(refused.code).toBe(1);
    const { error } = JSON.parse(refused.out);
    expect(error.code).toBe('E_BACKUP_CORRUPT');
    expect(error.message).toContain(biggest.name);
    const ferry = await connect({ url: t.url(), schema: appSchema });
    try {
      expect(await snapshot(ferry)).toEqual(before);
    } finally {
      await ferry.close();
    }
  });

  it('3. after losing data, `ferry restore <backup> --clean --verify` brings every row back', {
    timeout: 180_000,
  }, async () => {
    const namespace = `vinbk${randomBytes(4).toString('hex')}`;
    namespaces.push(namespace);
    const ferry = await connect({ url: t.url(), schema: appSchema });
    try {
      // After the backup, a vehicle is decoded and cached in Redis: its id is not in the backup.
      const bot = createVinBot({ ferry, redis: REDIS_URL, namespace, logger: quiet, decoder: createLocalDecoder() });
      expect(await bot.cache.ready(5_000)).toBe(true);
      expect(await bot.lookupVin({ id: 33 }, TESLA)).toMatchObject({ status: 'ok', source: 'decoder' });
      await bot.close();
      expect(await redisKeys(`${namespace}~v:*`)).toContain(`${namespace}~v:vin:${TESLA}`);
      await ferry.db.deleteFrom('user_vin_history').execute();
      await ferry.db.updateTable('vehicles').set({ make: 'WRONG' }).execute();
      await sql`drop table users cascade`.execute(ferry.db);
    } finally {
      await ferry.close();
    }
    const restored = ferryCli(['restore', backupDir, '--clean', '--verify', '--json'], t.url());
    expect(restored.code, restored.err).toBe(0);
    expect(JSON.parse(restored.out)).toMatchObject({ ok: true, verified: true });

    const status = ferryCli(['migrate', 'status', '--json'], t.url());
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ pending: [] });

    // Then the cache: its Tesla names a vehicle id the restored database does not have.
    const cleared = spawnSync(process.execPath, ['--import', 'tsx', clearCacheScript], {
      cwd: exampleDir,
      env: { ...process.env, REDIS_URL, VINBOT_NAMESPACE: namespace },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(cleared.status, cleared.stderr).toBe(0);
    expect(cleared.stdout).toContain(`cleared the "${namespace}" cache`);
    expect(await redisKeys(`${namespace}~v:*`)).toEqual([]);

    const after = await connect({ url: t.url(), schema: appSchema });
    try {
      expect(await snapshot(after)).toEqual(before);
      // The bot runs on the restored database: the vehicle comes from Postgres, not the decoder.
      const bot = createVinBot({
        ferry: after,
        redis: REDIS_URL,
        namespace,
        logger: quiet,
        decoder: createLocalDecoder(),
      });
      expect(await bot.cache.ready(5_000)).toBe(true);
      expect(await bot.lookupVin({ id: 31 }, '1HGBH41JXMN109186')).toMatchObject({ status: 'ok', source: 'postgres' });
      expect((await bot.history({ id: 31 })).length).toBe(2);
      // The Tesla is decoded again (a new row), not served from a stale cache entry.
      expect(await bot.lookupVin({ id: 33 }, TESLA)).toMatchObject({ status: 'ok', source: 'decoder' });
      await bot.close();
    } finally {
      await after.close();
    }
  });

  it('4. the restore drill: into a scratch PGlite, checked, leaving production alone', {
    timeout: 120_000,
  }, async () => {
    const drill = `pglite:${join(scratch, 'drill')}`;
    const r = ferryCli(['restore', backupDir, '--url', drill, '--verify', '--json'], t.url());
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, verified: true });
    const copy = await connect({ url: drill, schema: appSchema });
    try {
      expect((await snapshot(copy)).vehicles).toEqual(before.vehicles);
    } finally {
      await copy.close();
    }
  });
});
