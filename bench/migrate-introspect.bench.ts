/**
 * Introspection plus diff of a generated 500-table schema (10 columns,
 * 3 indexes, 1 foreign key each) on Postgres, timed in the same run as
 * `pg_dump --schema-only` of that database. Goal: introspect + diff under
 * 1 s and faster than `pg_dump --schema-only`.
 *
 * Contenders, interleaved over ROUNDS rounds (order alternates):
 * - `introspect`: `introspect(db)` on a warm pooled connection;
 * - `introspect + diff`: the same, then `diffSchemas` against a target that
 *   differs in ~1% of the tables (the figure the goal is about);
 * - `open + introspect + close`: a fresh pool and connection each time, the
 *   way a CLI run pays for it (what `pg_dump` pays too);
 * - `pg_dump --schema-only`: a spawned process, output drained into a byte
 *   count, process start included (what a user compares);
 * - `pg_dump --version`: spawn cost alone, for scale;
 * - `introspect + diff, jit off`: with `SET LOCAL jit = off`, a diagnostic
 *   (with the server's default JIT settings the index query gets JIT-compiled).
 * Plus one instrumented introspection (Kysely `log`) for the query count and
 * each query's time, and introspection of the same schema on PGlite.
 *
 * Beside the tables (issue 17): 200 views (every tenth over the view before
 * it), 200 SQL functions, 100 row triggers (one plpgsql trigger function),
 * 50 row-level security policies (on tables with RLS enabled) and 20 range-
 * partitioned tables of 3 partitions each, created as SQL after the tables;
 * the introspected counts are checked, and the diff of the schema against
 * itself must stay empty with all of them in it.
 */
import { spawn } from 'node:child_process';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { type DbHandle, openDatabase } from '../src/db/open.js';
import { diffSchemas } from '../src/migrate/diff.js';
import { introspect } from '../src/migrate/introspect.js';
import { createStatements } from '../src/schema/ddl.js';
import type { ColumnIR, IndexIR, SchemaIR, TableIR } from '../src/schema/ir.js';
import { printTable, saveResult } from './lib.js';

const TABLES = 500;
const ROUNDS = 5;
const DB_NAME = 'ferry_bench_introspect';
/** Every CHANGE_EVERY-th table differs in the diff target (500 / 100 = 5 tables, 1%). */
const CHANGE_EVERY = 100;

// ------------------------------------------------------------ the schema

const ENUM = 'bench_status';
const pad = (i: number) => String(i).padStart(3, '0');
const tableName = (i: number) => `bt_${pad(i)}`;

function column(name: string, type: string, nullable: boolean, def: string | null = null): ColumnIR {
  return { name, type, nullable, default: def, serial: false, identity: null, generated: null, comment: null };
}

const key = (column: string, order: 'asc' | 'desc' = 'asc') => ({
  column,
  expression: null,
  order,
  nulls: null,
  opclass: null,
});

