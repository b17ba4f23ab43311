/**
 * The cutover's own tables in the target database, and the one way this part
 * talks SQL to them. Named `ferry_*`, which migrations ignore (as the
 * import's ferry_import_state). Created if missing, by the first instance or
 * the first `advance`/`status`, on Postgres and PGlite alike.
 *
 * SQL goes through the handle's Kysely (`db.executeQuery` of a raw compiled
 * query), which both a `DbHandle` (openDatabase) and a `Ferry` (connect)
 * carry: a cutover takes whichever the app has, and a statement borrows a
 * pooled connection only for itself (never one held for the cutover's life,
 * which on PGlite would block the app).
 */
import { CompiledQuery, type Kysely } from 'kysely';

/** What the cutover needs of a database: a `Ferry` (from connect()) or a `DbHandle` (from openDatabase()). */
export interface CutoverDb {
  readonly backend: 'postgres' | 'pglite';
  readonly db: Kysely<any>;
}

export const CONTROL_TABLE = 'ferry_cutover';
export const INSTANCES_TABLE = 'ferry_cutover_instances';
export const JOURNAL_TABLE = 'ferry_cutover_journal';
export const MISMATCHES_TABLE = 'ferry_cutover_mismatches';
export const COMPARISONS_TABLE = 'ferry_cutover_comparisons';

/** One statement with `$n` parameters; the rows. */
export async function query<R = Record<string, unknown>>(
  db: CutoverDb | Kysely<any>,
  text: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  const kysely = 'executeQuery' in db ? db : db.db;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await kysely.executeQuery<R>(CompiledQuery.raw(text, [...params]));
      return result.rows as R[];
    } catch (err) {
      // The journal's statements lock rows of many keys at once (a settle batch, a drain's claim) while
      // others lock some of the same: Postgres may pick one as a deadlock victim. A statement of its own
      // (no transaction around it) was rolled back whole, so running it again is exactly-once.
      const code = (err as { code?: unknown })?.code;
      if (attempt >= 5 || kysely.isTransaction || (code !== '40P01' && code !== '40001')) throw err;
      await new Promise((resolve) => setTimeout(resolve, attempt * 5 * Math.random()));
    }
  }
}

const ensured = new WeakMap<object, Promise<void>>();

/** Create the tables if missing (once per Kysely instance; concurrent callers share the promise). */
export function ensureTables(db: CutoverDb): Promise<void> {
  let done = ensured.get(db.db);
  if (!done) {
    done = createTables(db);
    ensured.set(db.db, done);
    done.catch(() => ensured.delete(db.db));
  }
  return done;
}

async function createTables(db: CutoverDb): Promise<void> {
  const statements = [
    `create table if not exists ${CONTROL_TABLE} (
      name text primary key,
      stage text not null,
      ramp integer,
      epoch bigint not null default 1,
      comparisons bigint not null default 0,
      mismatches bigint not null default 0,
      verify jsonb,
      history jsonb not null default '[]'::jsonb,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`,
    `create table if not exists ${INSTANCES_TABLE} (
      instance_id text primary key,
      name text not null,
      stage text not null,
      epoch bigint not null,
      ttl_ms integer not null,
      host text,
      pid integer,
      started_at timestamptz not null default now(),
      heartbeat timestamptz not null default now())`,
    `create index if not exists ${INSTANCES_TABLE}_name_idx on ${INSTANCES_TABLE} (name)`,
    `create table if not exists ${JOURNAL_TABLE} (
      seq bigserial primary key,
      name text not null,
      key text not null,
      op text not null,
      value jsonb,
      source text not null,
      target text not null,
      state text not null,
      instance_id text not null,
      attempts integer not null default 0,
      last_error text,
      claimed_until timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now())`,
    `create index if not exists ${JOURNAL_TABLE}_key_idx on ${JOURNAL_TABLE} (name, key, seq)`,
    `create index if not exists ${JOURNAL_TABLE}_open_idx on ${JOURNAL_TABLE} (name, seq) where state <> 'done'`,
    `create table if not exists ${MISMATCHES_TABLE} (
      id bigserial primary key,
      name text not null,
      key text not null,
      old_value jsonb,
      new_value jsonb,
      fields jsonb not null,
      at timestamptz not null default now())`,
    `create index if not exists ${MISMATCHES_TABLE}_name_idx on ${MISMATCHES_TABLE} (name, id)`,
    `create table if not exists ${COMPARISONS_TABLE} (
      id bigserial primary key,
      name text not null,
      mismatch boolean not null,
      at timestamptz not null default now())`,
    `create index if not exists ${COMPARISONS_TABLE}_name_idx on ${COMPARISONS_TABLE} (name, id)`,
  ];
  // Instances starting together would race `create ... if not exists` (it is not atomic in the catalog):
  // one transaction under an advisory lock makes the first create and the others see.
  await db.db.transaction().execute(async (trx) => {
    await query(trx, `select pg_advisory_xact_lock(hashtext('ferry_cutover_tables'))`);
    for (const statement of statements) await query(trx, statement);
  });
}

/** Keep only the newest `keep` rows of `name` in an append-only table keyed by `id`. */
export async function capRows(db: CutoverDb, table: string, name: string, keep: number): Promise<void> {
  await query(
    db,
    `delete from ${table} where name = $1 and id <= (
       select id from ${table} where name = $1 order by id desc offset $2 limit 1)`,
    [name, keep],
  );
}
