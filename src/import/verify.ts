/**
 * `ferry verify`: re-read the source through the same mapping as the import,
 * stage every row in session temp tables, and compare with the targets in SQL
 * (so values are compared as Postgres types, not as JS renderings): rows
 * missing, rows whose content differs, rows the source does not have, and a
 * content checksum of each side.
 */
import type { DbHandle } from '../db/open.js';
import type { RawSession } from '../db/session.js';
import type { Duration } from '../duration.js';
import { FerryError } from '../errors.js';
import { quoteIdent } from '../schema/identifiers.js';
import { checksumSql } from './checksum.js';
import type { DefinedImport } from './define.js';
import { E_IMPORT_DEFINITION } from './errors.js';
import { KeySet } from './key-set.js';
import { type Batch, type Group, keepRows, prefetch, prepareBatches } from './prepare.js';
import { fingerprintSources, namedSources } from './records.js';
import { copyGroup, createStaging } from './staging.js';
import { REJECTS_TABLE, readCheckpoint } from './state.js';
import { applyStatementTimeout, inStep } from './statement-timeout.js';
import { comparable, planTargets, resolveSchema, type Target } from './targets.js';
import { keptSql } from './upsert-sql.js';
import { type ImportWorker, workerBatches } from './worker-batches.js';

export interface TableVerification {
  table: string;
  /** Rows the source maps to (after duplicates merged and rejects left out). */
  expected: number;
  /** Rows in the table. */
  actual: number;
  missing: number;
  different: number;
  /** Rows in the table whose key the source does not produce. */
  extra: number;
  /**
   * onConflict `if-newer`: rows whose content differs because the table holds
   * an as-new or newer version (by the `by` column) than the source: what the
   * import keeps on purpose (a live write after the source was read), so not
   * a difference, and left out of both checksums. 0 for other tables.
   */
  newer: number;
  /** md5 of the row count and the sum of a 64-bit hash of each row's compared values (order-independent). */
  sourceChecksum: string;
  databaseChecksum: string;
  /** Columns compared (insert-only columns are not). */
  columns: string[];
  /** Up to five keys of missing or different rows, to start looking. */
  examples: { kind: 'missing' | 'different' | 'extra'; key: Record<string, unknown> }[];
}

export interface VerifyReport {
  name: string;
  ok: boolean;
  records: number;
  tables: TableVerification[];
  durationMs: number;
}

export interface VerifyOptions {
  db: DbHandle;
  definition: DefinedImport;
  name?: string;
  signal?: AbortSignal;
  onProgress?: (records: number) => void;
  /**
   * `statement_timeout` for verify's statements (default 10 minutes; ms or
   * e.g. '30m'; 0 = none), instead of the pool's (30 s by default): verify
   * compares each table in one statement, whose time grows with the table.
   * On timeout verify fails with E_IMPORT_TIMEOUT naming the table. Not
   * enforced on PGlite.
   */
  statementTimeout?: Duration;
  /** Map the source in a worker thread, as runImport's `worker` option (`ferry verify --worker`). */
  worker?: ImportWorker;
}

const PREFIX = 'ferry_verify_';

interface ColumnSet {
  columns: string[];
  ranges: [number, number][];
}

