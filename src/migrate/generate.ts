import { E_QUERY, FerryError } from '../errors.js';
import type { SchemaIR } from '../schema/ir.js';
import type { Schema } from '../schema/schema.js';
import { type Change, diffSchemas } from './diff.js';
import { type MigrationFile, readMigrations, writeMigration } from './files.js';
import { renameHints } from './hints.js';
import { type PlannedMigration, planMigrations } from './plan.js';
import { fixedPoint, normalise, type Shadow } from './shadow.js';

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
  /**
   * Migrations as they stand on disk, replayed: what a database those
   * migrations ran on reports (compare it with `introspect()` of one).
   */
  current: SchemaIR;
  /** The DSL, as Postgres reports it (normalised to a fixed point). */
  target: SchemaIR;
  /** From `current` to `target`, both normalised to a fixed point. */
  changes: Change[];
}

/**
 * What the DSL has that the migrations do not: both sides go through the same
 * shadow database, so defaults and expressions are spelled by Postgres alike,
 * and both are taken to a fixed point (see shadow.ts `fixedPoint`): a
 * migration holds the text the DSL normalised to, and Postgres may print that
 * text, parsed again, differently.
 */
export async function pendingChanges(shadow: Shadow, schema: Schema, dir: string): Promise<Pending> {
  const current = await replayMigrations(shadow, dir);
  const from = await settled(shadow, current);
  const target = await normalise(shadow, schema.toIR());
  return { current, target, changes: diffSchemas(from, target, renameHints(schema)) };
}

/**
 * `current` at its fixed point. Re-creating it from its IR alone fails when
 * it depends on what the IR does not carry (a function or extension a
 * migration created, gone after the shadow's reset): then it is compared as
 * replayed, as it always was.
 */
async function settled(shadow: Shadow, current: SchemaIR): Promise<SchemaIR> {
  try {
    return await fixedPoint(shadow, current);
  } catch (err) {
    if (err instanceof FerryError && err.code === E_QUERY) return current;
    throw err;
  }
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
