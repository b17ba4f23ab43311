/**
 * Foreign keys and checks whose definition stays but whose validity changes
 * (`ForeignKeyIR.notValid`, `CheckIR.notValid`; see `hasSame`, which leaves
 * it out). Becoming valid is `VALIDATE CONSTRAINT`, in the validate phase
 * (SHARE UPDATE EXCLUSIVE while it scans); Postgres cannot mark a constraint
 * not valid again, so that direction (and the undo of a validation) drops it
 * and adds it back `NOT VALID`, which scans nothing.
 */
import { commentSql } from '../../schema/comments.js';
import { addForeignKey } from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { CheckIR, ForeignKeyIR, TableIR } from '../../schema/ir.js';
import { addCheckSql } from '../../schema/table-options.js';
import { alter, type Change, change, sameDefinition } from './change.js';

type Constraint = { kind: 'fk'; c: ForeignKeyIR } | { kind: 'check'; c: CheckIR };

export function validityChanges(old: TableIR, next: TableIR): Change[] {
  const out: Change[] = [];
  const pairs: [Constraint, Constraint][] = [];
  for (const c of next.foreignKeys) {
    const prev = old.foreignKeys.find((x) => x.name === c.name);
    if (prev)
      pairs.push([
        { kind: 'fk', c: prev },
        { kind: 'fk', c },
      ]);
  }
  for (const c of next.checks) {
    const prev = old.checks.find((x) => x.name === c.name);
    if (prev)
      pairs.push([
        { kind: 'check', c: prev },
        { kind: 'check', c },
      ]);
  }
  const t = next.name;
  const add = (x: Constraint, notValid: boolean) =>
    x.kind === 'fk'
      ? addForeignKey(t, { ...x.c, notValid: notValid || undefined } as ForeignKeyIR)
      : addCheckSql(t, x.c, notValid);
  const drop = (name: string) => `${alter(t)} DROP CONSTRAINT ${q(name)}`;
  // Dropping a constraint drops its comment: put it back after the re-add.
  const cm = (x: Constraint) =>
    x.c.comment === undefined ? [] : [commentSql({ kind: 'constraint', table: t, name: x.c.name }, x.c.comment)];
  for (const [a, b] of pairs) {
    if (!sameDefinition(a.c, b.c)) continue;
    const was = a.c.notValid === true;
    const is = b.c.notValid === true;
    if (was === is) continue;
    const name = b.c.name;
    if (was) {
      out.push(
        change(
          'validate',
          `validate ${name}`,
          [`${alter(t)} VALIDATE CONSTRAINT ${q(name)}`],
          [drop(name), add(a, true), ...cm(a)],
        ),
      );
    } else {
      out.push(
        change(
          'main',
          `make ${name} NOT VALID`,
          [drop(name), add(b, true), ...cm(b)],
          [drop(name), add(a, false), ...cm(a)],
        ),
      );
    }
  }
  return out;
}
