import type { SchemaIR } from '../schema/ir.js';
import type { Schema } from '../schema/schema.js';
import { type Change, diffSchemas } from './diff.js';
import { type MigrationFile, readMigrations, writeMigration } from './files.js';
import { renameHints } from './hints.js';
import { type PlannedMigration, planMigrations } from './plan.js';
import { normalise, type Shadow } from './shadow.js';

/** The schema the migrations in `dir` (all, or up to and including `upTo`) produce, replayed into the shadow. */
export async function replayMigrations(shadow: Shadow, dir: string, upTo?: string): Promise<SchemaIR> {
  await shadow.reset();
  for (const m of readMigrations(dir)) {
    await shadow.apply([m.up]);
    if (m.id === upTo) break;
  }
  return shadow.introspect();
}

export interface Pending {
  /** Migrations as they stand on disk, replayed. */
  current: SchemaIR;
  /** The DSL, as Postgres reports it. */
  target: SchemaIR;
  changes: Change[];
}

/**
 * What the DSL has that the migrations do not: both sides go through the same
 * shadow database, so defaults and expressions are spelled by Postgres alike.
 */
export async function pendingChanges(shadow: Shadow, schema: Schema, dir: string): Promise<Pending> {
  const current = await replayMigrations(shadow, dir);
  const target = await normalise(shadow, schema.toIR());
  return { current, target, changes: diffSchemas(current, target, renameHints(schema)) };
}

export interface GenerateResult {
  changes: Change[];
  planned: PlannedMigration[];
  written: MigrationFile[];
}

/**
 * `ferry migrate new`: write the migrations (up and down) that bring the
 * migrations folder level with the DSL, or blank files with `empty`.
 * Writes nothing when there is nothing to do.
 */
export async function generateMigration(options: {
  shadow: Shadow;
  schema: Schema;
  dir: string;
  name: string;
  empty?: boolean;
  now?: Date;
}): Promise<GenerateResult> {
  const now = options.now ?? new Date();
  if (options.empty) {
    const written = writeMigration(options.dir, {
      name: options.name,
      up: '-- Write the change here (a data migration, say).\n',
      down: '-- Write how to undo it here.\n',
      now,
    });
    return { changes: [], planned: [], written: [written] };
  }
  const { changes } = await pendingChanges(options.shadow, options.schema, options.dir);
  const planned = planMigrations(changes, options.name);
  // One second apart, so the folders sort in the order they must run.
  const written = planned.map((m, i) =>
    writeMigration(options.dir, { name: m.name, up: m.up, down: m.down, now: new Date(now.getTime() + i * 1000) }),
  );
  return { changes, planned, written };
}
