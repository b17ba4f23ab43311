/**
 * The portable dump: a backup form that loads into PostgreSQL 15+ and PGlite
 * alike, written by Ferry itself because no pg_dump here can do both (the
 * system's pg_dump 15 refuses PGlite's PostgreSQL 18, and PGlite's WASM
 * pg_dump pins another PGlite version).
 *
 *   portable/dump.json   the schema as DDL (from introspection, rendered by
 *                        schema/ddl.ts), the tables' column lists and files,
 *                        the sequences' values
 *   portable/NNN.copy    each table's rows in COPY text format
 *
 * The schema is what `introspect()` reads (enums, tables, keys, checks,
 * indexes, foreign keys, comments), `ferry_migrations` included so
 * `ferry migrate status` is right after a restore. Anything else in the
 * database (views, functions, triggers...) is listed by `unportableObjects`:
 * a backup then writes no portable dump and says why, rather than one that
 * silently drops objects.
 */
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { RawSession } from '../db/session.js';
import { introspect } from '../migrate/introspect.js';
import { addForeignKey, createIndex, createStatements } from '../schema/ddl.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { SchemaIR } from '../schema/ir.js';
import { literal } from '../schema/sql.js';

export const PORTABLE_DIR = 'portable';
const DUMP_FILE = 'dump.json';

export interface PortableDump {
  /** Enums and tables (keys and checks inline), then comments: run before the data. */
  pre: string[];
  /** Indexes, then foreign keys: run after the data (faster, and rows load in any order). */
  post: string[];
  tables: { table: string; columns: string[]; file: string }[];
  /** Values of the sequences behind serial and identity columns, so new rows continue after the restored ones. */
  sequences: { table: string; column: string; lastValue: string; isCalled: boolean }[];
}

/**
 * The current schema as IR, every table included (Ferry's own too: the
 * migration history belongs in a backup). Read before the session that
 * copies the data: on PGlite the session holds the only connection.
 */
export function readSchema(db: Kysely<any>): Promise<SchemaIR> {
  return introspect(db, { exclude: () => false });
}

/**
 * Objects of the database that `introspect()` does not model, so a portable
 * dump would lose them: views, materialized views, foreign and partitioned
 * tables, sequences no column owns, functions and procedures, triggers,
 * row-level security policies, rules, domains and composite or range types,
 * extensions (other than plpgsql), and other schemas holding anything.
 * Each as e.g. 'view "active_users"'.
 *
 *   select 'view ' || quote_ident(relname) from pg_class where relkind = 'v' and ...
 */
export async function unportableObjects(session: RawSession): Promise<string[]> {
  const ns = 'current_schema()::regnamespace';
  const notExtension = (classId: string, id: string) =>
    `not exists (select 1 from pg_depend d where d.classid = '${classId}'::regclass and d.objid = ${id} and d.deptype = 'e')`;
  const { rows } = await session.query<{ what: string }>(
    `select what from (
      select (case c.relkind when 'v' then 'view ' when 'm' then 'materialized view ' when 'f' then 'foreign table '
                when 'p' then 'partitioned table ' else 'sequence ' end) || quote_ident(c.relname) as what
        from pg_class c
       where c.relnamespace = ${ns} and c.relkind in ('v', 'm', 'f', 'p', 'S') and ${notExtension('pg_class', 'c.oid')}
         and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                  and d.objid = c.oid and d.deptype in ('a', 'i') and d.refclassid = 'pg_class'::regclass))
         and not exists (select 1 from pg_inherits i where i.inhrelid = c.oid)
      union all
      select 'table ' || quote_ident(c.relname) || ' (a partition or child table)'
        from pg_class c join pg_inherits i on i.inhrelid = c.oid where c.relnamespace = ${ns}
      union all
      select 'function ' || p.oid::regprocedure::text from pg_proc p
       where p.pronamespace = ${ns} and ${notExtension('pg_proc', 'p.oid')}
      union all
      select 'trigger ' || quote_ident(t.tgname) || ' on ' || quote_ident(c.relname)
        from pg_trigger t join pg_class c on c.oid = t.tgrelid where c.relnamespace = ${ns} and not t.tgisinternal
      union all
      select 'policy ' || quote_ident(p.polname) || ' on ' || quote_ident(c.relname)
        from pg_policy p join pg_class c on c.oid = p.polrelid where c.relnamespace = ${ns}
      union all
      select 'rule ' || quote_ident(r.rulename) || ' on ' || quote_ident(c.relname)
        from pg_rewrite r join pg_class c on c.oid = r.ev_class
       where c.relnamespace = ${ns} and c.relkind = 'r'
      union all
      select (case t.typtype when 'd' then 'domain ' when 'r' then 'range type ' else 'composite type ' end) || quote_ident(t.typname)
        from pg_type t
       where t.typnamespace = ${ns} and ${notExtension('pg_type', 't.oid')}
         and (t.typtype in ('d', 'r') or (t.typtype = 'c' and (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c'))
      union all
      select 'extension ' || quote_ident(e.extname) from pg_extension e where e.extname <> 'plpgsql'
      union all
      select 'schema ' || quote_ident(n.nspname) from pg_namespace n
       where n.oid <> ${ns} and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'public')
         and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast\\_temp\\_%'
         and ${notExtension('pg_namespace', 'n.oid')}
         and exists (select 1 from pg_class c where c.relnamespace = n.oid)
    ) o order by what`,
  );
  return rows.map((r) => r.what);
}

