/**
 * CSV export (issue 14): Ferry's `exportTo` (as `ferry export` runs it) against
 * `psql \copy (select * from t) to 'file' csv header` of the same rows, on the
 * same Postgres in the same run, alternating, each `REPEAT` times; plus the
 * peak RSS of the Ferry export at two sizes, to show it stays flat.
 *
 *   - rows/s of each from its median time, and their ratio (goal: Ferry >= 0.9x psql);
 *     Ferry's time is the export inside its child (Node's start excluded), psql's is
 *     the whole process (its start is a few ms);
 *   - peak RSS of the Ferry child exporting N/10 and N rows (CSV and NDJSON),
 *     and of the N-row export its peak in each quarter of its time: memory is
 *     bounded ("flat") when the later quarters peak no higher than the first
 *     (N/10 rows may end before the heap settles, so the growth column alone
 *     overstates it);
 *   - both outputs are compared byte for byte (they must be equal).
 *
 * Environment:
 *   FERRY_BENCH_EXPORT_ROWS     rows in the table (default 1000000; 10000000 for the 10M
 *                               check: ~1.1 GB of CSV per output file, a few minutes per run)
 *   FERRY_BENCH_EXPORT_REPEAT   timed runs of each (default 3)
 *   FERRY_BENCH_EXPORT_PGLITE_ROWS  rows of the same table in an embedded database, for the peak RSS of
 *                               PGlite exports (key pages, the cursor, NDJSON) at a tenth and all of them
 *                               (default 200000; 0 = skip)
 *   TEST_DATABASE_URL           admin connection (default postgres://postgres@127.0.0.1:5432/test)
 *
 * The table (bench_export in database ferry_bench_export, price-snapshot shaped) is
 * kept between runs when it already holds N rows. Outputs go to $TMPDIR and are removed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/db/open.js';
import { printTable, saveResult } from './lib.js';

const ROWS = Number(process.env.FERRY_BENCH_EXPORT_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.FERRY_BENCH_EXPORT_REPEAT ?? 3);
const admin = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const DB = 'ferry_bench_export';
const url = Object.assign(new URL(admin), { pathname: `/${DB}` }).toString();
const here = new URL('.', import.meta.url).pathname;

async function withClient<T>(connectionString: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Create (or keep) the table with ROWS rows. */
async function prepare(): Promise<void> {
  const exists = await withClient(
    admin,
    async (c) => (await c.query('select 1 from pg_database where datname = $1', [DB])).rowCount,
  );
  if (!exists) await withClient(admin, (c) => c.query(`create database ${DB}`));
  await withClient(url, async (c) => {
    const have = await c.query<{ n: string }>(`select count(*)::text as n from bench_export`).then(
      (r) => Number(r.rows[0]?.n),
      () => -1,
    );
    if (have === ROWS) return;
    console.log(`creating bench_export with ${ROWS.toLocaleString('en-US')} rows...`);
    await c.query('drop table if exists bench_export');
    await c.query(`create table bench_export (
      id bigint primary key, account_id integer not null, symbol text not null, price numeric(14,4),
      volume bigint, taken_at timestamptz not null, source text, flags jsonb)`);
    await c.query(`insert into bench_export
      select i, i % 5000, 'SYM' || (i % 997), round((random() * 10000)::numeric, 4),
        (random() * 1e12)::bigint, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
        case when i % 10 = 0 then null when i % 7 = 0 then 'feed "b", backup' else 'feed a' end,
        case when i % 3 = 0 then jsonb_build_object('halted', i % 2 = 0, 'tags', jsonb_build_array('x', i % 11)) end
      from generate_series(1, ${ROWS}) as i`);
    await c.query('vacuum analyze bench_export');
  });
}

interface Run {
  ms: number;
  rows: number;
  bytes: number;
  maxRssMb?: number;
  /** Peak RSS in each quarter of the export's time (export-child.ts). */
  quarterRssMb?: (number | null)[];
}

/**
 * The flat-memory verdict of one big export: the peak after its first quarter
 * is within 10% of the first quarter's (the bound issue 13 set for imports;
 * GC timing moves a steady export's RSS by ~10 MB).
 * Growth with the rows written shows as later quarters peaking higher.
 */