/** Deterministic: table i varies its id kind, two column types and its third index by i. */
function buildTable(i: number): TableIR {
  const name = tableName(i);
  const id: ColumnIR =
    i % 2 === 0
      ? { ...column('id', 'bigint', false), identity: 'by default' }
      : { ...column('id', 'integer', false), serial: true };
  const label = ['text', 'character varying(200)', 'character(8)'][i % 3]!;
  const extra = ['jsonb', 'uuid', 'bytea', 'timestamp without time zone'][i % 4]!;
  const columns: ColumnIR[] = [
    id,
    column('parent_id', i % 2 === 1 ? 'bigint' : 'integer', true),
    column('code', 'character varying(64)', false),
    column('status', ENUM, false, `'new'::${ENUM}`),
    column('amount', 'numeric(12,2)', false, '0'),
    column('qty', 'integer', false, '1'),
    column('created_at', 'timestamp with time zone', false, 'now()'),
    column('label', label, true),
    column('extra', extra, true),
    column('tags', 'text[]', true),
  ];
  const third: IndexIR =
    i % 2 === 0
      ? {
          name: `${name}_recent_idx`,
          unique: false,
          method: 'btree',
          keys: [key('created_at')],
          include: [],
          where: 'qty > 0',
        }
      : {
          name: `${name}_lower_code_idx`,
          unique: false,
          method: 'btree',
          keys: [{ column: null, expression: 'lower((code)::text)', order: 'asc', nulls: null, opclass: null }],
          include: [],
          where: null,
        };
  // The previous table's PK; the first table points at the last (FKs are added after all tables).
  const parent = (i + TABLES - 1) % TABLES;
  return {
    name,
    columns,
    primaryKey: { name: `${name}_pkey`, columns: ['id'] },
    uniques: [{ name: `${name}_code_key`, columns: ['code'], nullsNotDistinct: false }],
    foreignKeys: [
      {
        name: `${name}_parent_id_fkey`,
        columns: ['parent_id'],
        references: { table: tableName(parent), columns: ['id'] },
        onDelete: i % 3 === 0 ? 'cascade' : 'no action',
        onUpdate: 'no action',
      },
    ],
    checks: [{ name: `${name}_qty_check`, expression: 'qty >= 0' }],
    indexes: [
      {
        name: `${name}_parent_id_idx`,
        unique: false,
        method: 'btree',
        keys: [key('parent_id')],
        include: [],
        where: null,
      },
      {
        name: `${name}_status_created_idx`,
        unique: false,
        method: 'btree',
        keys: [key('status'), key('created_at', 'desc')],
        include: [],
        where: null,
      },
      third,
    ],
    comment: null,
  };
}

function buildSchema(): SchemaIR {
  return {
    enums: [{ name: ENUM, values: ['new', 'active', 'suspended', 'archived'] }],
    tables: Array.from({ length: TABLES }, (_, i) => buildTable(i)),
  };
}

/**
 * The introspected schema with every CHANGE_EVERY-th table changed, spelled
 * the way introspection spells things: a new column, a changed default, a
 * changed composite index, a replaced check.
 */
function changedTarget(current: SchemaIR): SchemaIR {
  const target = structuredClone(current);
  for (const [i, t] of target.tables.entries()) {
    if (i % CHANGE_EVERY !== CHANGE_EVERY - 1) continue;
    t.columns.push(column('note', 'text', true));
    const qty = t.columns.find((c) => c.name === 'qty')!;
    qty.default = '2';
    const composite = t.indexes.find((ix) => ix.name.endsWith('_status_created_idx'))!;
    composite.keys = [composite.keys[0]!, { ...composite.keys[1]!, order: 'asc' }];
    t.checks = [{ name: `${t.name}_qty_check`, expression: '((qty >= 0) AND (qty <= 1000000))' }];
  }
  return target;
}

/** Issue 17's other objects, as SQL run after the tables (the bench's IR is the tables'). */
const OTHER = { views: 200, functions: 200, triggers: 100, policies: 50, partitioned: 20, partitionsEach: 3 };