/**
 * Write the portable dump of `schema` into `dir/portable/`, reading the rows
 * in the caller's transaction (a snapshot shared with the rest of the
 * backup). Returns the paths written, relative to `dir`.
 */
export async function writePortableDump(session: RawSession, schema: SchemaIR, dir: string): Promise<string[]> {
  await mkdir(path.join(dir, PORTABLE_DIR), { recursive: true });
  const files: string[] = [];
  const dump: PortableDump = {
    pre: createStatements({ ...schema, tables: schema.tables.map((t) => ({ ...t, indexes: [], foreignKeys: [] })) }),
    post: [
      ...schema.tables.flatMap((t) => t.indexes.map((ix) => createIndex(t.name, ix))),
      ...schema.tables.flatMap((t) => t.foreignKeys.map((fk) => addForeignKey(t.name, fk))),
    ],
    tables: [],
    sequences: [],
  };
  for (const [i, t] of schema.tables.entries()) {
    // Generated columns are computed again on load (COPY cannot write them).
    const columns = t.columns.filter((c) => !c.generated).map((c) => c.name);
    const file = `${PORTABLE_DIR}/${String(i + 1).padStart(4, '0')}.copy`;
    const list = columns.map(quoteIdent).join(', ');
    await copyOutToFile(session, `COPY ${quoteIdent(t.name)} (${list}) TO STDOUT`, path.join(dir, file));
    dump.tables.push({ table: t.name, columns, file });
    files.push(file);
    for (const c of t.columns) {
      if (!c.serial && !c.identity) continue;
      const { rows } = await session.query<{ seq: string | null }>('select pg_get_serial_sequence($1, $2) as seq', [
        quoteIdent(t.name),
        c.name,
      ]);
      const seq = rows[0]?.seq;
      if (!seq) continue;
      const value = await session.query<{ last_value: string | number; is_called: boolean }>(
        `select last_value::text as last_value, is_called from ${seq}`,
      );
      const v = value.rows[0] as (typeof value.rows)[number];
      dump.sequences.push({ table: t.name, column: c.name, lastValue: String(v.last_value), isCalled: v.is_called });
    }
  }
  await writeFile(path.join(dir, PORTABLE_DIR, DUMP_FILE), `${JSON.stringify(dump, null, 2)}\n`);
  files.push(`${PORTABLE_DIR}/${DUMP_FILE}`);
  return files;
}

/**
 * Load the portable dump in `dir` through the session, in the caller's
 * transaction: schema, rows, sequence values, then indexes and foreign keys
 * (which check the rows as they are created).
 */
export async function loadPortableDump(session: RawSession, dir: string): Promise<void> {
  const dump = JSON.parse(await readFile(path.join(dir, PORTABLE_DIR, DUMP_FILE), 'utf8')) as PortableDump;
  for (const statement of dump.pre) await session.query(statement);
  for (const t of dump.tables) {
    const list = t.columns.map(quoteIdent).join(', ');
    await session.copyIn(`COPY ${quoteIdent(t.table)} (${list}) FROM STDIN`, await readFile(path.join(dir, t.file)));
  }
  for (const s of dump.sequences) {
    await session.query(
      `select setval(pg_get_serial_sequence(${literal(quoteIdent(s.table))}, ${literal(s.column)}), ${literal(s.lastValue)}::bigint, ${s.isCalled})`,
    );
  }
  for (const statement of dump.post) await session.query(statement);
}

/** COPY … TO STDOUT into `file`, each piece written before the next is read (memory bounded by one piece). */
async function copyOutToFile(session: RawSession, sql: string, file: string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await session.copyOut(sql, async (chunk) => {
      await handle.write(chunk);
    });
  } finally {
    await handle.close();
  }
}
