/**
 * `ferry partitions create <table> --ahead N --every month|week|day` through
 * the real CLI, on PostgreSQL and on the embedded PGlite database: the
 * partitions of the current period and the N after it, idempotent, usable
 * (rows land in them, the parent's index is on them), invisible to
 * introspection (pull), `--dry-run`, `--json`, and a clear error for every
 * table that is not range-partitioned on one time column.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { adminQuery, adminUrl } from '../support/admin.js';
import { TEST_BACKENDS } from '../support/backends.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const dbName = `i17_part_cli_${process.pid}`;
const pgUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

const UP = `
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, kind text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_rest PARTITION OF events DEFAULT;
CREATE INDEX events_kind_idx ON events (kind);
CREATE TABLE days (d date NOT NULL, v int) PARTITION BY RANGE (d);
CREATE TABLE logs (n int NOT NULL) PARTITION BY RANGE (n);
CREATE TABLE tags (k text NOT NULL) PARTITION BY LIST (k);
CREATE TABLE pair (a date NOT NULL, b date NOT NULL) PARTITION BY RANGE (a, b);
CREATE TABLE capped (at timestamp NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE capped_all PARTITION OF capped FOR VALUES FROM ('2020-01-01') TO (MAXVALUE);
CREATE TABLE plain (id int);
`;
const DOWN = 'DROP TABLE events, days, logs, tags, pair, capped, plain;\n';

const project = mkdtempSync(join(tmpdir(), 'ferry-part-cli-'));
afterAll(async () => {
  rmSync(project, { recursive: true, force: true });
  if (TEST_BACKENDS.includes('postgres')) await adminQuery(`drop database if exists ${dbName} with (force)`);
});

for (const backend of TEST_BACKENDS) {
  describe(`ferry partitions create [${backend}]`, () => {
    const dir = join(project, backend);
    const env =
      backend === 'postgres' ? { DATABASE_URL: pgUrl } : { DATABASE_URL: undefined, FERRY_DATA_DIR: join(dir, 'data') };
    const ferry = (args: string[]) => {
      const r = spawnSync(process.execPath, [bin, ...args], {
        cwd: dir,
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const json = (args: string[]) => {
      const r = ferry([...args, '--json']);
      return { code: r.code, body: JSON.parse(r.out), err: r.err };
    };

    beforeAll(async () => {
      if (backend === 'postgres') {
        await adminQuery(`drop database if exists ${dbName} with (force)`);
        await adminQuery(`create database ${dbName}`);
      }
      const m = join(dir, 'migrations', '20260101000000_partitioned');
      mkdirSync(m, { recursive: true });
      writeFileSync(join(m, 'up.sql'), UP);
      writeFileSync(join(m, 'down.sql'), DOWN);
      writeFileSync(join(dir, 'ferry.config.ts'), 'export default {};\n');
      const up = ferry(['migrate', 'up']);
      expect(up.code, up.err).toBe(0);
    }, 120_000);

    it('creates the current and the next N months, idempotently; rows land in them; pull does not see them', {
      timeout: 180_000,
    }, async () => {
      const first = json([
        'partitions',
        'create',
        'events',
        '--ahead',
        '2',
        '--every',
        'month',
        '--from',
        '2026-11-15T10:00:00Z',
      ]);
      expect(first.code, first.err).toBe(0);
      expect(first.body).toMatchObject({
        ok: true,
        table: 'events',
        column: 'at',
        type: 'timestamp with time zone',
        every: 'month',
        until: "'2027-02-01 00:00:00+00'",
        dryRun: false,
      });
      expect(first.body.created.map((p: { name: string; from: string; to: string }) => [p.name, p.from, p.to])).toEqual(
        [
          ['events_2026_11', "'2026-11-01 00:00:00+00'", "'2026-12-01 00:00:00+00'"],
          ['events_2026_12', "'2026-12-01 00:00:00+00'", "'2027-01-01 00:00:00+00'"],
          ['events_2027_01', "'2027-01-01 00:00:00+00'", "'2027-02-01 00:00:00+00'"],
        ],
      );

      // Twice: nothing new.
      const again = ferry([
        'partitions',
        'create',
        'events',
        '--ahead',
        '2',
        '--every',
        'month',
        '--from',
        '2026-11-15T10:00:00Z',
      ]);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toContain("events: partitions already reach '2027-02-01 00:00:00+00'; nothing to create");

      // A month later: continues from the last partition.
      const later = ferry(['partitions', 'create', 'events', '--ahead', '2', '--from', '2026-12-31T23:59:59Z']);
      expect(later.code, later.err).toBe(0);
      expect(later.out).toContain(
        "created events_2027_02 FOR VALUES FROM ('2027-02-01 00:00:00+00') TO ('2027-03-01 00:00:00+00')",
      );
      expect(later.out).toMatch(/events: 1 partition\(s\) created, now reaching '2027-03-01 00:00:00\+00'/);

      // Each partition takes its rows (not the default one) and carries the parent's index; pull leaves them out.
      const pulled = ferry(['pull']);
      expect(pulled.code, pulled.err).toBe(0);
      expect(pulled.out).toContain('partition("events_rest", events, "default")');
      expect(pulled.out).not.toContain('events_2026_11');
      const db = await openDatabase(backend === 'postgres' ? { url: pgUrl } : { dataDir: join(dir, 'data') });
      try {
        await sql`insert into events (id, at) values (1, '2026-12-24 12:00:00+00')`.execute(db.db);
        const { rows } = await sql<{ part: string }>`select tableoid::regclass::text as part from events`.execute(
          db.db,
        );
        expect(rows).toEqual([{ part: 'events_2026_12' }]);
        const { rows: idx } = await sql<{ idx: string }>`
          select indexrelid::regclass::text as idx from pg_index where indrelid = 'events_2026_12'::regclass order by 1`.execute(
          db.db,
        );
        expect(idx).toEqual([{ idx: 'events_2026_12_kind_idx' }, { idx: 'events_2026_12_pkey' }]);
      } finally {
        await db.close();
      }
    });

    it('--dry-run prints the plan (weeks start on Monday) and creates nothing; a date column gets date bounds', {
      timeout: 120_000,
    }, () => {
      const dry = json([
        'partitions',
        'create',
        'days',
        '--ahead',
        '1',
        '--every',
        'week',
        '--from',
        '2026-12-09',
        '--dry-run',
      ]);
      expect(dry.code, dry.err).toBe(0);
      expect(dry.body.dryRun).toBe(true);
      expect(dry.body.created.map((p: { name: string; from: string; to: string }) => [p.name, p.from, p.to])).toEqual([
        ['days_2026_12_07', "'2026-12-07'", "'2026-12-14'"],
        ['days_2026_12_14', "'2026-12-14'", "'2026-12-21'"],
      ]);
      expect(dry.body.created[0].sql).toContain(
        "ALTER TABLE days ATTACH PARTITION days_2026_12_07 FOR VALUES FROM ('2026-12-07') TO ('2026-12-14')",
      );
      // Nothing was created: the same dry run plans the same two.
      const twice = json([
        'partitions',
        'create',
        'days',
        '--ahead',
        '1',
        '--every',
        'week',
        '--from',
        '2026-12-09',
        '--dry-run',
      ]);
      expect(twice.body.created).toHaveLength(2);
      const made = json(['partitions', 'create', 'days', '--ahead', '0', '--every', 'day', '--from', '2026-12-09']);
      expect(made.body.created.map((p: { name: string }) => p.name)).toEqual(['days_2026_12_09']);
    });

    it('a table that is not range-partitioned on one time column is a clear E_BAD_ARGUMENT', {
      timeout: 120_000,
    }, () => {
      const cases: [string, RegExp][] = [
        [
          'logs',
          /logs is range-partitioned on n, a integer column; partitions create needs a date or timestamp column/,
        ],
        ['tags', /tags is partitioned by list; partitions create needs a range-partitioned table/],
        ['pair', /pair's range key is not one column/],
        ['plain', /plain is not partitioned; declare it with \.partitionBy\('range'/],
        ['nope', /Table nope does not exist/],
        ['capped', /capped: partition capped_all reaches MAXVALUE/],
      ];
      for (const [table, message] of cases) {
        const r = json(['partitions', 'create', table]);
        expect(r.code, table).toBe(2);
        expect(r.body.ok).toBe(false);
        expect(r.body.error.code).toBe('E_BAD_ARGUMENT');
        expect(r.body.error.message).toMatch(message);
      }
      const badEvery = ferry(['partitions', 'create', 'events', '--every', 'year']);
      expect(badEvery.code).toBe(2);
      expect(badEvery.err).toMatch(/--every must be one of month, week, day, got 'year'/);
    });

    it('--help says why it is not a migration', () => {
      const help = ferry(['partitions', 'create', '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/operational command, not a migration/);
      expect(help.out).toMatch(/--ahead <n>/);
      expect(help.out).toMatch(/--dry-run/);
    });
  });
}
