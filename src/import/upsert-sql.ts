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
    conflict = `on conflict (${key}) do update set ${set} where (${mine}) is distinct from (${theirs})`;
  }
  return (
    `with w as (${insert} ${conflict} returning (xmax = 0) as fresh) ` +
    `select count(*) filter (where fresh) as inserted, count(*) filter (where not fresh) as updated from w`
  );
}

/** Staged rows whose key exists in the target with different content (onConflict: 'error'). */
export function conflictCheckSql(target: Target, columns: string[]): string {
  const on = target.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' and ');
  const compared = columns.filter((c) => !target.key.includes(c) && !target.insertOnly.has(c));
  const differs =
    compared.length === 0
      ? 'false'
      : `(${compared.map((c) => comparable(target, c, 't')).join(', ')}) is distinct from ` +
        `(${compared.map((c) => comparable(target, c, 's')).join(', ')})`;
  return (
    `select s._ferry_n as n from ${target.staging} s join ${quoteIdent(target.name)} t on ${on} ` +
    `where s.${STAGED_RANGE} and ${differs} order by s._ferry_n`
  );
}
