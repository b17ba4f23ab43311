/**
 * Legacy import at scale (issue 4, Performance): the chatcore shape (one
 * TinyDB file) and the council shape (a folder of JSON files), each with
 * ~1M messages, into freshly migrated Postgres tables with all their
 * indexes and foreign keys, measured in one run against:
 *
 *   (a) the physical limit: `psql \copy` of the same final rows, pre-rendered
 *       as CSV (exported once from a Ferry-imported database, untimed);
 *   (b) the seeds' way: one parameterised INSERT per row in one transaction
 *       (pg), timed on a proportional, FK-consistent prefix of those rows;
 *   (c) Ferry's `runImport` from the legacy files, in a child process so
 *       that its peak RSS is its own;
 *   (d) Ferry again over the same, unchanged data (everything "unchanged").
 * Plus Ferry on PGlite for the chatcore shape at a smaller size.
 *
 * Goal: Ferry >= 0.7x (a), >= 20x (b), peak RSS < 300 MB.
 *
 * Environment:
 *   FERRY_BENCH_IMPORT_MESSAGES         messages per shape (default 1000000)
 *   FERRY_BENCH_IMPORT_SHAPES           chatcore,council (default both)
 *   FERRY_BENCH_IMPORT_SEED_ROWS        rows for (b) (default 100000; 0 = all)
 *   FERRY_BENCH_IMPORT_PGLITE_MESSAGES  chatcore size on PGlite (default 100000; 0 = skip)
 *   FERRY_BENCH_IMPORT_BATCH            Ferry batch size (default: the importer's)
 *   FERRY_BENCH_IMPORT_CPU_PROF         a directory: run the Ferry child under --cpu-prof
 *   TEST_DATABASE_URL                   admin connection (default postgres://postgres@127.0.0.1:5432/test)
 *
 * Generated data (and the rendered CSV) is cached under
 * $TMPDIR/ferry-bench-import/<shape>-m<messages>-s<seed>/, so reruns skip it.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import pg from 'pg';
import { sizeFor as chatcoreSize, generateChatcore } from '../examples/chatcore/generate.js';
import { sizeFor as councilSize, generateCouncil } from '../examples/council/generate.js';
import { printTable, saveResult } from './lib.js';

const MESSAGES = Number(process.env.FERRY_BENCH_IMPORT_MESSAGES ?? 1_000_000);
const SHAPES = (process.env.FERRY_BENCH_IMPORT_SHAPES ?? 'chatcore,council').split(',').filter(Boolean);
const SEED_ROWS = Number(process.env.FERRY_BENCH_IMPORT_SEED_ROWS ?? 100_000);
const PGLITE_MESSAGES = Number(process.env.FERRY_BENCH_IMPORT_PGLITE_MESSAGES ?? 100_000);
const BATCH = process.env.FERRY_BENCH_IMPORT_BATCH;
const CPU_PROF = process.env.FERRY_BENCH_IMPORT_CPU_PROF;
const SEED = 1;
const DB_NAME = 'ferry_bench_import';
const CACHE = join(tmpdir(), 'ferry-bench-import');
const GOAL = { vsCopy: 0.7, vsSeeds: 20, rssMb: 300 };

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');

interface Shape {
  name: 'chatcore' | 'council';
  /** Target tables, parents first. */
  tables: string[];
  /** Foreign keys (child column → parent table's `id`), for a consistent prefix in (b). */
  fks: Record<string, [column: string, parent: string][]>;
  migration: string;
  /** Generate into `dir`; returns what the import reads (file or folder). */
  generate(dir: string, messages: number): Promise<string>;
  /** What the import reads, once generated. */
  data(dir: string): string;
}

const migrationOf = (example: string) => {
  const base = join(root, 'examples', example, 'migrations');
  const [first] = readdirSync(base).sort();
  return join(base, first as string, 'up.sql');
};

const SHAPE_DEFS: Record<string, Shape> = {
  chatcore: {
    name: 'chatcore',
    tables: ['users', 'conversations', 'messages', 'sessions', 'documents'],
    fks: {
      conversations: [['user_id', 'users']],
      messages: [
        ['conversation_id', 'conversations'],
        ['user_id', 'users'],
      ],
      sessions: [['user_id', 'users']],
    },
    migration: migrationOf('chatcore'),
    async generate(dir, messages) {
      return (await generateChatcore({ dir, ...chatcoreSize(messages), seed: SEED })).file;
    },
    data: (dir) => join(dir, 'db.json'),
  },
  council: {
    name: 'council',
    tables: ['conversations', 'messages', 'usage'],
    fks: { messages: [['conversation_id', 'conversations']] },
    migration: migrationOf('council'),
    async generate(dir, messages) {
      return (await generateCouncil({ dir, ...councilSize(messages), seed: SEED })).dataDir;
    },
    data: (dir) => join(dir, 'data'),
  },
};