export async function verifyImport(options: VerifyOptions): Promise<VerifyReport> {
  const def = options.definition;
  const name = options.name ?? def.name ?? 'import';
  if (typeof def.map !== 'function') throw new FerryError(E_IMPORT_DEFINITION, `Import "${name}" has no map().`);
  const started = performance.now();
  const targets = planTargets(resolveSchema(def.schema), def.tables as Record<string, never>);
  const sources = namedSources(def.source);
  try {
    return await options.db.session(async (session) => {
      const restoreTimeout = await applyStatementTimeout(session, 'verify', options.statementTimeout);
      try {
        const version = await session.query<{ v: number }>("select current_setting('server_version_num')::int as v");
        checkServerVersion(Number(version.rows[0]?.v));
        // Rows the database itself refused in the last run (FK, checks) are not expected either.
        const refused = await inStep(session, 'reading the last run’s rejects', null, () =>
          databaseRejects(session, name),
        );
        // One snapshot for the whole comparison; rolling back drops the staging tables too.
        await session.query('begin isolation level repeatable read');
        try {
          return await stageAndCompare(session, targets, refused);
        } finally {
          await session.query('rollback').catch(() => {});
        }
      } finally {
        await restoreTimeout().catch(() => {});
      }
    });
  } finally {
    await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));
  }

  async function stageAndCompare(session: RawSession, targets: Target[], refused: Set<string>): Promise<VerifyReport> {
    for (const target of targets) {
      await inStep(session, `creating the staging table of "${target.name}"`, target.name, () =>
        createStaging(session, [target], PREFIX),
      );
    }
    // Per table: each column set staged, with the _ferry_n ranges of its rows.
    const columnSets = new Map<Target, ColumnSet[]>(targets.map((t) => [t, []]));
    const offsets = new Map<Target, number>(targets.map((t) => [t, 0]));
    const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
    const stageBatch = async (batch: Batch): Promise<number> => {
      for (const [target, groups] of batch.groups) {
        for (const group of groups.values()) {
          const filtered = refused.size === 0 ? group : withoutRefused(group, refused);
          if (filtered.lines.length === 0) continue;
          const first = offsets.get(target) as number;
          offsets.set(target, first + filtered.lines.length);
          await inStep(session, `staging source rows of table "${target.name}"`, target.name, () =>
            copyGroup(session, target, filtered, first, [], `${PREFIX}${target.order}`),
          );
          const sets = columnSets.get(target) as ColumnSet[];
          let set = sets.find((x) => x.columns.join() === group.columns.join());
          if (!set) {
            set = { columns: group.columns, ranges: [] };
            sets.push(set);
          }
          const last = set.ranges.at(-1);
          if (last && last[1] === first - 1) last[1] = first + filtered.lines.length - 1;
          else set.ranges.push([first, first + filtered.lines.length - 1]);
        }
      }
      return batch.position;
    };
    let records = 0;
    const batches = options.worker
      ? workerBatches({
          worker: options.worker,
          targets,
          fingerprint: await fingerprintSources(sources),
          resumeFrom: 0,
          batchSize: 5_000,
          signal: options.signal,
        })
      : prepareBatches({ definition: def, sources, signal: options.signal }, targets, keySets, 0, 5_000);
    // As the import does: map batch N+1 while batch N is copied in.
    let next = prefetch(batches);
    try {
      for (;;) {
        const step = await next;
        if (step.done) break;
        next = prefetch(batches);
        records = await stageBatch(step.value);
        options.onProgress?.(records);
      }
    } catch (err) {
      await batches.return(undefined as never).catch(() => {});
      throw err;
    }
    // Temp tables are never analysed by autovacuum: without statistics the
    // planner guesses row counts and key distributions (see compare()).
    // Only the key columns, from a 3,000-row sample: the comparison's plan
    // needs the row count and the keys' spread, and the default 30,000 whole
    // rows (wide ones: messages) were tens of MB held at once, on PGlite in
    // WASM memory that never shrinks.
    await session.query('set local default_statistics_target = 10');
    for (const target of targets) {
      await inStep(session, `analysing the staged rows of table "${target.name}"`, target.name, () =>
        session.query(`analyze ${PREFIX}${target.order} (${target.key.map(quoteIdent).join(', ')})`),
      );
    }
    const tables: TableVerification[] = [];
    for (const target of targets) {
      const sets = columnSets.get(target) as ColumnSet[];
      tables.push(
        await inStep(session, `comparing table "${target.name}" with the source`, target.name, () =>
          compare(session, target, sets),
        ),
      );
    }
    const ok = tables.every(
      (t) => t.missing === 0 && t.different === 0 && t.extra === 0 && t.sourceChecksum === t.databaseChecksum,
    );
    return { name, ok, records, tables, durationMs: performance.now() - started };
  }
}

/** The group without the rows the database refused in the last run. */
function withoutRefused(group: Group, refused: Set<string>): Group {
  return keepRows(group, (i) => !refused.has(`${group.meta.ordinal(i)}:${group.meta.rowIndex(i)}`));
}

async function databaseRejects(session: RawSession, name: string): Promise<Set<string>> {
  const checkpoint = await readCheckpoint(session, name);
  if (!checkpoint) return new Set();
  // Only the rows' positions: the whole rejects (reasons, record snippets) of a 1M-record
  // run are tens of MB that verify would hold just to read two numbers of each.
  const { rows } = await session.query<{ ordinal: string | number; row_index: string | number }>(
    `select ordinal, row_index from ${REJECTS_TABLE}
      where name = $1 and run_id = $2 and sqlstate is not null and row_index is not null`,
    [name, checkpoint.runId],
  );
  return new Set(rows.map((r) => `${Number(r.ordinal)}:${Number(r.row_index)}`));
}

