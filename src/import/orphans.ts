/**
 * Orphans: staged rows whose foreign key has no parent row. Found with one
 * query per range, so a batch with ten of them costs one more statement, not
 * twenty bisection steps.
 */
import type { RawSession } from '../db/session.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { Target } from './targets.js';

export const FOREIGN_KEY_VIOLATION = '23503';

interface ForeignKey {
  name: string;
  parent: string;
  /** The parent's name as Postgres prints it in the violation's detail. */
  parentName: string;
  columns: string[];
  refColumns: string[];
  /** Column names as printed in the detail (unquoted). */
  names: string[];
}

const foreignKeysOf = new WeakMap<Target, Promise<ForeignKey[]>>();
/** Targets that had orphans in this process: later batches look for them first. */
export const orphanTables = new WeakSet<Target>();

/** A staged row whose foreign key has no parent, with the error the database would raise for it. */
interface Orphan {
  n: number;
  error: { code: string; message: string; detail: string };
}

/**
 * The staged rows in [lo, hi] whose (immediate) foreign key to another
 * table has no parent row; such a row fails in any statement it is part of.
 * The first missing parent in constraint order is named, as Postgres does.
 */
export async function orphans(
  session: RawSession,
  target: Target,
  columns: string[],
  lo: number,
  hi: number,
): Promise<Orphan[]> {
  let fks = foreignKeysOf.get(target);
  if (!fks) {
    fks = session
      .query<{ name: string; parent: string; parent_name: string; refcols: string[]; names: string[] }>(
        `select c.conname as name, format('%s', c.confrelid::regclass) as parent, p.relname as parent_name,
                array(select quote_ident(a.attname) from unnest(c.confkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refcols,
                array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as names
           from pg_constraint c join pg_class p on p.oid = c.confrelid
          where c.contype = 'f' and c.conrelid = to_regclass($1) and c.confrelid <> c.conrelid and not c.condeferrable
          order by c.oid`,
        [quoteIdent(target.name)],
      )
      .then(({ rows }) =>
        rows.map((r) => ({
          name: r.name,
          parent: r.parent,
          parentName: r.parent_name,
          columns: r.names.map(quoteIdent),
          refColumns: r.refcols,
          names: r.names,
        })),
      );
    foreignKeysOf.set(target, fks);
  }
  const staged = new Set(columns.map(quoteIdent));
  const checked = (await fks).filter((fk) => fk.columns.every((c) => staged.has(c)));
  if (checked.length === 0) return [];
  const selects = checked.map((fk, i) => {
    const present = fk.columns.map((c) => `s.${c} is not null`).join(' and ');
    const match = fk.columns.map((c, j) => `p.${fk.refColumns[j]} = s.${c}`).join(' and ');
    const values = fk.columns.map((c) => `s.${c}::text`).join(', ');
    return (
      `select s._ferry_n as n, ${i} as fk, concat_ws(', ', ${values}) as vals from ${target.staging} s ` +
      `where s._ferry_n between $1 and $2 and ${present} and not exists (select 1 from ${fk.parent} p where ${match})`
    );
  });
  const { rows } = await session.query<{ n: number; fk: number; vals: string }>(
    `select distinct on (n) n, fk, vals from (${selects.join(' union all ')}) o order by n, fk`,
    [lo, hi],
  );
  return rows.map((r) => {
    const fk = checked[Number(r.fk)] as ForeignKey;
    return {
      n: Number(r.n),
      error: {
        code: FOREIGN_KEY_VIOLATION,
        message: `insert or update on table "${target.name}" violates foreign key constraint "${fk.name}"`,
        detail: `Key (${fk.names.join(', ')})=(${r.vals}) is not present in table "${fk.parentName}".`,
      },
    };
  });
}
