/**
 * The SQL that moves a staged range into its target: a plain INSERT (only new
 * keys expected), the upsert (per the target's onConflict), and the
 * onConflict: 'error' check for existing keys with different content.
 */
import { quoteIdent } from '../schema/identifiers.js';
import { comparable, type Target } from './targets.js';

/** Staged rows $1..$2 but those in $3 (an int array literal: the rejected orphans). */
const STAGED_RANGE = '_ferry_n between $1 and $2 and not (_ferry_n = any($3::int[]))';

export function plainInsertSql(target: Target, columns: string[]): string {
  const cols = columns.map(quoteIdent).join(', ');
  return `insert into ${quoteIdent(target.name)} (${cols}) select ${cols} from ${target.staging} where ${STAGED_RANGE}`;
}

export function upsertSql(target: Target, columns: string[]): string {
  const cols = columns.map(quoteIdent).join(', ');
  const key = target.key.map(quoteIdent).join(', ');
  const select = `select ${cols} from ${target.staging} where ${STAGED_RANGE}`;
  const insert = `insert into ${quoteIdent(target.name)} as t (${cols}) ${select}`;
  const updatable = columns.filter((c) => !target.key.includes(c) && !target.insertOnly.has(c));
  let conflict: string;
  if (target.onConflict !== 'update' || updatable.length === 0) {
    conflict = `on conflict (${key}) do nothing`;
  } else {
    const touch = Object.values(target.table.columns)
      .filter((c) => c.def.onUpdateNow && !columns.includes(c.name))
      .map((c) => `${quoteIdent(c.name)} = now()`);
    const set = [...updatable.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`), ...touch].join(', ');
    const mine = updatable.map((c) => comparable(target, c, 't')).join(', ');
    const theirs = updatable.map((c) => comparable(target, c, 'excluded')).join(', ');
    const newer = target.newerBy === null ? '' : ` and ${newerSql(target, columns, 'excluded')}`;
    conflict = `on conflict (${key}) do update set ${set} where (${mine}) is distinct from (${theirs})${newer}`;
  }
  // Rows the version guard kept: counted in the statement's snapshot, before the insert (see keptSql).
  const stale =
    target.newerBy === null || target.onConflict !== 'update'
      ? '0'
      : `(select count(*) from ${target.staging} s join ${quoteIdent(target.name)} t on ${keyJoin(target)} ` +
        `where s.${STAGED_RANGE} and ${keptSql(target, columns, 's')} and ${differsSql(target, columns, 's')})`;
  return (
    `with w as (${insert} ${conflict} returning (xmax = 0) as fresh) ` +
    `select count(*) filter (where fresh) as inserted, count(*) filter (where not fresh) as updated, ${stale} as stale from w`
  );
}

/**
 * onConflict `if-newer`: SQL true when the incoming row (`alias`: `excluded`
 * in the upsert, the staging alias elsewhere) may replace the stored row `t`:
 * the stored version is null (older than anything) or the incoming one is
 * strictly greater. An incoming row that does not map the column has no
 * version: it never replaces a versioned row.
 */
export function newerSql(target: Target, columns: readonly string[], alias: string): string {
  const by = quoteIdent(target.newerBy as string);
  if (!columns.includes(target.newerBy as string)) return `t.${by} is null`;
  return `(t.${by} is null or ${alias}.${by} > t.${by})`;
}

/** The negation of `newerSql` without SQL's unknowns: the stored row `t` is kept as the newer (or as new) one. */
export function keptSql(target: Target, columns: readonly string[], alias: string): string {
  const by = quoteIdent(target.newerBy as string);
  if (!columns.includes(target.newerBy as string)) return `t.${by} is not null`;
  return `(t.${by} is not null and (${alias}.${by} is null or ${alias}.${by} <= t.${by}))`;
}

function keyJoin(target: Target): string {
  return target.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' and ');
}

/** Staged row `alias` differs from `t` in a compared column (not the key, not insert-only). */
function differsSql(target: Target, columns: string[], alias: string): string {
  const compared = columns.filter((c) => !target.key.includes(c) && !target.insertOnly.has(c));
  if (compared.length === 0) return 'false';
  return (
    `(${compared.map((c) => comparable(target, c, 't')).join(', ')}) is distinct from ` +
    `(${compared.map((c) => comparable(target, c, alias)).join(', ')})`
  );
}

/** Staged rows whose key exists in the target with different content (onConflict: 'error'). */
export function conflictCheckSql(target: Target, columns: string[]): string {
  return (
    `select s._ferry_n as n from ${target.staging} s join ${quoteIdent(target.name)} t on ${keyJoin(target)} ` +
    `where s.${STAGED_RANGE} and ${differsSql(target, columns, 's')} order by s._ferry_n`
  );
}
