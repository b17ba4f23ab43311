/**
 * A foreign key made deferrable, not deferrable, or initially deferred or
 * immediate, changed in place (`ALTER CONSTRAINT`, which Postgres allows for
 * foreign keys): no re-validation, no lock beyond the table's for a moment.
 */
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { ForeignKeyIR, TableIR } from '../../schema/ir.js';
import { alter, type Change, change, hasSame } from './change.js';

const timing = (fk: ForeignKeyIR) =>
  fk.deferrable ? `DEFERRABLE INITIALLY ${fk.deferrable.toUpperCase()}` : 'NOT DEFERRABLE';

/** Changes for the foreign keys of `old` that `next` keeps (same definition) with another deferrability. */
export function deferrableChanges(old: TableIR, next: TableIR): Change[] {
  const out: Change[] = [];
  for (const fk of next.foreignKeys) {
    const prev = old.foreignKeys.find((x) => x.name === fk.name);
    if (!prev || prev.deferrable === fk.deferrable || !hasSame([prev], fk)) continue;
    const set = (x: ForeignKeyIR) => `${alter(next.name)} ALTER CONSTRAINT ${q(fk.name)} ${timing(x)}`;
    out.push(change('main', `make ${fk.name} ${timing(fk).toLowerCase()}`, [set(fk)], [set(prev)]));
  }
  return out;
}
