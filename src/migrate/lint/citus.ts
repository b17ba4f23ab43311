/**
 * What Citus requires of a schema that distributes tables (schema/citus.ts),
 * checked on the schema rather than on migration SQL: the rules need every
 * table's keys, foreign keys and distribution at once, which the SQL text of
 * one migration does not hold. Citus refuses each of these when the
 * migration runs on the cluster (never on plain PostgreSQL, where the
 * distribution is a no-op), so they are errors: `migrate new` reports them
 * at the line of the migration that adds the offending key or distribution.
 *
 * - `citus-unique-without-distribution-column`: a primary key, unique
 *   constraint or unique index of a distributed table must include the
 *   distribution column (each shard enforces uniqueness on its own rows).
 * - `citus-foreign-key-without-distribution-column`: a foreign key between
 *   distributed tables must pair the distribution columns of both.
 * - `citus-foreign-key-not-colocated`: ... and both tables must be in the
 *   same co-location group.
 * - `citus-foreign-key-to-local-table`: a foreign key between a distributed
 *   table and a plain (local) table, either way.
 * - `citus-reference-to-distributed`: a reference table cannot reference a
 *   distributed table.
 * - `citus-colocate-mismatch`: `colocateWith` must name a distributed table
 *   of the schema whose distribution column has the same type.
 * - `citus-nullable-distribution-column` (warning): Citus rejects a row
 *   whose distribution column is NULL.
 */
import type { DistributionIR, ForeignKeyIR, SchemaIR, TableIR } from '../../schema/ir.js';
import { type LintFinding, SEVERITY } from './rules.js';

/** A finding before it is placed in a migration file: `anchors` are SQL fragments to find it at, best first. */
export interface CitusFinding extends Omit<LintFinding, 'line' | 'statement' | 'file'> {
  table: string;
  anchors: string[];
}

type Distributed = DistributionIR & { kind: 'distributed' };