/**
 * One statement per table: the staged rows FULL JOINed with the table on the
 * key, counting missing, extra and different rows and taking both checksums
 * in the same pass. A full join can only be a hash or a merge join, so its
 * cost stays about linear in the rows whatever the planner estimates.
 * (The earlier shape, NOT EXISTS anti-joins with `ORDER BY key LIMIT 5` for
 * the examples, was planned as a nested loop over the unanalysed staging
 * table when the planner guessed most rows would match: quadratic, over ten
 * minutes for 200k messages.) Examples are looked up only when something differs.
 *
 * Each side is joined as narrow rows (`hashedSides`): its key, what says
 * which side a row is on, the 64-bit hash of the columns every staged row
 * maps (`hc`, also what the checksum sums) and one hash per column only some
 * rows map, not the rows themselves. Whole rows (1.3 KB of jsonb a council
 * message) made the hash join write both sides to temporary files in
 * batches: 14.2-15.4 s for 1M messages, against 4.5 s narrow (psql, same
 * data, same checksums, same load). Rows are different when their hashes
 * are: a difference whose 64-bit hashes collide would go unseen (odds of
 * 2^-64 a row).
 *
 *   select count(*) filter (where t.ctid is null) as missing, …
 *     from (select s.id, s._ferry_n, hash_record_extended(row(s.id, s.body::jsonb, …), 0) as hc from ferry_verify_2 s) s
 *     full join (select t.id, t.ctid, hash_record_extended(row(t.id, t.body::jsonb, …), 0) as hc from messages t) t
 *       on t.id = s.id
 */
async function compare(session: RawSession, target: Target, sets: ColumnSet[]): Promise<TableVerification> {
  const staging = `${PREFIX}${target.order}`;
  const keys = target.key.map(quoteIdent);
  const on = keys.map((k) => `t.${k} = s.${k}`).join(' and ');
  const compared = (cols: string[]) => cols.filter((c) => !target.insertOnly.has(c));
  // Checksum over the columns every staged row has (usually all mapped columns).
  const common =
    sets.length === 0
      ? [...target.key]
      : compared((sets[0] as ColumnSet).columns).filter((c) => sets.every((s) => s.columns.includes(c)));
  const optional = [...new Set(sets.flatMap((s) => compared(s.columns)))].filter((c) => !common.includes(c));
  const hashed = hashedSides(target, staging, common, optional);
  // Order-independent: the sum of each row's 64-bit hash of its values as Postgres types (equal values, equal
  // hashes, as the comparison itself), so no side is sorted. md5 over rows rendered as text, aggregated in
  // key order, was 3/4 of the time of comparing 1M messages.
  const checksum = (alias: string, present: string) => checksumSql(`${alias}.hc`, present);
  const params: string[] = [];
  const differs = differsSql(target, sets, compared, params, hashed.of);
  // Which side a joined row has: every staged row has a _ferry_n, every table row a ctid.
  const bothSides = 's._ferry_n is not null and t.ctid is not null';
  // if-newer: a row the table holds in an as-new or newer version is what the import keeps, not a difference.
  const kept = target.newerBy === null ? 'false' : `(${bothSides} and ${keptSql(target, [target.newerBy], 's')})`;
  const inSource = target.newerBy === null ? 's._ferry_n is not null' : `(s._ferry_n is not null and not ${kept})`;
  const inDatabase = target.newerBy === null ? 't.ctid is not null' : `(t.ctid is not null and not ${kept})`;
  const from = `${hashed.staged} s full join ${hashed.table} t on ${on}`;
  const { rows } = await session.query<{
    expected: string;
    actual: string;
    missing: string;
    extra: string;
    different: string;
    source_sum: string;
    database_sum: string;
    newer: string;
  }>(
    `select count(*) filter (where s._ferry_n is not null) as expected, count(*) filter (where t.ctid is not null) as actual,
       count(*) filter (where t.ctid is null) as missing, count(*) filter (where s._ferry_n is null) as extra,
       count(*) filter (where ${inSource} and ${inDatabase} and ${differs}) as different,
       count(*) filter (where ${kept} and ${differs}) as newer,
       ${checksum('s', inSource)} as source_sum, ${checksum('t', inDatabase)} as database_sum
     from ${from}`,
    params,
  );
  const r = rows[0] as (typeof rows)[number];
  const missing = Number(r.missing);
  const extra = Number(r.extra);
  const different = Number(r.different);
  let examples: TableVerification['examples'] = [];
  if (missing + extra + different > 0) {
    // Missing first, then different, then extra, each by key (as listed before).
    const key = `json_build_object(${target.key.map((k, i) => `'${k}', coalesce(s.${keys[i]}, t.${keys[i]})`).join(', ')})`;
    const kind = 'case when t.ctid is null then 0 when s._ferry_n is null then 2 else 1 end';
    const found = await session.query<{ kind: number; key: Record<string, unknown> }>(
      `select ${kind} as kind, ${key} as key from ${from}
        where t.ctid is null or s._ferry_n is null or (${differs} and not ${kept})
        order by 1, ${keys.map((k) => `coalesce(s.${k}, t.${k})`).join(', ')} limit 5`,
      params,
    );
    const kinds = ['missing', 'different', 'extra'] as const;
    examples = found.rows.map((x) => ({ kind: kinds[Number(x.kind)] as (typeof kinds)[number], key: x.key }));
  }
  return {
    table: target.name,
    expected: Number(r.expected),
    actual: Number(r.actual),
    missing,
    different,
    extra,
    newer: Number(r.newer),
    sourceChecksum: r.source_sum,
    databaseChecksum: r.database_sum,
    columns: common,
    examples,
  };
}

