/**
 * Hello Bot on Ferry: a burst of Telegram visits handled concurrently, each
 * in its own transaction, then the admin views. Runs on whatever
 * DATABASE_URL selects, the embedded database by default.
 */
import { connect, type DatabaseOf, type Ferry, FerryError, redactUrl } from '../../src/index.js';
import * as schema from './schema.js';
import { displayName, type TelegramUser, UserService } from './user-service.js';

export async function runHelloBot(
  options: { url?: string; ferry?: Ferry<DatabaseOf<typeof schema>>; log?: (line: string) => void } = {},
) {
  const log = options.log ?? console.log;
  // Reuse the caller's connection when given one (the embedded database allows one opener).
  const ferry = options.ferry ?? (await connect({ schema, url: options.url }));
  try {
    log(`hello-bot: ${ferry.backend} at ${ferry.url}`);
    const migrated = await ferry.migrate(new URL('./migrations', import.meta.url).pathname);
    const applied = migrated.results.filter((r) => r.status === 'applied').length;
    log(`migrations: ${applied} applied, schema up to date`);

    const visitors: TelegramUser[] = Array.from({ length: 40 }, (_, i) => ({
      id: 1_000_000 + (i % 25),
      username: i % 7 === 0 ? null : `user_${i % 25}`,
      first_name: `First${i % 25}`,
      last_name: i % 3 === 0 ? `Last${i}` : null,
      language_code: ['en', 'de', 'es'][i % 3]!,
    }));
    let created = 0;
    let updated = 0;
    // Session per task: every visit runs in its own transaction, concurrently.
    await Promise.all(
      visitors.map((tg) =>
        ferry.transaction(async (tx) => {
          const result = await new UserService(tx).getOrCreateUser(tg);
          if (result.created) created++;
          if (result.updated) updated++;
        }),
      ),
    );
    const service = new UserService(ferry);
    log(`visits: ${visitors.length}, users created: ${created}, updated: ${updated}`);

    await service.deactivate(1_000_003);
    const first = await service.listActiveUsers({ limit: 5 });
    log(`newest active users: ${first.rows.map(displayName).join(', ')}`);
    const second = await service.listActiveUsers({ limit: 5, cursor: first.nextCursor ?? undefined });
    log(`next page: ${second.rows.map(displayName).join(', ')}`);
    const found = await service.searchByUsername('USER_1', 5);
    log(`search "USER_1": ${found.map((u) => u.username).join(', ')}`);
    log(`languages: ${(await service.languageStats()).map((s) => `${s.language_code}=${s.users}`).join(' ')}`);
    return { created, updated, total: await ferry.repo(schema.users).count() };
  } finally {
    if (!options.ferry) await ferry.close();
  }
}

/**
 * The demo's failure as one line: people run it by hand, often against some
 * DATABASE_URL they already had, and a stack trace buries the one sentence
 * that says what is wrong. FERRY_DEBUG=1 prints the stack as well.
 */
export function failureLine(err: unknown): string {
  // Ferry's own errors are already redacted; anything else is shown with any URL's password masked.
  const code = err instanceof FerryError ? err.code : 'E_UNEXPECTED';
  const message = err instanceof FerryError ? err.message : redactUrl(err instanceof Error ? err.message : String(err));
  const oneLine = message.replace(/\s*\n\s*(- )?/g, ' ').trim();
  const hint = code.startsWith('E_MIGRATION')
    ? ' The demo needs a database of its own: point DATABASE_URL at an empty one, or unset it for the embedded database.'
    : '';
  return `hello-bot: ${oneLine}${code.startsWith('E_') ? ` [${code}]` : ''}${hint}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await runHelloBot();
  } catch (err) {
    process.stderr.write(`${failureLine(err)}\n`);
    if (process.env.FERRY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
