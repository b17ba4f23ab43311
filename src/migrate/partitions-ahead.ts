/**
 * `ferry partitions create <table> --ahead N --every month|week|day`: keep a
 * table range-partitioned on one time column supplied with partitions for
 * the current period and the N after it.
 *
 * An operational command, not a migration: which partitions must exist
 * depends on the clock, so it runs on a schedule (cron, a deploy hook), and
 * a migration per month would be noise. The schema module declares the
 * partitioned table (and any fixed partitions such as a default one); the
 * partitions created here carry a marker comment (`MARKER`), and
 * introspection leaves them out of the IR, so `migrate new` never proposes
 * to drop them and `pull` does not write them into the DSL.
 *
 * Idempotent: the window ends at a fixed point (the end of the Nth period
 * after the current one); partitions are created from the last existing
 * partition's upper bound (or the current period when there is none) up to
 * it, so a second run finds nothing to do. Each partition is created as a
 * plain table `LIKE` the parent and then attached (`ATTACH PARTITION` takes
 * SHARE UPDATE EXCLUSIVE on the parent, so reads and writes go on, unlike
 * `CREATE TABLE … PARTITION OF`, which takes ACCESS EXCLUSIVE), one
 * transaction each with a `lock_timeout`.
 */
import { type Kysely, sql } from 'kysely';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import { MAX_IDENTIFIER_BYTES, quoteIdent as q } from '../schema/identifiers.js';
import { literal } from '../schema/sql.js';

/** The comment that marks a partition as this command's (see the header). */
export const MARKER = 'ferry partitions create';

export type PartitionPeriod = 'month' | 'week' | 'day';
export const PERIODS: readonly PartitionPeriod[] = ['month', 'week', 'day'];

export interface PartitionsAheadOptions {
  table: string;
  /** Periods after the current one to have partitions for. */
  ahead: number;
  every: PartitionPeriod;
  /** Report what would be created without creating it. */
  dryRun?: boolean;
  /** The moment whose period counts as current; default now. */
  from?: Date;
  /** `lock_timeout` of each partition's transaction; default `'5s'`. */
  lockTimeout?: string;
}

export interface PlannedPartition {
  name: string;
  /** Inclusive lower and exclusive upper bound, as SQL literals of the key's type. */
  from: string;
  to: string;
  sql: string[];
}

export interface PartitionsAheadResult {
  table: string;
  column: string;
  type: string;
  every: PartitionPeriod;
  /** The bound the window must reach: the end of the `ahead`th period after the current one. */
  until: string;
  created: PlannedPartition[];
  dryRun: boolean;
}

const TIME_TYPES = new Set(['date', 'timestamp without time zone', 'timestamp with time zone']);

interface TableRow {
  oid: number;
  relkind: string;
  strategy: string | null;
  key_count: number | null;
  column: string | null;
  type: string | null;
}

const bad = (message: string, details: Record<string, unknown>) => new FerryError(E_BAD_ARGUMENT, message, { details });

export async function createPartitionsAhead(
  db: Kysely<any>,
  options: PartitionsAheadOptions,
): Promise<PartitionsAheadResult> {
  const { table, ahead, every } = options;
  if (!Number.isInteger(ahead) || ahead < 0) {
    throw bad(`--ahead must be a whole number of periods (0 or more), got ${ahead}.`, { ahead });
  }
  if (!PERIODS.includes(every)) throw bad(`--every must be month, week or day, got '${every}'.`, { every });
  const plain = db.withoutPlugins();
  const info = await readTable(plain, table);
  const until = addPeriod(truncate(options.from ?? new Date(), every), every, ahead + 1);
  let cursor = info.lastTo ?? truncate(options.from ?? new Date(), every);
  const planned: PlannedPartition[] = [];
  while (cursor < until) {
    const next = addPeriod(cursor, every, 1);
    const name = partitionName(table, cursor, every);
    if (info.names.has(name)) {
      throw bad(
        `${table}: a partition named ${name} already exists but does not end where the last partition does; rename it or create the partitions by hand.`,
        { table, partition: name },
      );
    }
    const from = boundLiteral(cursor, info.type);
    const to = boundLiteral(next, info.type);
    planned.push({
      name,
      from,
      to,
      sql: [
        `CREATE TABLE ${q(name)} (LIKE ${q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)`,
        `ALTER TABLE ${q(table)} ATTACH PARTITION ${q(name)} FOR VALUES FROM (${from}) TO (${to})`,
        `COMMENT ON TABLE ${q(name)} IS ${literal(MARKER)}`,
      ],
    });
    cursor = next;
  }
  if (!options.dryRun) {
    const timeout = options.lockTimeout ?? '5s';
    for (const p of planned) {
      await plain.transaction().execute(async (trx) => {
        await sql`select set_config('lock_timeout', ${timeout}, true)`.execute(trx);
        for (const statement of p.sql) await sql.raw(statement).execute(trx);
      });
    }
  }
  return {
    table,
    column: info.column,
    type: info.type,
    every,
    until: boundLiteral(until, info.type),
    created: planned,
    dryRun: options.dryRun === true,
  };
}

