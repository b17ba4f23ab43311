/**
 * Legacy import at scale (issues 4 and 13): the chatcore shape (one TinyDB
 * file) and the council shape (a folder of JSON files), at 200k and 1M
 * messages, into freshly migrated tables with all their indexes and foreign
 * keys, on Postgres and on PGlite, each measured in one run:
 *
 *   - Ferry's `runImport` from the legacy files, in a child process so that
 *     its peak RSS is its own;
 *   - `ferry verify` of that import (`verifyImport`, as the CLI calls it), in
 *     its own child process: wall time, peak RSS, and ok / the error it failed
 *     with (a failing verify is a row of the table, not the end of the bench);
 *   - `psql \copy` of the same final rows, pre-rendered as CSV (exported once
 *     from a Ferry-imported database, untimed): the physical limit;
 *   - for reference only, one parameterised INSERT per row in one transaction
 *     (pg), on a proportional, FK-consistent prefix of those rows;
 *   - Node CPU µs per record by stage (read, parse, map, validate+encode,
 *     send), see import-child.ts for how each is measured;
 *   - the Postgres server's CPU during the import and during `psql \copy`
 *     (pg-cpu.ts), and from both the 2-core bound: no import can take less
 *     wall time than max(Node CPU, (Node CPU + Postgres CPU) / 2).
 *
 * Goals (issue 13, as restated there; each printed pass/fail with its figure):
 *   - verify <= 1.0x the import's wall time, peak RSS within the import's (both backends, 1M);
 *   - import peak RSS at 200k and 1M within 10% of each other, <= 256 MB on Postgres, <= 512 MB on PGlite;
 *   - Ferry on Postgres >= 0.7x `psql \copy` of the same rows, both shapes at 1M;
 *   - PGlite import throughput >= 0.5x the same import on Postgres.
 * (The old ">= 20x one INSERT per row" goal is withdrawn: `psql \copy` itself is only 4.7-7.1x of it.)
 *
 * Environment:
 *   FERRY_BENCH_IMPORT_SIZES            messages per shape, comma-separated (default 200000,1000000)
 *   FERRY_BENCH_IMPORT_SHAPES           chatcore,council (default both)
 *   FERRY_BENCH_IMPORT_BACKENDS         postgres,pglite (default both)
 *   FERRY_BENCH_IMPORT_PGLITE_SIZES     sizes on PGlite (default: FERRY_BENCH_IMPORT_SIZES)
 *   FERRY_BENCH_IMPORT_1GB              1: also a ~1 GB TinyDB file (chatcore, 3.35M messages) and a
 *                                       ~1 GB folder of JSON files (council, 600k messages); long, off by default
 *   FERRY_BENCH_IMPORT_VERIFY           0: skip verify (default 1)
 *   FERRY_BENCH_IMPORT_STAGES           0: skip the CPU-per-stage passes (default 1)
 *   FERRY_BENCH_IMPORT_RERUN            1: also time Ferry again over the unchanged data (default 0)
 *   FERRY_BENCH_IMPORT_REPEAT           Postgres: the import and `psql \copy` each run this many times,
 *                                       alternating, and "vs \copy" is the ratio of the medians (default 3:
 *                                       one run of either moved by ±25% on a shared machine)
 *   FERRY_BENCH_IMPORT_SEED_ROWS        rows for the INSERT-per-row reference (default 100000; 0 = all; -1 = skip)
 *   FERRY_BENCH_IMPORT_TIMEOUT_S        a child (import, verify) running longer is killed and reported (default 1800)
 *   FERRY_BENCH_IMPORT_BATCH            Ferry batch size (default: the importer's)
 *   FERRY_BENCH_IMPORT_CPU_PROF         a directory: run the Ferry import children under --cpu-prof
 *   FERRY_MAX_HEAP_MB                   the import and verify children's heap cap, as `ferry import` (default 128; 0 = none)
 *   TEST_DATABASE_URL                   admin connection (default postgres://postgres@127.0.0.1:5432/test)
 *
 * Generated data (and the rendered CSV) is cached under
 * $TMPDIR/ferry-bench-import/<shape>-m<messages>-s<seed>/, so reruns skip it.
 */
import { spawn } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import pg from 'pg';
import { v8Flags } from '../bin/heap-cap.mjs';
import { sizeFor as chatcoreSize, generateChatcore } from '../examples/chatcore/generate.js';
import { sizeFor as councilSize, generateCouncil } from '../examples/council/generate.js';
import { type ChildRun, type ImportCase, printImportReport, type StageRun } from './import-report.js';
import { saveResult } from './lib.js';
import { withPostgresCpu } from './pg-cpu.js';

