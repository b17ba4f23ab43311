import { E_SCHEMA, FerryError } from '../errors.js';
import { isPgEnum, type PgEnum } from './enum.js';
import { type Extension, isExtension, sortExtensions } from './extension.js';
import { type Fn, functionKey, isFn, sortFunctions } from './function.js';
import type { EnumIR, PartitionIR, SchemaIR, TableIR } from './ir.js';
import { isPartition, type Partition, sortPartitions } from './partition.js';
import { isPolicy, type Policy } from './policy.js';
import { isRaw, type Raw } from './raw.js';
import { isSequence, type Sequence, sortSequences } from './sequence.js';
import { isTable, type Table } from './table.js';
import { isTrigger, sortTriggers, type Trigger, triggerKey } from './trigger.js';
import { guessDependencies, isView, type View } from './view.js';

/** A schema: the extensions, tables and enums of a module, in a stable order. */
export interface Schema {
  readonly extensions: readonly Extension[];
  readonly sequences: readonly Sequence[];
  readonly tables: readonly Table[];
  readonly enums: readonly PgEnum[];
  readonly views: readonly View[];
  readonly functions: readonly Fn[];
  readonly triggers: readonly Trigger[];
  readonly raw: readonly Raw[];
  readonly policies?: readonly Policy[];
  readonly partitions: readonly Partition[];
  table(name: string): Table | undefined;
  toIR(): SchemaIR;
}

/**
 * Collect the tables and enums exported by a schema module
 * (`import * as schema from './schema.js'`). Enums used by a column but not
 * exported are included too, so forgetting an export cannot drop a type.
 */
export function defineSchema(module: Record<string, unknown> | readonly unknown[]): Schema {
  const values = Array.isArray(module) ? module : Object.values(module);
  const tables = new Map<string, Table>();
  const enums = new Map<string, PgEnum>();
  const extensions = new Map<string, Extension>();
  const sequences = new Map<string, Sequence>();
  const views = new Map<string, View>();
  const functions = new Map<string, Fn>();
  const triggers = new Map<string, Trigger>();
  const raws = new Map<string, Raw>();
  const policies = new Map<string, Policy>();
  const partitions = new Map<string, Partition>();
  for (const value of values) {
    if (isPartition(value)) {
      const seen = partitions.get(value.name);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `Partition "${value.name}" is declared twice with different bounds.`);
      }
      partitions.set(value.name, value);
      continue;
    }
    if (isPolicy(value)) {
      const key = `${value.table}.${value.name}`;
      const seen = policies.get(key);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `Policy "${value.name}" on ${value.table} is declared twice differently.`);
      }
      policies.set(key, value);
      continue;
    }
    if (isView(value)) {
      const seen = views.get(value.name);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `View "${value.name}" is declared twice with different definitions.`);
      }
      views.set(value.name, value);
      continue;
    }
    if (isRaw(value)) {
      const seen = raws.get(value.name);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `Two raw() are named "${value.name}" with different SQL.`);
      }
      raws.set(value.name, value);
      continue;
    }
    if (isFn(value) || isTrigger(value)) {
      const [map, key, what] = isFn(value)
        ? [functions as Map<string, Fn | Trigger>, functionKey(value.toIR()), 'Function']
        : [triggers as Map<string, Fn | Trigger>, triggerKey(value), 'Trigger'];
      const seen = map.get(key);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `${what} ${key} is declared twice with different definitions.`);
      }
      map.set(key, value);
      continue;
    }
    if (isSequence(value)) {
      const seen = sequences.get(value.name);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `Sequence "${value.name}" is declared twice with different options.`);
      }
      sequences.set(value.name, value);
      continue;
    }
    if (isExtension(value)) {
      const seen = extensions.get(value.name);
      if (seen && JSON.stringify(seen.toIR()) !== JSON.stringify(value.toIR())) {
        throw new FerryError(E_SCHEMA, `Extension "${value.name}" is declared twice with different options.`);
      }
      extensions.set(value.name, value);
      continue;
    }
    if (isTable(value)) {
      const seen = tables.get(value.name);
      if (seen && seen !== value) throw new FerryError(E_SCHEMA, `Two tables are named "${value.name}".`);
      tables.set(value.name, value);
    } else if (isPgEnum(value)) {
      addEnum(enums, value);
    }
  }
  for (const t of tables.values()) {
    for (const c of Object.values(t.columns)) {
      if (c.def.enumName && !enums.has(c.def.enumName)) {
        const placeholder = {
          enumName: c.def.enumName,
          values: c.def.enumValues ?? [],
          renamedValues: c.def.enumRenamedValues ?? {},
        };
        enums.set(c.def.enumName, placeholder as unknown as PgEnum);
      }
    }
  }
  const ordered = [...tables.values()];
  const schema: Schema = {
    extensions: [...extensions.values()],
    sequences: [...sequences.values()],
    tables: ordered,
    enums: [...enums.values()],
    views: [...views.values()],
    functions: [...functions.values()],
    triggers: [...triggers.values()],
    raw: [...raws.values()],
    policies: [...policies.values()],
    partitions: [...partitions.values()],
    table: (name) => tables.get(name),
    toIR: () => schemaToIR(schema),
  };
  return schema;
}