interface TableInfo {
  column: string;
  type: string;
  /** Upper bound of the last range partition, or null when there is none. */
  lastTo: Date | null;
  names: Set<string>;
}

async function readTable(db: Kysely<any>, table: string): Promise<TableInfo> {
  return db.transaction().execute(async (trx) => {
    // Bounds print in the session's time zone; UTC makes them parse the same on every server.
    await sql`select set_config('TimeZone', 'UTC', true)`.execute(trx);
    const { rows } = await sql<TableRow>`
      select c.oid::int as oid, c.relkind::text as relkind, pt.partstrat::text as strategy,
             pt.partnatts::int as key_count, a.attname::text as column, format_type(a.atttypid, a.atttypmod) as type
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_partitioned_table pt on pt.partrelid = c.oid
        left join pg_attribute a on a.attrelid = c.oid and a.attnum = pt.partattrs[0] and a.attnum > 0
       where n.nspname = current_schema() and c.relname = ${table} and c.relkind in ('r', 'p')`.execute(trx);
    const row = rows[0];
    const details = { table };
    if (!row) throw bad(`Table ${table} does not exist (in the current schema).`, details);
    if (row.relkind !== 'p') {
      throw bad(
        `${table} is not partitioned; declare it with .partitionBy('range', '<time column>') and migrate first.`,
        details,
      );
    }
    const strategy = row.strategy === 'l' ? 'list' : row.strategy === 'h' ? 'hash' : 'range';
    if (strategy !== 'range') {
      throw bad(`${table} is partitioned by ${strategy}; partitions create needs a range-partitioned table.`, details);
    }
    if (row.key_count !== 1 || row.column === null || row.type === null) {
      throw bad(
        `${table}'s range key is not one column (it has ${row.key_count} key parts or an expression); partitions create needs one date or timestamp column.`,
        details,
      );
    }
    if (!TIME_TYPES.has(row.type)) {
      throw bad(
        `${table} is range-partitioned on ${row.column}, a ${row.type} column; partitions create needs a date or timestamp column.`,
        { table, column: row.column, type: row.type },
      );
    }
    const { rows: parts } = await sql<{ name: string; bound: string }>`
      select c.relname::text as name, pg_get_expr(c.relpartbound, c.oid) as bound
        from pg_inherits i join pg_class c on c.oid = i.inhrelid
       where i.inhparent = ${row.oid}`.execute(trx);
    let lastTo: Date | null = null;
    for (const p of parts) {
      const m = /^FOR VALUES FROM \((.*)\) TO \((.*)\)$/.exec(p.bound);
      if (!m) continue; // DEFAULT
      if (m[2] === 'MAXVALUE') {
        throw bad(
          `${table}: partition ${p.name} reaches MAXVALUE, so no later partition can be added; end it at a date first.`,
          { table, partition: p.name },
        );
      }
      const to = parseBound(m[2]!, `${table}: partition ${p.name}'s upper bound`);
      if (lastTo === null || to > lastTo) lastTo = to;
    }
    return { column: row.column, type: row.type, lastTo, names: new Set(parts.map((p) => p.name)) };
  });
}

/** `'2026-03-01'`, `'2026-03-01 00:00:00'` or `'2026-03-01 00:00:00+00'` (UTC) as a Date. */
function parseBound(text: string, what: string): Date {
  const m = /^'(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?([+-]\d{2}(?::?\d{2})?)?'$/.exec(text);
  if (!m || (m[8] !== undefined && !/^\+00(:?00)?$/.test(m[8]))) {
    throw new FerryError(E_BAD_ARGUMENT, `${what} is ${text}, which is not a plain date or time.`);
  }
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), ms));
}

/** Start of the period containing `d`, in UTC (weeks start on Monday, as `date_trunc('week', …)`). */
export function truncate(d: Date, every: PartitionPeriod): Date {
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (every === 'day') return new Date(day);
  if (every === 'month') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  const sinceMonday = (d.getUTCDay() + 6) % 7;
  return new Date(day - sinceMonday * 86_400_000);
}

export function addPeriod(d: Date, every: PartitionPeriod, n: number): Date {
  const out = new Date(d);
  if (every === 'month') out.setUTCMonth(out.getUTCMonth() + n);
  else out.setUTCDate(out.getUTCDate() + n * (every === 'week' ? 7 : 1));
  return out;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `<table>_2026_12` (month), `<table>_2026_12_07` (week: its Monday; day). */
export function partitionName(table: string, start: Date, every: PartitionPeriod): string {
  const ymd = [start.getUTCFullYear(), pad(start.getUTCMonth() + 1), pad(start.getUTCDate())];
  const name = `${table}_${(every === 'month' ? ymd.slice(0, 2) : ymd).join('_')}`;
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw bad(
      `${table}: the partition name ${name} is longer than Postgres's ${MAX_IDENTIFIER_BYTES} bytes; shorten the table name or create its partitions by hand.`,
      { table, partition: name },
    );
  }
  return name;
}

function boundLiteral(d: Date, type: string): string {
  const date = d.toISOString().slice(0, 10);
  if (type === 'date') return literal(date);
  const time = d.toISOString().slice(11, 19);
  return literal(type === 'timestamp with time zone' ? `${date} ${time}+00` : `${date} ${time}`);
}