const list = (v: string | undefined, dflt: string) =>
  (v ?? dflt)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SIZES = list(process.env.FERRY_BENCH_IMPORT_SIZES, '200000,1000000').map(Number);
const SHAPES = list(process.env.FERRY_BENCH_IMPORT_SHAPES, 'chatcore,council');
const BACKENDS = list(process.env.FERRY_BENCH_IMPORT_BACKENDS, 'postgres,pglite');
const PGLITE_SIZES = list(process.env.FERRY_BENCH_IMPORT_PGLITE_SIZES, SIZES.join(',')).map(Number);
const ONE_GB = process.env.FERRY_BENCH_IMPORT_1GB === '1';
/** Messages that make ~1 GB of source: ~299 bytes a message in chatcore's TinyDB file, ~1,676 in council's folder. */
const ONE_GB_MESSAGES: Record<string, number> = { chatcore: 3_350_000, council: 600_000 };
const VERIFY = process.env.FERRY_BENCH_IMPORT_VERIFY !== '0';
const STAGES = process.env.FERRY_BENCH_IMPORT_STAGES !== '0';
const RERUN = process.env.FERRY_BENCH_IMPORT_RERUN === '1';
const REPEAT = Math.max(1, Number(process.env.FERRY_BENCH_IMPORT_REPEAT ?? 3));
const SEED_ROWS = Number(process.env.FERRY_BENCH_IMPORT_SEED_ROWS ?? 100_000);
const TIMEOUT_MS = Number(process.env.FERRY_BENCH_IMPORT_TIMEOUT_S ?? 1800) * 1000;
const BATCH = process.env.FERRY_BENCH_IMPORT_BATCH;
const CPU_PROF = process.env.FERRY_BENCH_IMPORT_CPU_PROF;
const HEAP_MB = Number(process.env.FERRY_MAX_HEAP_MB ?? 128);
const SEED = 1;
// Per run: two benches at once (a shared machine) must not drop each other's database.
const DB_NAME = `ferry_bench_import_${process.pid}`;
const CACHE = join(tmpdir(), 'ferry-bench-import');

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