// ---------------------------------------------------------------- helpers

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const benchUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${DB_NAME}`;
  return u.href;
})();

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drop and recreate the bench database, then apply the example's migration. */
async function freshDatabase(shape: Shape): Promise<void> {
  await withClient(adminUrl, async (c) => {
    await c.query(`drop database if exists ${DB_NAME} with (force)`);
    await c.query(`create database ${DB_NAME}`);
  });
  await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', benchUrl, '-f', shape.migration]);
}

async function dropDatabase(): Promise<void> {
  await withClient(adminUrl, (c) => c.query(`drop database if exists ${DB_NAME} with (force)`)).catch(() => {});
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

async function counts(shape: Shape): Promise<Record<string, number>> {
  return withClient(benchUrl, async (c) => {
    const out: Record<string, number> = {};
    for (const t of shape.tables) out[t] = Number((await c.query(`select count(*)::int as n from ${t}`)).rows[0].n);
    return out;
  });
}

const sum = (xs: Record<string, number>) => Object.values(xs).reduce((a, b) => a + b, 0);

/** The legacy data for (shape, messages, seed), generated once and cached. */
async function ensureData(shape: Shape, messages: number): Promise<{ dir: string; data: string }> {
  const dir = join(CACHE, `${shape.name}-m${messages}-s${SEED}`);
  if (!existsSync(join(dir, '.complete'))) {
    rmSync(dir, { recursive: true, force: true });
    const t = performance.now();
    console.log(`generating ${shape.name} with ${messages.toLocaleString('en-US')} messages into ${dir}…`);
    await shape.generate(dir, messages);
    writeFileSync(join(dir, '.complete'), '');
    console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return { dir, data: shape.data(dir) };
}

interface ChildResult {
  ms: number;
  maxRssMb: number;
  userMs: number;
  systemMs: number;
  report: {
    records: number;
    rejects: number;
    tables: Record<string, { inserted: number; updated: number; unchanged: number }>;
  };
}

async function ferryChild(shape: Shape, data: string, url: string, extra: NodeJS.ProcessEnv = {}) {
  const args = ['--import', 'tsx'];
  if (CPU_PROF) args.push('--cpu-prof', '--cpu-prof-dir', CPU_PROF);
  args.push(join(here, 'import-child.ts'));
  const env = {
    ...process.env,
    FERRY_BENCH_SHAPE: shape.name,
    FERRY_BENCH_DATA: data,
    FERRY_BENCH_URL: url,
    ...(BATCH ? { FERRY_BENCH_BATCH: BATCH } : {}),
    ...extra,
  };
  const out = await run(process.execPath, args, env);
  return JSON.parse(out.trim().split('\n').at(-1) as string) as ChildResult;
}

/** The rows Ferry wrote, as CSV per table (columns the database does not generate), rendered once. */
async function ensureCsv(
  shape: Shape,
  dir: string,
): Promise<{ file: Record<string, string>; columns: Record<string, string[]> }> {
  const csvDir = join(dir, 'csv');
  const file = Object.fromEntries(shape.tables.map((t) => [t, join(csvDir, `${t}.csv`)]));
  const columns = await withClient(benchUrl, async (c) => {
    const { rows } = await c.query(
      `select table_name as t, array_agg(column_name::text order by ordinal_position) as cols
         from information_schema.columns
        where table_schema = 'public' and table_name = any($1) and coalesce(column_default, '') not like 'nextval(%'
        group by table_name`,
      [shape.tables],
    );
    return Object.fromEntries(rows.map((r) => [r.t as string, r.cols as string[]]));
  });
  if (!existsSync(join(csvDir, '.complete'))) {
    mkdirSync(csvDir, { recursive: true });
    // Physical order = the order Ferry inserted them.
    const commands = shape.tables.map(
      (t) => `\\copy (select ${columns[t]!.map(quote).join(', ')} from ${t}) to '${file[t]}' with (format csv)`,
    );
    await psql(commands);
    writeFileSync(join(csvDir, '.complete'), '');
  }
  return { file, columns };
}

/** One psql process running each `\\copy` (a meta-command takes its whole line) in turn. */
const psql = (commands: string[]) =>
  run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', benchUrl, ...commands.flatMap((c) => ['-c', c])]);

const quote = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** (a) `psql \copy` of the rendered rows into the freshly migrated tables, parents first. */
async function physicalLimit(shape: Shape, csv: Awaited<ReturnType<typeof ensureCsv>>): Promise<number> {
  await freshDatabase(shape);
  const commands = shape.tables.map(
    (t) => `\\copy ${t} (${csv.columns[t]!.map(quote).join(', ')}) from '${csv.file[t]}' with (format csv)`,
  );
  const t = performance.now();
  await psql(commands);
  return performance.now() - t;
}

/** First `quota` rows of a CSV file whose foreign keys point at rows already taken; unquoted empty = NULL. */
async function csvPrefix(
  path: string,
  columns: string[],
  quota: number,
  fks: [string, string][],
  parentIds: Map<string, Set<string>>,
): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  if (quota <= 0) return out;
  const fkAt = fks.map(([col, parent]) => [columns.indexOf(col), parentIds.get(parent) ?? new Set<string>()] as const);
  const stream = createReadStream(path).pipe(
    parse({ cast: (value, ctx) => (value === '' && !ctx.quoting ? null : value) }),
  );
  for await (const row of stream as AsyncIterable<(string | null)[]>) {
    if (fkAt.every(([i, ids]) => row[i] === null || ids.has(row[i] as string))) out.push(row);
    if (out.length >= quota) break;
  }
  stream.destroy();
  return out;
}

/** (b) one parameterised INSERT per row in one transaction, on a proportional FK-consistent prefix. */
async function seedsWay(shape: Shape, csv: Awaited<ReturnType<typeof ensureCsv>>, rowCounts: Record<string, number>) {
  const total = sum(rowCounts);
  const share = SEED_ROWS > 0 ? Math.min(1, SEED_ROWS / total) : 1;
  const parentIds = new Map<string, Set<string>>();
  const work: { table: string; sql: string; rows: (string | null)[][] }[] = [];
  for (const t of shape.tables) {
    const cols = csv.columns[t]!;
    const rows = await csvPrefix(csv.file[t]!, cols, Math.ceil(rowCounts[t]! * share), shape.fks[t] ?? [], parentIds);
    const idAt = cols.indexOf('id');
    if (idAt >= 0) parentIds.set(t, new Set(rows.map((r) => r[idAt] as string)));
    const params = cols.map((_, i) => `$${i + 1}`).join(', ');
    work.push({ table: t, sql: `insert into ${t} (${cols.map(quote).join(', ')}) values (${params})`, rows });
  }
  parentIds.clear();
  await freshDatabase(shape);
  const rows = work.reduce((n, w) => n + w.rows.length, 0);
  const ms = await withClient(benchUrl, async (c) => {
    const t = performance.now();
    await c.query('begin');
    for (const w of work) for (const row of w.rows) await c.query(w.sql, row);
    await c.query('commit');
    return performance.now() - t;
  });
  return { rows, ms };
}

// ---------------------------------------------------------------- main

const table: Record<string, string | number>[] = [];
const results: Record<string, unknown>[] = [];
const fmtRate = (n: number) => Math.round(n);
const ratio = (x: number, base: number | undefined) => (base ? Number((x / base).toFixed(2)) : '—');

try {
  for (const name of SHAPES) {
    const shape = SHAPE_DEFS[name];
    if (!shape) throw new Error(`unknown shape ${name}; known: ${Object.keys(SHAPE_DEFS).join(', ')}`);
    const { dir, data } = await ensureData(shape, MESSAGES);
    console.log(`\n${shape.name}: ${data}`);

    // (c) Ferry, first run into fresh tables.
    await freshDatabase(shape);
    const first = await ferryChild(shape, data, benchUrl);
    const rowCounts = await counts(shape);
    const rows = sum(rowCounts);
    console.log(
      `  ferry: ${(first.ms / 1000).toFixed(1)} s, ${rows.toLocaleString('en-US')} rows ${JSON.stringify(rowCounts)}, ` +
        `${first.report.records.toLocaleString('en-US')} records, ${first.report.rejects} rejects, ` +
        `peak RSS ${first.maxRssMb.toFixed(0)} MB, CPU ${(first.userMs / 1000).toFixed(1)} s user + ${(first.systemMs / 1000).toFixed(1)} s sys`,
    );
    // (d) Ferry again over the same, unchanged data.
    const second = await ferryChild(shape, data, benchUrl);
    const unchanged = Object.values(second.report.tables).reduce((n, t) => n + t.unchanged, 0);
    console.log(
      `  ferry rerun: ${(second.ms / 1000).toFixed(1)} s, ${unchanged.toLocaleString('en-US')} rows unchanged`,
    );

    // Render the final rows once (cached with the data), then (a) and (b).
    const csv = await ensureCsv(shape, dir);
    const copyMs = await physicalLimit(shape, csv);
    const copied = sum(await counts(shape));
    if (copied !== rows) throw new Error(`psql \\copy loaded ${copied} rows, Ferry wrote ${rows}`);
    console.log(`  psql \\copy: ${(copyMs / 1000).toFixed(1)} s`);
    const seeds = await seedsWay(shape, csv, rowCounts);
    console.log(`  INSERT per row: ${seeds.rows.toLocaleString('en-US')} rows in ${(seeds.ms / 1000).toFixed(1)} s`);

    const copyRate = rows / (copyMs / 1000);
    const seedsRate = seeds.rows / (seeds.ms / 1000);
    const line = (contender: string, n: number, ms: number, records: number | null, rssMb: number | null) => {
      const rate = n / (ms / 1000);
      table.push({
        shape: shape.name,
        backend: contender.includes('PGlite') ? 'pglite' : 'postgres',
        contender,
        rows: n,
        s: Number((ms / 1000).toFixed(1)),
        'rows/s': fmtRate(rate),
        'records/s': records === null ? '—' : fmtRate(records / (ms / 1000)),
        'vs (a)': ratio(rate, copyRate),
        'vs (b)': ratio(rate, seedsRate),
        'peak RSS MB': rssMb === null ? '—' : Math.round(rssMb),
      });
    };
    line('(a) psql \\copy of the final rows', rows, copyMs, null, null);
    line(`(b) INSERT per row, 1 txn (on ${seeds.rows.toLocaleString('en-US')} rows)`, seeds.rows, seeds.ms, null, null);
    line('(c) ferry import', rows, first.ms, first.report.records, first.maxRssMb);
    line('(d) ferry import again, unchanged', rows, second.ms, second.report.records, second.maxRssMb);
    const ferryRate = rows / (first.ms / 1000);
    results.push({
      shape: shape.name,
      messages: MESSAGES,
      rows: rowCounts,
      records: first.report.records,
      rejects: first.report.rejects,
      copy: { ms: copyMs, rowsPerSec: copyRate },
      seeds: { rows: seeds.rows, ms: seeds.ms, rowsPerSec: seedsRate },
      ferry: { ...first, rowsPerSec: ferryRate },
      rerun: { ...second, rowsPerSec: rows / (second.ms / 1000) },
      goals: {
        vsCopy: ferryRate / copyRate >= GOAL.vsCopy,
        vsSeeds: ferryRate / seedsRate >= GOAL.vsSeeds,
        rss: first.maxRssMb < GOAL.rssMb,
      },
    });
    await dropDatabase();
  }

  // Ferry on PGlite, chatcore at a smaller size.
  if (PGLITE_MESSAGES > 0 && SHAPES.includes('chatcore')) {
    const shape = SHAPE_DEFS.chatcore!;
    const { data } = await ensureData(shape, PGLITE_MESSAGES);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-import-pglite-'));
    try {
      const r = await ferryChild(shape, data, `pglite:${dir}`, { FERRY_BENCH_MIGRATE: shape.migration });
      const n = Object.values(r.report.tables).reduce((m, t) => m + t.inserted + t.updated, 0);
      console.log(
        `\nchatcore on PGlite (${PGLITE_MESSAGES.toLocaleString('en-US')} messages): ${(r.ms / 1000).toFixed(1)} s`,
      );
      table.push({
        shape: `chatcore (${PGLITE_MESSAGES / 1000}k msgs)`,
        backend: 'pglite',
        contender: '(c) ferry import',
        rows: n,
        s: Number((r.ms / 1000).toFixed(1)),
        'rows/s': fmtRate(n / (r.ms / 1000)),
        'records/s': fmtRate(r.report.records / (r.ms / 1000)),
        'vs (a)': '—',
        'vs (b)': '—',
        'peak RSS MB': Math.round(r.maxRssMb),
      });
      results.push({ shape: 'chatcore', backend: 'pglite', messages: PGLITE_MESSAGES, rows: n, ferry: r });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  await dropDatabase();
}

printTable(
  `legacy import, ${MESSAGES.toLocaleString('en-US')} messages per shape (goal: ferry >= ${GOAL.vsCopy}x (a), >= ${GOAL.vsSeeds}x (b), peak RSS < ${GOAL.rssMb} MB)`,
  table,
);
for (const r of results) if (r.goals) console.log(`${r.shape}: goals ${JSON.stringify(r.goals)}`);
saveResult('import', { messages: MESSAGES, seedRows: SEED_ROWS, results, table });
