import { type Kysely, sql } from 'kysely';

/** Empty the `public` schema: tables, types, everything a test created in it. */
export async function resetPublicSchema(db: Kysely<any>): Promise<void> {
  await sql`drop schema public cascade`.execute(db);
  await sql`create schema public`.execute(db);
}

/** Run a migration script as the runner would: in a transaction unless it is a no-transaction file. */
export async function runScript(db: Kysely<any>, script: string, noTransaction: boolean): Promise<void> {
  if (noTransaction) await sql.raw(script).execute(db);
  else await db.transaction().execute((trx) => sql.raw(script).execute(trx));
}
