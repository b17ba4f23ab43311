/**
 * Changes to standalone sequences. New ones are created before tables (a
 * default may call `nextval()` on them) and owned (`OWNED BY`) after the
 * tables and columns exist; ownership is given up before columns and tables
 * are dropped (dropping the owner would take the sequence with it), and
 * sequences that go away are dropped after the tables. Option changes are one
 * `ALTER SEQUENCE` setting every option, whose down sets every previous one.
 */
import { commentSql } from '../../schema/comments.js';
import type { SequenceIR } from '../../schema/ir.js';
import { alterSequence, createSequence, dropSequence, ownSequence } from '../../schema/sequence.js';
import { type Change, change } from './change.js';

const owner = (o: SequenceIR['ownedBy']) => (o === null ? 'none' : `${o.table}.${o.column}`);

export function createSequenceChange(s: SequenceIR): Change {
  return change('main', `create sequence ${s.name}`, [createSequence(s)], [dropSequence(s)]);
}

export function dropSequenceChange(s: SequenceIR): Change {
  return {
    ...change(
      'main',
      `drop sequence ${s.name}`,
      [dropSequence(s)],
      [
        createSequence({ ...s, ownedBy: null }),
        ...(s.comment !== undefined ? [commentSql({ kind: 'sequence', name: s.name }, s.comment)] : []),
      ],
    ),
    destructive: true,
  };
}

/** Options (and type) of a sequence that stays; ownership is `ownerChange`'s. */
export function alterSequenceChanges(old: SequenceIR, next: SequenceIR): Change[] {
  const strip = (s: SequenceIR) => JSON.stringify({ ...s, ownedBy: null, comment: undefined });
  if (strip(old) === strip(next)) return [];
  return [change('main', `alter sequence ${next.name}`, [alterSequence(next)], [alterSequence(old)])];
}

export function ownerChange(name: string, from: SequenceIR['ownedBy'], to: SequenceIR['ownedBy']): Change {
  return change(
    'main',
    `sequence ${name} owned by ${owner(to)} (was ${owner(from)})`,
    [ownSequence(name, to)],
    [ownSequence(name, from)],
  );
}

export const sameOwner = (a: SequenceIR['ownedBy'], b: SequenceIR['ownedBy']) => owner(a) === owner(b);