function otherObjectsSql(): string[] {
  const out: string[] = [];
  for (let i = 0; i < OTHER.functions; i++) {
    out.push(`CREATE FUNCTION bf_${pad(i)}(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a + ${i} $$`);
  }
  out.push(
    `CREATE FUNCTION bench_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.qty := NEW.qty; RETURN NEW; END $$`,
  );
  for (let i = 0; i < OTHER.triggers; i++) {
    out.push(
      `CREATE TRIGGER bt_${pad(i)}_touch BEFORE UPDATE ON ${tableName(i)} FOR EACH ROW EXECUTE FUNCTION bench_touch()`,
    );
  }
  for (let i = 0; i < OTHER.views; i++) {
    out.push(
      i % 10 === 9
        ? `CREATE VIEW bv_${pad(i)} AS SELECT id, code FROM bv_${pad(i - 1)} WHERE id > ${i}`
        : `CREATE VIEW bv_${pad(i)} AS SELECT id, code, amount FROM ${tableName(i)} WHERE qty > ${i}`,
    );
  }
  for (let i = 0; i < OTHER.policies; i++) {
    const t = tableName(TABLES - 1 - i);
    out.push(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`);
    out.push(`CREATE POLICY bp_${pad(i)} ON ${t} USING (qty >= 0)`);
  }
  for (let i = 0; i < OTHER.partitioned; i++) {
    const t = `pt_${pad(i)}`;
    out.push(
      `CREATE TABLE ${t} (id bigint NOT NULL, at timestamp with time zone NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`,
    );
    for (let m = 1; m <= OTHER.partitionsEach; m++) {
      out.push(
        `CREATE TABLE ${t}_2026_${String(m).padStart(2, '0')} PARTITION OF ${t} FOR VALUES FROM ('2026-${String(m).padStart(2, '0')}-01 00:00:00+00') TO ('2026-${String(m + 1).padStart(2, '0')}-01 00:00:00+00')`,
      );
    }
  }
  return out;
}

/** The introspected counts of the other objects (what the bench says it measured). */
function otherCounts(ir: SchemaIR) {
  return {
    views: ir.views?.length ?? 0,
    functions: ir.functions?.length ?? 0,
    triggers: ir.triggers?.length ?? 0,
    policies: ir.tables.reduce((n, t) => n + (t.policies?.length ?? 0), 0),
    partitioned: ir.tables.filter((t) => t.partitionBy).length,
    partitions: ir.partitions?.length ?? 0,
  };
}

// ------------------------------------------------------------ helpers

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]) => Math.min(...xs);
const ms = (x: number) => Number(x.toFixed(1));

async function time<T>(op: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await op();
  return { ms: performance.now() - t, value };
}

/** Run `cmd args`, draining stdout; resolves with the byte count, rejects on a non-zero exit. */
function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(bytes);
      else reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`));
    });
  });
}

async function applyDdl(db: Kysely<any>, statements: string[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const s of statements) await sql.raw(s).execute(trx);
  });
}