function addEnum(enums: Map<string, PgEnum>, value: PgEnum): void {
  const seen = enums.get(value.enumName);
  if (seen && seen.values.join('\u0000') !== value.values.join('\u0000')) {
    throw new FerryError(E_SCHEMA, `Two enums are named "${value.enumName}" with different values.`);
  }
  enums.set(value.enumName, value);
}

function schemaToIR(schema: Schema): SchemaIR {
  const tables = schema.tables.map((t) => t.toIR());
  const byName = new Map(tables.map((t) => [t.name, t]));
  for (const t of tables) {
    for (const fk of t.foreignKeys) {
      const target = byName.get(fk.references.table);
      if (!target) {
        throw new FerryError(
          E_SCHEMA,
          `${t.name}.${fk.columns.join(',')} references table "${fk.references.table}", which is not exported by the schema module.`,
        );
      }
      for (const col of fk.references.columns) {
        if (!target.columns.some((c) => c.name === col)) {
          throw new FerryError(E_SCHEMA, `${t.name} references ${target.name}.${col}, which does not exist.`);
        }
      }
    }
  }
  attachPolicies(byName, schema.policies ?? []);
  const enums: EnumIR[] = schema.enums.map((e) => ({
    name: e.enumName,
    values: [...e.values],
    ...(typeof e.toIR === 'function' && e.toIR().comment !== undefined ? { comment: e.toIR().comment } : {}),
  }));
  const sequences = sortSequences(schema.sequences.map((s) => s.toIR()));
  for (const s of sequences) {
    if (s.ownedBy === null) continue;
    const owner = byName.get(s.ownedBy.table);
    if (!owner?.columns.some((c) => c.name === s.ownedBy!.column)) {
      throw new FerryError(
        E_SCHEMA,
        `Sequence ${s.name} is owned by ${s.ownedBy.table}.${s.ownedBy.column}, which is not a column of the schema module.`,
      );
    }
  }
  const extensions = sortExtensions(schema.extensions.map((e) => e.toIR()));
  const views = viewsIR(schema, tables);
  const functions = sortFunctions(schema.functions.map((f) => f.toIR()));
  const triggers = sortTriggers(schema.triggers.map((t) => t.toIR()));
  // A trigger is on a table or (INSTEAD OF, or per statement) on a plain view; a materialized view has none.
  const plainViews = new Set(views.filter((v) => !v.materialized).map((v) => v.name));
  for (const t of triggers) {
    if (!byName.has(t.table) && !plainViews.has(t.table)) {
      throw new FerryError(
        E_SCHEMA,
        `Trigger ${t.name} is on "${t.table}", which is not a table or (plain) view exported by the schema module.`,
      );
    }
  }
  const partitions = checkedPartitions(schema, byName);
  // Each present only when there are some, so IR written before they existed compares equal.
  return {
    ...(extensions.length > 0 ? { extensions } : {}),
    ...(sequences.length > 0 ? { sequences } : {}),
    enums,
    tables,
    ...(views.length > 0 ? { views } : {}),
    ...(functions.length > 0 ? { functions } : {}),
    ...(triggers.length > 0 ? { triggers } : {}),
    // In declaration order: raw SQL may depend on raw SQL before it.
    ...(schema.raw.length > 0 ? { raw: schema.raw.map((r) => r.toIR()) } : {}),
    ...(partitions.length > 0 ? { partitions } : {}),
  };
}

/** Views by name, each with the relations its SQL names (the shadow database reports the real dependencies). */
function viewsIR(schema: Schema, tables: readonly { name: string }[]) {
  const relations = [...tables.map((t) => t.name), ...schema.views.map((v) => v.name)];
  for (const v of schema.views) {
    if (tables.some((t) => t.name === v.name)) {
      throw new FerryError(E_SCHEMA, `View "${v.name}" has the name of a table; relations share one namespace.`);
    }
  }
  return schema.views
    .map((v) => {
      const ir = v.toIR();
      return { ...ir, dependsOn: guessDependencies(ir, relations) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Each policy onto its table's IR (`TableIR.policies`, by name as introspection sorts them). */
function attachPolicies(tables: Map<string, TableIR>, policies: readonly Policy[]): void {
  for (const p of policies) {
    const t = tables.get(p.table);
    if (!t) {
      throw new FerryError(
        E_SCHEMA,
        `Policy ${p.name} is on table "${p.table}", which is not exported by the schema module.`,
      );
    }
    t.policies = [...(t.policies ?? []), p.toIR()];
  }
  for (const t of tables.values()) t.policies?.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Partitions, parents first; each parent must be an exported partitioned table or partition, and no name taken twice. */
function checkedPartitions(schema: Schema, tables: Map<string, TableIR>): PartitionIR[] {
  const partitions = sortPartitions(schema.partitions.map((p) => p.toIR()));
  const parents = new Map(partitions.map((p) => [p.name, p]));
  for (const p of partitions) {
    if (tables.has(p.name)) throw new FerryError(E_SCHEMA, `Partition ${p.name} has the name of a table.`);
    const parent = tables.get(p.parent) ?? parents.get(p.parent);
    if (!parent) {
      throw new FerryError(
        E_SCHEMA,
        `Partition ${p.name} is a partition of ${p.parent}, which is not exported by the schema module.`,
      );
    }
    if (!parent.partitionBy) throw new FerryError(E_SCHEMA, `Partition ${p.name}: ${p.parent} is not partitioned.`);
  }
  return partitions;
}