/**
 * Both sides of the comparison as narrow rows: the key columns (and the
 * if-newer column) as they are, `_ferry_n` (staged) or `ctid` (table), `hc`
 * = the 64-bit hash of the `common` columns as Postgres values, and `h<i>`
 * = the hash of `optional` column i (a customType() may have no hash
 * function: hashed as its text; json as jsonb).
 */
function hashedSides(target: Target, staging: string, common: string[], optional: string[]) {
  const names = new Map(optional.map((c, i) => [c, `h${i}`]));
  const raw = [...new Set([...target.key, ...(target.newerBy === null ? [] : [target.newerBy])])];
  const hashable = (c: string, alias: string) =>
    target.table.columns[c]?.def.kind === 'custom' ? `${alias}.${quoteIdent(c)}::text` : comparable(target, c, alias);
  const side = (relation: string, alias: string, marker: string) =>
    `(select ${[
      ...raw.map((c) => `${alias}.${quoteIdent(c)}`),
      `${alias}.${marker}`,
      `hash_record_extended(row(${common.map((c) => hashable(c, alias)).join(', ')}), 0) as hc`,
      ...optional.map((c) => `hash_record_extended(row(${hashable(c, alias)}), 0) as ${names.get(c)}`),
    ].join(', ')} from ${relation} ${alias})`;
  return {
    staged: side(staging, 's', '_ferry_n'),
    table: side(quoteIdent(target.name), 't', 'ctid'),
    /** The hashes that cover `columns` on the side `alias` (s or t): `hc`, and those of the optional ones. */
    of: (columns: string[], alias: string) => [
      `${alias}.hc`,
      ...columns.filter((c) => names.has(c)).map((c) => `${alias}.${names.get(c) as string}`),
    ],
  };
}

/**
 * SQL true for a joined row whose compared columns differ (by their hashes,
 * `hashesOf`). Rows staged with different column sets compare different
 * columns: a row's set is found by its `_ferry_n` in that set's ranges, one
 * multirange parameter per set (a binary search per row, where a chain of
 * BETWEENs grew with the ranges).
 */
function differsSql(
  target: Target,
  sets: ColumnSet[],
  compared: (cols: string[]) => string[],
  params: string[],
  hashesOf: (columns: string[], alias: string) => string[],
): string {
  const cases: string[] = [];
  for (const set of sets) {
    const c = compared(set.columns).filter((x) => !target.key.includes(x));
    if (c.length === 0) continue;
    // `hc` covers the key too: equal on joined rows.
    const mine = hashesOf(c, 't').join(', ');
    const theirs = hashesOf(c, 's').join(', ');
    const test = `(${mine}) is distinct from (${theirs})`;
    if (sets.length === 1) return test;
    params.push(`{${set.ranges.map(([a, b]) => `[${a},${b}]`).join(',')}}`);
    cases.push(`when s._ferry_n <@ $${params.length}::int4multirange then ${test}`);
  }
  return cases.length === 0 ? 'false' : `(case ${cases.join(' ')} else false end)`;
}

/** The oldest server verify runs on (multiranges and `hash_record_extended` came in PostgreSQL 14). */
export const VERIFY_MIN_SERVER_VERSION = 140000;

/** Throws E_CONFIG, saying what to do, when the server (`server_version_num`) is older than verify needs. */
export function checkServerVersion(versionNum: number): void {
  if (!(versionNum < VERIFY_MIN_SERVER_VERSION)) return;
  const major = Math.floor(versionNum / 10000);
  throw new FerryError(
    'E_CONFIG',
    `ferry verify needs PostgreSQL 14 or later (it compares with multiranges and hash_record_extended); this server is PostgreSQL ${major}. Upgrade the server, or verify against a copy restored on 14 or later.`,
    { details: { serverVersionNum: versionNum } },
  );
}