function checkShape(ir: SchemaIR, where: string): void {
  const benchTables = ir.tables.filter((t) => t.name.startsWith('bt_'));
  const bad = benchTables.filter(
    (t) => t.columns.length !== 10 || t.indexes.length !== 3 || t.foreignKeys.length !== 1,
  );
  if (benchTables.length !== TABLES || bad.length > 0 || ir.enums.length !== 1) {
    throw new Error(`${where}: introspected ${benchTables.length} tables, ${bad.length} of unexpected shape`);
  }
  const got = otherCounts(ir);
  const want = {
    views: OTHER.views,
    functions: OTHER.functions + 1,
    triggers: OTHER.triggers,
    policies: OTHER.policies,
    partitioned: OTHER.partitioned,
    partitions: OTHER.partitioned * OTHER.partitionsEach,
  };
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`${where}: introspected ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
}

const QUERY_LABELS: [RegExp, string][] = [
  [/left join pg_enum/, 'enums'],
  [/pg_attrdef/, 'columns'],
  [/confdeltype/, 'constraints'],
  [/from pg_index i/, 'indexes'],
  [/from pg_rewrite/, 'views'],
  [/from pg_proc p/, 'functions and triggers'],
  [/pg_description/, 'comments'],
];
const labelOf = (text: string) =>
  QUERY_LABELS.find(([re]) => re.test(text))?.[1] ?? text.replace(/\s+/g, ' ').trim().slice(0, 40);

interface LoggedQuery {
  label: string;
  ms: number;
}

/** One introspection through a separate Kysely with a `log` hook on the same dialect. */
async function instrumentedIntrospect(handle: DbHandle): Promise<LoggedQuery[]> {
  const logged: LoggedQuery[] = [];
  const db = new Kysely<any>({
    dialect: handle.dialect,
    log: (event) => {
      if (event.level === 'query') logged.push({ label: labelOf(event.query.sql), ms: event.queryDurationMillis });
    },
  });
  await introspect(db);
  return logged;
}

// ------------------------------------------------------------ run

const ir = buildSchema();
const ddl = [...createStatements(ir), ...otherObjectsSql()];
const summary: Record<string, string | number>[] = [];
const queryTable: Record<string, string | number>[] = [];
const result: Record<string, unknown> = {
  tables: TABLES,
  other: OTHER,
  statements: ddl.length,
  rounds: ROUNDS,
};

// ---- Postgres
const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const benchUrl = new URL(adminUrl);
benchUrl.pathname = `/${DB_NAME}`;
const admin = new pg.Client({ connectionString: adminUrl });
let pgAvailable = true;
try {
  await admin.connect();
  await admin.query(`drop database if exists ${DB_NAME} with (force)`);
  await admin.query(`create database ${DB_NAME}`);
} catch (err) {
  pgAvailable = false;
  console.log(`postgres unavailable, skipping: ${(err as Error).message}`);
}

if (pgAvailable) {
  let handle: DbHandle | undefined;
  try {
    handle = await openDatabase({ url: benchUrl.href, pool: { max: 2, statementTimeoutMillis: 0 } });
    const apply = await time(() => applyDdl(handle!.db, ddl));
    console.log(`postgres: applied ${ddl.length} statements in ${ms(apply.ms)} ms`);
    await sql`analyze`.execute(handle.db);

    const jit = await sql<{ jit: string }>`show jit`.execute(handle.db);
    result.serverJit = jit.rows[0]?.jit;
    const current = await introspect(handle.db); // also warms the connection's catalog caches
    checkShape(current, 'postgres');
    const target = changedTarget(current);
    const noop = diffSchemas(current, current).length;
    const changes = diffSchemas(current, target).length;
    if (noop !== 0) throw new Error(`diff of the schema against itself found ${noop} changes`);

    let pgDump: boolean;
    let dumpBytes = 0;
    try {
      dumpBytes = await run('pg_dump', ['--schema-only', '-d', benchUrl.href]);
      pgDump = true;
    } catch (err) {
      pgDump = false;
      console.log(`pg_dump unavailable, skipping it: ${(err as Error).message}`);
    }

    const contenders: { name: string; op: () => Promise<unknown> }[] = [
      { name: 'introspect', op: () => introspect(handle!.db) },
      { name: 'introspect + diff', op: async () => diffSchemas(await introspect(handle!.db), target) },
      {
        // Diagnostic: the index query's plan cost passes jit_above_cost, and JIT
        // compilation then dominates; introspect() runs in the caller's transaction.
        name: 'introspect + diff, jit off (diagnostic)',
        op: () =>
          handle!.db.transaction().execute(async (trx) => {
            await sql`set local jit = off`.execute(trx);
            return diffSchemas(await introspect(trx), target);
          }),
      },
      {
        name: 'open + introspect + close',
        op: async () => {
          const h = await openDatabase({ url: benchUrl.href, pool: { max: 1 } });
          try {
            return await introspect(h.db);
          } finally {
            await h.close();
          }
        },
      },
      ...(pgDump
        ? [
            { name: 'pg_dump --schema-only', op: () => run('pg_dump', ['--schema-only', '-d', benchUrl.href]) },
            { name: 'pg_dump --version (spawn only)', op: () => run('pg_dump', ['--version']) },
          ]
        : []),
    ];
    const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) times.get(c.name)!.push((await time(c.op)).ms);
    }
    const diffOnly: number[] = [];
    for (let r = 0; r < ROUNDS; r++) diffOnly.push((await time(async () => diffSchemas(current, target))).ms);

    const logged = await instrumentedIntrospect(handle);
    const catalog = logged.filter((q) => QUERY_LABELS.some(([, l]) => l === q.label));
    for (const q of logged) queryTable.push({ backend: 'postgres', query: q.label, ms: ms(q.ms) });

    const dumpMedian = pgDump ? median(times.get('pg_dump --schema-only')!) : Number.NaN;
    for (const [name, xs] of times) {
      summary.push({
        backend: 'postgres',
        contender: name,
        'median ms': ms(median(xs)),
        'min ms': ms(min(xs)),
        'vs pg_dump': pgDump ? Number((median(xs) / dumpMedian).toFixed(3)) : '-',
      });
    }
    summary.push({
      backend: 'postgres',
      contender: `diffSchemas alone (${changes} changes)`,
      'median ms': ms(median(diffOnly)),
      'min ms': ms(min(diffOnly)),
      'vs pg_dump': '-',
    });
    result.postgres = {
      applyMs: ms(apply.ms),
      diffChanges: changes,
      pgDumpBytes: dumpBytes,
      queries: { total: logged.length, catalog: catalog.length, each: logged },
      timesMs: Object.fromEntries(
        [...times, ['diffSchemas alone', diffOnly]].map(([k, v]) => [k, (v as number[]).map(ms)]),
      ),
      median: Object.fromEntries([...times].map(([k, v]) => [k, ms(median(v))])),
      ratioIntrospectDiffToPgDump: pgDump
        ? Number((median(times.get('introspect + diff')!) / dumpMedian).toFixed(3))
        : null,
    };
    console.log(
      `postgres: ${logged.length} statements logged per introspection (${catalog.length} catalog queries), ` +
        `diff target: ${changes} changes, pg_dump output ${dumpBytes} bytes`,
    );
  } finally {
    await handle?.close().catch(() => {});
    await admin.query(`drop database if exists ${DB_NAME} with (force)`).catch((err: Error) => {
      console.error(`could not drop ${DB_NAME}: ${err.message}`);
    });
  }
}
await admin.end().catch(() => {});

// ---- PGlite (in memory): introspection only, for context
{
  const handle = await openDatabase({ url: 'memory://' });
  try {
    const apply = await time(() => applyDdl(handle.db, ddl));
    console.log(`pglite: applied ${ddl.length} statements in ${ms(apply.ms)} ms`);
    const current = await introspect(handle.db);
    checkShape(current, 'pglite');
    const target = changedTarget(current);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      a.push((await time(() => introspect(handle.db))).ms);
      b.push((await time(async () => diffSchemas(await introspect(handle.db), target))).ms);
    }
    for (const [name, xs] of [
      ['introspect', a],
      ['introspect + diff', b],
    ] as const) {
      summary.push({
        backend: 'pglite',
        contender: name,
        'median ms': ms(median(xs)),
        'min ms': ms(min(xs)),
        'vs pg_dump': '-',
      });
    }
    const logged = await instrumentedIntrospect(handle);
    for (const q of logged) queryTable.push({ backend: 'pglite', query: q.label, ms: ms(q.ms) });
    result.pglite = {
      applyMs: ms(apply.ms),
      timesMs: { introspect: a.map(ms), 'introspect + diff': b.map(ms) },
      queries: logged,
    };
  } finally {
    await handle.close();
  }
}

printTable(
  `introspection + diff of ${TABLES} tables (10 columns, 3 indexes, 1 FK each), ${OTHER.views} views, ` +
    `${OTHER.functions} functions, ${OTHER.triggers} triggers, ${OTHER.policies} policies, ` +
    `${OTHER.partitioned} partitioned tables vs pg_dump --schema-only, ` +
    `${ROUNDS} interleaved rounds`,
  summary,
);
printTable('statements of one instrumented introspection (Kysely log, server round trip each)', queryTable);
result.summary = summary;
saveResult('migrate-introspect', result);