/** Every migration of the example, in order, as one SQL file (psql -f, and prepare-db on PGlite). */
const migrationOf = (example: string) => {
  const base = join(root, 'examples', example, 'migrations');
  const sql = readdirSync(base)
    .sort()
    .map((m) => readFileSync(join(base, m, 'up.sql'), 'utf8'))
    .join(';\n');
  const dir = join(tmpdir(), 'ferry-bench-import');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${example}-migrations.sql`);
  writeFileSync(file, sql);
  return file;
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
  // Every timed step starts from a clean checkpoint: otherwise the one the
  // previous step's WAL triggers (1M rows write ~1 GB) lands in the next,
  // and moved \copy by ±25% between runs.
  await withClient(adminUrl, (c) => c.query('checkpoint'));
}

async function dropDatabase(): Promise<void> {
  await withClient(adminUrl, (c) => c.query(`drop database if exists ${DB_NAME} with (force)`)).catch(() => {});
}

/** Run a command to its end; rejects on a non-zero exit, or after `timeoutMs` (the child is killed). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs)
        : null;
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve(out);
      else if (timedOut) reject(new Error(`killed after the bench's ${timeoutMs / 1000} s timeout`));
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${err.slice(-2000)}`));
    });
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

/** One bench child (import-child.ts) in `mode`; its last stdout line is its JSON result. */
async function child<T>(
  mode: 'import' | 'verify' | 'stages' | 'prepare-db' | 'copy',
  shape: Shape,
  data: string,
  url: string,
  extra: NodeJS.ProcessEnv = {},
) {
  const args = ['--import', 'tsx'];
  // The heap cap `ferry import`/`verify` relaunch with (bin/heap-cap.mjs), so the bench measures what the CLI runs.
  if (mode !== 'stages' && HEAP_MB > 0) args.push(...v8Flags(HEAP_MB, { server: url.startsWith('postgres') }));
  if (CPU_PROF && (mode === 'import' || mode === 'verify')) args.push('--cpu-prof', '--cpu-prof-dir', CPU_PROF);
  args.push(join(here, 'import-child.ts'));
  const env = {
    ...process.env,
    FERRY_BENCH_MODE: mode,
    FERRY_BENCH_SHAPE: shape.name,
    FERRY_BENCH_DATA: data,
    FERRY_BENCH_URL: url,
    ...(BATCH ? { FERRY_BENCH_BATCH: BATCH } : {}),
    ...extra,
  };
  const out = await run(process.execPath, args, env, TIMEOUT_MS);
  return JSON.parse(out.trim().split('\n').at(-1) as string) as T;
}

/** A verify child; whatever goes wrong (its error, a crash, the timeout) comes back as `error`. */
async function verifyChild(shape: Shape, data: string, url: string): Promise<ChildRun> {
  const started = performance.now();
  try {
    return await child<ChildRun>('verify', shape, data, url);
  } catch (err) {
    return { ms: performance.now() - started, maxRssMb: Number.NaN, error: (err as Error).message.slice(0, 300) };
  }
}

/** Source size in bytes (a file, or every file under a folder). */
function sourceBytes(path: string): number {
  if (!statSync(path).isDirectory()) return statSync(path).size;
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .reduce((n, d) => n + statSync(join(d.parentPath, d.name)).size, 0);
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

/** (a) `psql \copy` of the rendered rows into the freshly migrated tables, parents first: wall ms, and the server's CPU. */
async function physicalLimit(shape: Shape, csv: Awaited<ReturnType<typeof ensureCsv>>) {
  await freshDatabase(shape);
  const commands = shape.tables.map(
    (t) => `\\copy ${t} (${csv.columns[t]!.map(quote).join(', ')}) from '${csv.file[t]}' with (format csv)`,
  );
  return withPostgresCpu(async () => {
    const t = performance.now();
    await psql(commands);
    return performance.now() - t;
  });
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

const cases: ImportCase[] = [];
const save = () => saveResult('import', { sizes: SIZES, pgliteSizes: PGLITE_SIZES, seedRows: SEED_ROWS, cases });
const message = (err: unknown) => (err as Error).message.slice(0, 300);
/** Per data folder: the final rows rendered as CSV by its Postgres case (for PGlite's own COPY). */
const rendered = new Map<string, Awaited<ReturnType<typeof ensureCsv>>>();

const verdict = (v: ChildRun) => v.error ?? (v.report?.ok ? 'ok' : 'DIFFERENCES');

try {
  for (const name of SHAPES) {
    const shape = SHAPE_DEFS[name];
    if (!shape) throw new Error(`unknown shape ${name}; known: ${Object.keys(SHAPE_DEFS).join(', ')}`);
    const oneGb = ONE_GB ? [ONE_GB_MESSAGES[name] as number] : [];
    const onPostgres = BACKENDS.includes('postgres') ? [...SIZES, ...oneGb] : [];
    const onPglite = BACKENDS.includes('pglite') ? [...PGLITE_SIZES, ...oneGb] : [];
    const sizes = [...new Set([...onPostgres, ...onPglite])].sort((x, y) => x - y);
    for (const messages of sizes) {
      const { dir, data } = await ensureData(shape, messages);
      const bytes = sourceBytes(data);
      console.log(
        `\n${shape.name}, ${messages.toLocaleString('en-US')} messages: ${data} (${(bytes / 1e6).toFixed(0)} MB)`,
      );
      const base = { shape: shape.name, messages, sourceBytes: bytes };

      let stages: StageRun | undefined;
      if (STAGES) {
        try {
          stages = await child<StageRun>('stages', shape, data, '');
          console.log(`  CPU stages: ${JSON.stringify(stages.phases)} ms over ${stages.records} records`);
        } catch (err) {
          stages = { error: message(err) } as StageRun;
          console.log(`  CPU stages failed: ${stages.error}`);
        }
      }

      if (onPostgres.includes(messages)) {
        const c: ImportCase = { ...base, backend: 'postgres', stages };
        cases.push(c);
        try {
          await freshDatabase(shape);
          const measured = await withPostgresCpu(() => child<ChildRun>('import', shape, data, benchUrl));
          const imp = measured.result;
          c.import = imp;
          c.importPgCpuMs = measured.pgCpuMs;
          const rowCounts = await counts(shape);
          const rows = sum(rowCounts);
          c.rows = rows;
          c.records = imp.report?.records;
          console.log(
            `  postgres import: ${(imp.ms / 1000).toFixed(1)} s, ${rows.toLocaleString('en-US')} rows ` +
              `${JSON.stringify(rowCounts)}, peak RSS ${imp.maxRssMb.toFixed(0)} MB`,
          );
          if (VERIFY) {
            c.verify = await verifyChild(shape, data, benchUrl);
            console.log(`  postgres verify: ${(c.verify.ms / 1000).toFixed(1)} s, ${verdict(c.verify)}`);
          }
          if (RERUN) c.rerun = await child<ChildRun>('import', shape, data, benchUrl);
          const csv = await ensureCsv(shape, dir);
          rendered.set(dir, csv);
          const { result: copyMs, pgCpuMs: copyPgCpuMs } = await physicalLimit(shape, csv);
          const copied = sum(await counts(shape));
          if (copied !== c.rows) throw new Error(`psql \\copy loaded ${copied} rows, Ferry wrote ${c.rows}`);
          c.copy = { rows: copied, ms: copyMs, pgCpuMs: copyPgCpuMs };
          console.log(`  psql \\copy: ${(copyMs / 1000).toFixed(1)} s`);
          c.importRuns = [imp.ms];
          c.copyRuns = [copyMs];
          for (let r = 1; r < REPEAT; r++) {
            await freshDatabase(shape);
            const again = await child<ChildRun>('import', shape, data, benchUrl);
            c.importRuns.push(again.ms);
            const { result: ms } = await physicalLimit(shape, csv);
            c.copyRuns.push(ms);
            console.log(
              `  again (${r + 1}/${REPEAT}): import ${(again.ms / 1000).toFixed(1)} s, \\copy ${(ms / 1000).toFixed(1)} s`,
            );
          }
          if (SEED_ROWS >= 0) {
            c.seeds = await seedsWay(shape, csv, rowCounts);
            console.log(
              `  INSERT per row: ${c.seeds.rows.toLocaleString('en-US')} rows in ${(c.seeds.ms / 1000).toFixed(1)} s`,
            );
          }
        } catch (err) {
          c.error = message(err);
          console.log(`  postgres failed: ${c.error}`);
        } finally {
          await dropDatabase();
        }
        save();
      }

      if (onPglite.includes(messages)) {
        const c: ImportCase = { ...base, backend: 'pglite', stages };
        cases.push(c);
        const pgdir = mkdtempSync(join(tmpdir(), 'ferry-bench-import-pglite-'));
        try {
          // Created and migrated by another process first, as `ferry migrate` then `ferry import` would.
          await child('prepare-db', shape, data, `pglite:${pgdir}`, { FERRY_BENCH_MIGRATE: shape.migration });
          const imp = await child<ChildRun>('import', shape, data, `pglite:${pgdir}`);
          c.import = imp;
          const tables = Object.values(
            (imp.report?.tables ?? {}) as Record<string, { inserted: number; updated: number }>,
          );
          const rows = tables.reduce((n, t) => n + t.inserted + t.updated, 0);
          c.rows = rows;
          c.records = imp.report?.records;
          console.log(
            `  pglite import: ${(imp.ms / 1000).toFixed(1)} s, ${rows.toLocaleString('en-US')} rows, ` +
              `peak RSS ${imp.maxRssMb.toFixed(0)} MB`,
          );
          if (VERIFY) {
            c.verify = await verifyChild(shape, data, `pglite:${pgdir}`);
            console.log(`  pglite verify: ${(c.verify.ms / 1000).toFixed(1)} s, ${verdict(c.verify)}`);
          }
          // PGlite's own limit: its COPY of the same final rows (rendered by the Postgres case), no Ferry work.
          const csv = rendered.get(dir);
          if (csv) {
            const copydir = mkdtempSync(join(tmpdir(), 'ferry-bench-import-pglite-copy-'));
            try {
              await child('prepare-db', shape, data, `pglite:${copydir}`, { FERRY_BENCH_MIGRATE: shape.migration });
              const list = shape.tables.map((t) => ({ table: t, columns: csv.columns[t], file: csv.file[t] }));
              const copied = await child<{ ms: number; rows: number }>('copy', shape, data, `pglite:${copydir}`, {
                FERRY_BENCH_COPY: JSON.stringify(list),
              });
              c.copy = { rows: copied.rows, ms: copied.ms };
              console.log(`  pglite COPY of the final rows: ${(copied.ms / 1000).toFixed(1)} s`);
            } finally {
              rmSync(copydir, { recursive: true, force: true });
            }
          }
        } catch (err) {
          c.error = message(err);
          console.log(`  pglite failed: ${c.error}`);
        } finally {
          rmSync(pgdir, { recursive: true, force: true });
          // A verify killed at the timeout leaves its data-dir lock (`<dir>.lock`, beside the folder).
          rmSync(`${pgdir}.lock`, { force: true });
        }
        save();
      }
    }
  }
} finally {
  await dropDatabase();
}

printImportReport(cases);
save();