function flat(run: Run): string {
  const [first, ...rest] = (run.quarterRssMb ?? []).map((q) => q ?? 0);
  if (first === undefined) return '?';
  const later = Math.max(...rest);
  const quarters = (run.quarterRssMb ?? []).join(' / ');
  return `${quarters} → ${later <= first * 1.1 ? 'flat' : 'GROWS'}`;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

async function ferry(file: string, format: 'csv' | 'ndjson', where = '', on = url, shape = 'table'): Promise<Run> {
  const child = join(here, 'export-child.ts');
  const out = await run(process.execPath, ['--import', 'tsx', child, on, file, format, where, shape]);
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Run;
}

async function psql(file: string): Promise<Run> {
  const started = performance.now();
  const out = await run(
    'psql',
    ['-X', '-d', url, '-c', `\\copy (select * from bench_export) to '${file}' csv header`],
    {
      ...process.env,
      // The session settings Ferry uses, so the bytes compare.
      PGTZ: 'UTC',
      PGDATESTYLE: 'ISO,MDY',
    },
  );
  const ms = performance.now() - started;
  return { ms, rows: Number(/COPY (\d+)/.exec(out)?.[1] ?? 0), bytes: statSync(file).size };
}

const PGLITE_ROWS = Number(process.env.FERRY_BENCH_EXPORT_PGLITE_ROWS ?? 200_000);

/** Peak RSS of PGlite exports at PGLITE_ROWS / 10 and PGLITE_ROWS rows, of the same shape generated in a fresh data dir. */
async function pglite(file: string): Promise<Record<string, string | number>[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-bench-export-pglite-'));
  const on = `pglite:${dataDir}`;
  try {
    const db = await openDatabase({ url: on });
    try {
      await db.session(async (s) => {
        await s.query(`create table bench_export (
          id bigint primary key, account_id integer not null, symbol text not null, price numeric(14,4),
          volume bigint, taken_at timestamptz not null, source text, flags jsonb)`);
        await s.query(`insert into bench_export
          select i, i % 5000, 'SYM' || (i % 997), round((random() * 10000)::numeric, 4),
            (random() * 1e12)::bigint, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
            case when i % 10 = 0 then null when i % 7 = 0 then 'feed "b", backup' else 'feed a' end,
            case when i % 3 = 0 then jsonb_build_object('halted', i % 2 = 0, 'tags', jsonb_build_array('x', i % 11)) end
          from generate_series(1, ${PGLITE_ROWS}) as i`);
      });
    } finally {
      await db.close();
    }
    const small = Math.max(1, Math.floor(PGLITE_ROWS / 10));
    const out: Record<string, string | number>[] = [];
    for (const [label, format, shape] of [
      ['csv, table (key pages)', 'csv', 'table'],
      ['csv, query (cursor)', 'csv', 'query'],
      ['ndjson', 'ndjson', 'table'],
    ] as const) {
      const a = await ferry(file, format, `id <= ${small}`, on, shape);
      const b = await ferry(file, format, '', on, shape);
      out.push({
        export: label,
        [`peak RSS MB @ ${small.toLocaleString('en-US')}`]: a.maxRssMb!,
        [`peak RSS MB @ ${PGLITE_ROWS.toLocaleString('en-US')}`]: b.maxRssMb!,
        'growth MB': b.maxRssMb! - a.maxRssMb!,
        [`RSS MB by quarter @ ${PGLITE_ROWS.toLocaleString('en-US')}`]: flat(b),
        [`rows/s @ ${PGLITE_ROWS.toLocaleString('en-US')}`]: Math.round(b.rows / (b.ms / 1000)),
      });
    }
    printTable('Peak RSS of the Ferry export child (PGlite)', out);
    return out;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

await prepare();
const dir = tmpdir();
const ferryFile = join(dir, `ferry-bench-export-${process.pid}.csv`);
const psqlFile = join(dir, `psql-bench-export-${process.pid}.csv`);
try {
  const ferryRuns: Run[] = [];
  const psqlRuns: Run[] = [];
  await ferry(ferryFile, 'csv', 'id <= 1000'); // warm the page cache and tsx's compile cache
  for (let i = 0; i < REPEAT; i++) {
    if (i % 2 === 0) {
      ferryRuns.push(await ferry(ferryFile, 'csv'));
      psqlRuns.push(await psql(psqlFile));
    } else {
      psqlRuns.push(await psql(psqlFile));
      ferryRuns.push(await ferry(ferryFile, 'csv'));
    }
  }
  // Streamed: reading both files whole (1.8 GB at 10M rows) would also raise every later child's
  // inherited ru_maxrss; the children report VmHWM (lib.ts peakRssMb) to be safe from that anyway.
  const identical = (await sha256(ferryFile)) === (await sha256(psqlFile));
  const ferryMs = median(ferryRuns.map((r) => r.ms));
  const psqlMs = median(psqlRuns.map((r) => r.ms));
  const ratio = psqlMs / ferryMs;
  printTable(`CSV export of ${ROWS.toLocaleString('en-US')} rows (Postgres), median of ${REPEAT}`, [
    {
      contender: 'ferry exportTo',
      'rows/s': Math.round(ROWS / (ferryMs / 1000)),
      ms: Math.round(ferryMs),
      MB: ferryRuns[0]!.bytes / 1e6,
      runs: ferryRuns.map((r) => Math.round(r.ms)).join(' '),
    },
    {
      contender: 'psql \\copy',
      'rows/s': Math.round(ROWS / (psqlMs / 1000)),
      ms: Math.round(psqlMs),
      MB: psqlRuns[0]!.bytes / 1e6,
      runs: psqlRuns.map((r) => Math.round(r.ms)).join(' '),
    },
  ]);
  console.log(
    `ferry / psql rows/s: ${ratio.toFixed(2)}x (goal >= 0.9x: ${ratio >= 0.9 ? 'pass' : 'FAIL'}); outputs identical: ${identical}`,
  );

  const small = Math.max(1, Math.floor(ROWS / 10));
  const rss: Record<string, string | number>[] = [];
  for (const format of ['csv', 'ndjson'] as const) {
    const a = await ferry(ferryFile, format, `id <= ${small}`);
    const b = await ferry(ferryFile, format);
    rss.push({
      format,
      [`peak RSS MB @ ${small.toLocaleString('en-US')}`]: a.maxRssMb!,
      [`peak RSS MB @ ${ROWS.toLocaleString('en-US')}`]: b.maxRssMb!,
      'growth MB': b.maxRssMb! - a.maxRssMb!,
      [`RSS MB by quarter @ ${ROWS.toLocaleString('en-US')}`]: flat(b),
      [`rows/s @ ${ROWS.toLocaleString('en-US')}`]: Math.round(b.rows / (b.ms / 1000)),
    });
  }
  printTable('Peak RSS of the Ferry export child (Postgres)', rss);
  const pgliteRss = PGLITE_ROWS > 0 ? await pglite(ferryFile) : [];
  saveResult('export', { rows: ROWS, ferryMs, psqlMs, ratio, identical, ferryRuns, psqlRuns, rss, pgliteRss });
} finally {
  rmSync(ferryFile, { force: true });
  rmSync(psqlFile, { force: true });
}
