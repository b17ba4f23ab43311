import { sql } from 'kysely';
import type { DatabaseOf, Row, Scope } from '../../src/index.js';
import type * as schema from './schema.js';
import { users } from './schema.js';

export type User = Row<typeof users>;
type DB = DatabaseOf<typeof schema>;

/** What Telegram tells us about the sender of a message. */
export interface TelegramUser {
  id: number;
  username?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  language_code?: string | null;
}

export function displayName(user: User): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return user.username || full || `User${user.telegram_id}`;
}

/**
 * The seed's UserService on Ferry. Each call takes the scope it should run
 * in — the connection or a transaction — so concurrent tasks never share a
 * session (the seed's "session per task" rule).
 */
export class UserService {
  constructor(private readonly scope: Scope<DB>) {}

  /**
   * Return the user, creating it on the first visit and refreshing the
   * Telegram-provided names when they changed. Safe under concurrent first
   * visits: the insert is an upsert on the unique telegram_id.
   */
  async getOrCreateUser(tg: TelegramUser): Promise<{ user: User; created: boolean; updated: boolean }> {
    const repo = this.scope.repo(users);
    const fields = {
      username: tg.username ?? null,
      first_name: tg.first_name ?? null,
      last_name: tg.last_name ?? null,
      language_code: tg.language_code ?? null,
    };
    const existing = await repo.findOne({ telegram_id: tg.id });
    if (!existing) {
      const [user] = await repo.upsert({ telegram_id: tg.id, ...fields }, { conflict: ['telegram_id'] });
      return { user: user!, created: true, updated: false };
    }
    const changed = (Object.keys(fields) as (keyof typeof fields)[]).some((k) => existing[k] !== fields[k]);
    if (!changed) return { user: existing, created: false, updated: false };
    const user = await repo.update(existing.id, fields);
    return { user: user ?? existing, created: false, updated: true };
  }

  /** Active users, newest first, a page at a time (keyset pagination: stable under ties). */
  listActiveUsers(options: { limit: number; cursor?: string }) {
    return this.scope.repo(users).page({
      where: { is_active: true },
      orderBy: { created_at: 'desc' },
      limit: options.limit,
      after: options.cursor,
    });
  }

  /** Case-insensitive username search (`ILIKE`), wildcards in the query taken literally. */
  searchByUsername(query: string, limit = 20): Promise<User[]> {
    const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.scope.repo(users).findMany({
      where: (eb) => eb('username', 'ilike', pattern),
      orderBy: { username: 'asc' },
      limit,
    });
  }

  async deactivate(telegramId: number): Promise<boolean> {
    const rows = await this.scope.repo(users).update({ telegram_id: telegramId }, { is_active: false });
    return rows.length > 0;
  }

  /** Users per language, for the admin's /stats. Raw Kysely stays available for reports like this. */
  languageStats(): Promise<{ language_code: string | null; users: number }[]> {
    return this.scope.db
      .selectFrom('users')
      .select(['language_code', sql<number>`count(*)::int`.as('users')])
      .groupBy('language_code')
      .orderBy('users', 'desc')
      .orderBy('language_code')
      .execute();
  }
}
