import { sql } from 'kysely';
import { type Cache, type CachedRepository, type CacheOptions, createCache } from '../../src/cache/index.js';
import type { DatabaseOf, Duration, Ferry, Row } from '../../src/index.js';
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
 * The seed's cache manager ("Redis -> Memory fallback"): an in-process L1 in
 * front of Redis (L2) when `redis` is given, or REDIS_URL is set; L1 alone
 * otherwise. When Redis stops answering nothing fails: the breaker opens and
 * reads go to the database until Redis is back.
 */
export function createUserCache(
  options: Partial<Pick<CacheOptions, 'redis' | 'logger' | 'breaker' | 'timeoutMs' | 'namespace'>> = {},
): Cache {
  return createCache({ l1: { max: 10_000 }, ...options, namespace: options.namespace ?? 'hellobot' });
}

export interface GetOrCreateResult {
  user: User;
  created: boolean;
  updated: boolean;
}

/**
 * The seed's UserService on Ferry. Users are read through `repo.cached`
 * (by telegram_id, an hour, as the seed's `set_user(ttl=3600)`); every write
 * runs in a transaction of its own (the seed's "session per task": concurrent
 * visits never share one) and drops the cached user once it commits, never
 * on rollback.
 */
export class UserService {
  /** The read-through view: L1 → Redis → Postgres, one loader call per key per process. */
  readonly users: CachedRepository<typeof users>;

  constructor(
    private readonly ferry: Ferry<DB>,
    options: { cache?: Cache; ttl?: Duration } = {},
  ) {
    // Without `cache`, the one given to connect({ cache }).
    this.users = ferry.repo(users).cached({
      ttl: options.ttl ?? '1h',
      by: 'telegram_id',
      ...(options.cache ? { cache: options.cache } : {}),
    });
  }

  /**
   * Return the user, creating it on the first visit and refreshing the
   * Telegram-provided names when they changed. A returning visitor whose
   * names did not change is answered by the cache alone. Safe under
   * concurrent first visits: the insert does nothing on a conflict on the
   * unique telegram_id, so exactly one of them reports `created`.
   */
  async getOrCreateUser(tg: TelegramUser): Promise<GetOrCreateResult> {
    const fields = {
      username: tg.username ?? null,
      first_name: tg.first_name ?? null,
      last_name: tg.last_name ?? null,
      language_code: tg.language_code ?? null,
    };
    const changed = (u: User) => (Object.keys(fields) as (keyof typeof fields)[]).some((k) => u[k] !== fields[k]);
    const cached = await this.users.get(tg.id);
    if (cached && !changed(cached)) return { user: cached, created: false, updated: false };

    // A write, or a row the cache has not seen: decide on what the database holds now.
    const result = await this.ferry.transaction(async (tx): Promise<GetOrCreateResult> => {
      const repo = tx.repo(users);
      let existing = await repo.findOne({ telegram_id: tg.id });
      if (!existing) {
        // ON CONFLICT DO NOTHING: a concurrent first visit that committed first makes this return no row.
        const [inserted] = await repo.upsert(
          { telegram_id: tg.id, ...fields },
          { conflict: ['telegram_id'], update: [] },
        );
        if (inserted) {
          await this.users.invalidate(tx, [inserted]); // a cached "no such user" (negativeTtl) would hide it
          return { user: inserted, created: true, updated: false };
        }
        existing = (await repo.findOne({ telegram_id: tg.id }))!;
      }
      if (!changed(existing)) return { user: existing, created: false, updated: false };
      const user = await this.users.update(tx, existing.id, fields); // invalidated after commit
      return { user: user ?? existing, created: false, updated: true };
    });
    // The seed's "cache the result": read it back through the cache once committed, so the
    // next visit is a hit. Not set directly: the cache's leases make a fill that raced a newer
    // commit a no-op, where a plain set would store the older row.
    await this.users.get(tg.id);
    return result;
  }

  /** Active users, newest first, a page at a time (keyset pagination: stable under ties). */
  listActiveUsers(options: { limit: number; cursor?: string }) {
    return this.ferry.repo(users).page({
      where: { is_active: true },
      orderBy: { created_at: 'desc' },
      limit: options.limit,
      after: options.cursor,
    });
  }

  /** Case-insensitive username search (`ILIKE`), wildcards in the query taken literally. */
  searchByUsername(query: string, limit = 20): Promise<User[]> {
    const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.ferry.repo(users).findMany({
      where: (eb) => eb('username', 'ilike', pattern),
      orderBy: { username: 'asc' },
      limit,
    });
  }

  /** Deactivate; the cached user is dropped once the transaction commits. */
  deactivate(telegramId: number): Promise<boolean> {
    return this.ferry.transaction(async (tx) => {
      const rows = await tx.repo(users).update({ telegram_id: telegramId }, { is_active: false });
      await this.users.invalidate(tx, rows);
      return rows.length > 0;
    });
  }

  /** Users per language, for the admin's /stats. Raw Kysely stays available for reports like this. */
  languageStats(): Promise<{ language_code: string | null; users: number }[]> {
    return this.ferry.db
      .selectFrom('users')
      .select(['language_code', sql<number>`count(*)::int`.as('users')])
      .groupBy('language_code')
      .orderBy('users', 'desc')
      .orderBy('language_code')
      .execute();
  }
}
