/**
 * The seed's `scripts/seed_users.py`: the default accounts, idempotent. Run it
 * any number of times: users that exist (by casefolded username) are left as
 * they are — their password is not reset — and the rest are created, in one
 * statement (`insert ... on conflict (username) do nothing`), so two runs at
 * once cannot duplicate a user either. Applies the example's migrations
 * first, so it works on a fresh database.
 *
 *   npx tsx examples/chatcore/seed-users.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatcore npx tsx examples/chatcore/seed-users.ts
 *
 * Prints `seed-users: 3 created, 0 unchanged` and one line per user; exits 0,
 * or 1 with one line on stderr when the database cannot be used.
 */
import { connect, type Ferry } from '../../src/index.js';
import { hashPassword } from './auth.js';
import * as schema from './schema.js';
import { casefold, type DB } from './service.js';

/** The seed's defaults (development only: change the passwords of a real deployment). */
export const DEFAULT_USERS = [
  { username: 'admin', password: '1234', role: 'admin' },
  { username: 'user2', password: '1234', role: 'user' },
  { username: 'user3', password: '12345', role: 'user' },
] as const;

export interface SeedReport {
  created: string[];
  unchanged: string[];
}

export async function seedUsers(
  ferry: Ferry<DB>,
  users: ReadonlyArray<{ username: string; password: string; role: 'admin' | 'user' }> = DEFAULT_USERS,
): Promise<SeedReport> {
  const rows = await Promise.all(
    users.map(async (u) => ({
      username: casefold(u.username),
      password_hash: await hashPassword(u.password),
      role: u.role,
    })),
  );
  const inserted = await ferry.db
    .insertInto('users')
    .values(rows)
    .onConflict((oc) => oc.column('username').doNothing())
    .returning('username')
    .execute();
  const created = new Set(inserted.map((r) => r.username));
  return {
    created: rows.filter((r) => created.has(r.username)).map((r) => r.username),
    unchanged: rows.filter((r) => !created.has(r.username)).map((r) => r.username),
  };
}

async function main(): Promise<number> {
  let ferry: Ferry<DB> | undefined;
  try {
    ferry = await connect({ schema });
    await ferry.migrate(new URL('./migrations', import.meta.url).pathname);
    const report = await seedUsers(ferry);
    console.log(
      `seed-users: ${report.created.length} created, ${report.unchanged.length} unchanged (${ferry.backend})`,
    );
    for (const u of DEFAULT_USERS) {
      const what = report.created.includes(u.username) ? 'created' : 'unchanged';
      console.log(`  ${u.username} (${u.role}): ${what}`);
    }
    return 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    console.error(`seed-users: ${(err as Error).message}${code ? ` [${code}]` : ''}`);
    return 1;
  } finally {
    await ferry?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main();
}