export function lintCitus(schema: SchemaIR): CitusFinding[] {
  const tables = new Map(schema.tables.map((t) => [t.name, t]));
  if (!schema.tables.some((t) => t.distribution)) return [];
  const out: CitusFinding[] = [];
  const add = (rule: string, table: string, anchors: string[], message: string, hint: string) =>
    out.push({ rule, severity: SEVERITY.get(rule)!, table, anchors, message, hint });
  const dist = (t: TableIR | undefined): Distributed | null =>
    t?.distribution?.kind === 'distributed' ? t.distribution : null;
  const isReference = (t: TableIR | undefined) => t?.distribution?.kind === 'reference';
  const typeOf = (t: TableIR, column: string) => t.columns.find((c) => c.name === column)?.type ?? '?';

  /** The co-location group: explicit targets followed, `default` by column type, `none` alone. */
  const groupOf = (t: TableIR, seen = new Set<string>()): string => {
    const d = dist(t)!;
    if (d.colocateWith === 'none') return `none:${t.name}`;
    if (d.colocateWith === 'default') return `default:${typeOf(t, d.column)}`;
    const target = tables.get(d.colocateWith);
    if (!dist(target) || seen.has(t.name)) return `none:${t.name}`;
    seen.add(t.name);
    return groupOf(target!, seen);
  };

  for (const t of schema.tables) {
    const d = dist(t);
    const marker = `"table":${JSON.stringify(t.name)}`;
    if (d) {
      const col = t.columns.find((c) => c.name === d.column);
      if (col?.nullable) {
        add(
          'citus-nullable-distribution-column',
          t.name,
          [marker],
          `${t.name}.${d.column} is the distribution column of ${t.name} but allows NULL; Citus rejects a row whose distribution column is NULL.`,
          `Make it .notNull() (or part of the primary key).`,
        );
      }
      const keys = [
        ...(t.primaryKey ? [{ what: 'primary key', name: t.primaryKey.name, columns: t.primaryKey.columns }] : []),
        ...t.uniques.map((u) => ({ what: 'unique constraint', name: u.name, columns: u.columns })),
        ...t.indexes
          .filter((i) => i.unique)
          .map((i) => ({
            what: 'unique index',
            name: i.name,
            columns: i.keys.map((k) => k.column ?? `(${k.expression})`),
          })),
      ];
      for (const k of keys) {
        if (k.columns.includes(d.column)) continue;
        add(
          'citus-unique-without-distribution-column',
          t.name,
          [k.name, marker],
          `the ${k.what} ${k.name} of ${t.name} (${k.columns.join(', ')}) does not include the distribution column ${d.column}; Citus enforces uniqueness shard by shard and refuses it.`,
          `Add ${d.column} to it (e.g. ${k.what === 'primary key' ? 'primaryKey' : 'unique().on'}(t.${d.column}, ${k.columns.map((c) => `t.${c}`).join(', ')})), ` +
            `or make ${t.name} a reference table (.reference()) if it is small and needs the key alone.`,
        );
      }
      if (d.colocateWith !== 'default' && d.colocateWith !== 'none') {
        const target = tables.get(d.colocateWith);
        const targetDist = dist(target);
        if (!target || !targetDist) {
          add(
            'citus-colocate-mismatch',
            t.name,
            [marker],
            `${t.name} is co-located with ${d.colocateWith}, which ${target ? 'is not a distributed table' : 'is not a table of the schema'}.`,
            `Name a table distributed with distributedBy() in colocateWith, or leave colocateWith out (Citus then picks the group by column type).`,
          );
        } else if (typeOf(target, targetDist.column) !== typeOf(t, d.column)) {
          add(
            'citus-colocate-mismatch',
            t.name,
            [marker],
            `${t.name} is distributed by ${d.column} (${typeOf(t, d.column)}) but co-located with ${target.name}, distributed by ${targetDist.column} (${typeOf(target, targetDist.column)}); co-located tables need distribution columns of the same type.`,
            `Give ${t.name}.${d.column} the type ${typeOf(target, targetDist.column)}, or co-locate it with another table.`,
          );
        }
      }
    }
    for (const fk of t.foreignKeys) checkForeignKey(t, fk, marker);
  }
  return out;

  function checkForeignKey(t: TableIR, fk: ForeignKeyIR, marker: string): void {
    const target = tables.get(fk.references.table);
    if (!target) return;
    const from = dist(t);
    const to = dist(target);
    const anchors = [fk.name, marker];
    const what = `foreign key ${fk.name} of ${t.name} (${fk.columns.join(', ')}) references ${target.name} (${fk.references.columns.join(', ')})`;
    if (isReference(t) && to) {
      add(
        'citus-reference-to-distributed',
        t.name,
        anchors,
        `${what}: ${t.name} is a reference table and ${target.name} is distributed; Citus refuses foreign keys from reference tables to distributed tables.`,
        `Drop the foreign key, or make ${target.name} a reference table too, or distribute ${t.name} co-located with ${target.name}.`,
      );
      return;
    }
    if ((from && !to && !isReference(target)) || (to && !from && !isReference(t))) {
      const local = from ? target.name : t.name;
      add(
        'citus-foreign-key-to-local-table',
        t.name,
        anchors,
        `${what}: ${local} is a local (not distributed) table; Citus supports foreign keys between distributed tables only to co-located distributed tables or reference tables.`,
        `Make ${local} a reference table (.reference()) or distribute it co-located with ${from ? t.name : target.name} (.distributedBy(...)), or drop the foreign key.`,
      );
      return;
    }
    if (from && to) {
      const i = fk.columns.indexOf(from.column);
      if (i < 0 || fk.references.columns[i] !== to.column) {
        add(
          'citus-foreign-key-without-distribution-column',
          t.name,
          anchors,
          `${what}: it must pair ${t.name}.${from.column} with ${target.name}.${to.column} (the distribution columns), so that the referenced row is on the same shard.`,
          `Reference a key of ${target.name} that includes ${to.column} (e.g. foreignKey({ columns: [t.${from.column}, ...], references: () => [${target.name}.${to.column}, ...] }) with a unique key on those columns).`,
        );
      }
      if (groupOf(t) !== groupOf(target)) {
        add(
          'citus-foreign-key-not-colocated',
          t.name,
          anchors,
          `${what}: ${t.name} and ${target.name} are distributed but not co-located; Citus needs both ends of a foreign key on the same shards.`,
          `Distribute ${t.name} with { colocateWith: ${target.name} } (the distribution columns need the same type).`,
        );
      }
    }
  }
}
