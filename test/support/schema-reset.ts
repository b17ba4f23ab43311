import { type Kysely, sql } from 'kysely';
import type { DbHandle } from '../../src/db/open.js';

/** Empty the `public` schema: tables, types, everything a test created in it. */
export async function resetPublicSchema(db: Kysely<any>): Promise<void> {
  await sql`drop schema public cascade`.execute(db);
  await sql`create schema public`.execute(db);
}

/** A test's starting point: `public` emptied, `ddl` run in it, the handle's type parsers reloaded (enums, arrays). */
export async function recreateSchema(db: DbHandle, ddl: string): Promise<void> {
  await resetPublicSchema(db.db);
  await sql.raw(ddl).execute(db.db);
  await db.refreshTypes();
}

/** Run a migration script as the runner would: in a transaction unless it is a no-transaction file. */
export async function runScript(db: Kysely<any>, script: string, noTransaction: boolean): Promise<void> {
  if (noTransaction) await sql.raw(script).execute(db);
  else await db.transaction().execute((trx) => sql.raw(script).execute(trx));
}
