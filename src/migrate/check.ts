/**
 * `ferry migrate check`'s comparison, for the CLI and Ferry Studio alike:
 * do the schema module, the migrations folder and the database agree?
 * Each difference is one sentence saying what differs and what to run.
 */
import type { DbHandle } from '../db/open.js';
import type { Schema } from '../schema/schema.js';
import { diffSchemas } from './diff.js';
import { pendingChanges } from './generate.js';
import { introspect } from './introspect.js';
import { Migrator } from './runner.js';
import { openShadow } from './shadow.js';

/**
 * The drift between `schema`, the migrations in `dir` and the database of
 * `handle` (empty: they agree). The migrations are replayed in a shadow on
 * the same server (a scratch schema; PGlite: a private in-memory one), so
 * both sides are deparsed alike.
 */
export async function checkDrift(handle: DbHandle, schema: Schema, dir: string): Promise<string[]> {
  const drift: string[] = [];
  const status = await new Migrator(handle.db, { dir }).status();
  for (const p of status.problems) drift.push(p.message);
  for (const p of status.pending) drift.push(`pending migration ${p.id} is not applied (run ferry migrate up)`);
  const shadow = await openShadow({ like: handle });
  try {
    const { current, changes } = await pendingChanges(shadow, schema, dir);
    for (const c of changes)
      drift.push(`schema has a change no migration makes: ${c.description} (run ferry migrate new <name>)`);
    if (status.pending.length === 0 && status.problems.length === 0) {
      for (const c of diffSchemas(current, await introspect(handle.db))) {
        drift.push(`database differs from the migrations: ${c.description} (changed by hand?)`);
      }
    }
  } finally {
    await shadow.close();
  }
  return drift;
}
