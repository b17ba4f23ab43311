/**
 * The database the Studio browser tests look at: authors ← posts ← comments
 * (relations both ways, a `.sensitive()` column, JSON, arrays, bytea,
 * timestamps), `events` with as many rows as asked (the keyset pagination
 * test reads 100,000), and `accounts` filled by a real import with rejects.
 */
import { sql } from 'kysely';
import { Ferry } from '../../src/connect.js';
import type { DbHandle } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import {
  boolean,
  bytea,
  defineSchema,
  integer,
  jsonb,
  renderCreateSql,
  serial,
  text,
  timestamptz,
  uuid,
  varchar,
} from '../../src/schema/index.js';
import { table } from '../../src/schema/table.js';
import { recreateSchema } from './schema-reset.js';

export const authors = table('authors', {
  id: serial().primaryKey(),
  name: varchar(40).notNull(),
  email: varchar(80).notNull().unique(),
  password_hash: text().sensitive(),
  profile: jsonb(),
  tags: text().array(),
  avatar: bytea(),
  joined_at: timestamptz().notNull(),
});

export const posts = table('posts', {
  id: serial().primaryKey(),
  author_id: integer()
    .notNull()
    .references(() => authors.columns.id),
  title: varchar(120).notNull(),
  published: boolean().notNull(),
  created_at: timestamptz().notNull(),
});

export const comments = table('comments', {
  id: serial().primaryKey(),
  post_id: integer()
    .notNull()
    .references(() => posts.columns.id),
  author_id: integer().references(() => authors.columns.id),
  body: text().notNull(),
});

export const events = table('events', {
  id: integer().primaryKey(),
  kind: text().notNull(),
  n: integer().notNull(),
  at: timestamptz().notNull(),
});

export const accounts = table('accounts', {
  id: uuid().primaryKey(),
  username: varchar(40).notNull().unique(),
  display_name: varchar(12).notNull(),
  password_hash: varchar(64).notNull().sensitive(),
});

export const studioModel = { authors, posts, comments, events, accounts };
export const studioSchema = defineSchema(studioModel);

/** Create the tables and fill them; `events` gets `eventRows` rows (ids 1..n). */
export async function seedStudioDatabase(handle: DbHandle, eventRows: number): Promise<Ferry<any>> {
  await recreateSchema(handle, renderCreateSql(studioSchema.toIR()));
  const ferry = new Ferry<any>(handle, studioSchema, {});
  const db = handle.db;
  await sql`insert into authors (name, email, password_hash, profile, tags, avatar, joined_at)
    select 'author ' || g, 'author' || g || '@example.com', 'secret-hash-' || g,
           jsonb_build_object('city', 'Town ' || g, 'langs', jsonb_build_array('en', 'de'), 'n', g),
           array['tag' || g, 'common'], decode(repeat('ab', g), 'hex'),
           timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day'
    from generate_series(1, 30) g`.execute(db);
  // Author 1 writes posts 1-3, every other author one post; post 1 has 4 comments, 2 of them by author 2.
  await sql`insert into posts (author_id, title, published, created_at)
    select case when g <= 3 then 1 else g - 2 end, 'Post number ' || g, g % 2 = 0,
           timestamptz '2024-06-01 12:00:00+00' + g * interval '1 hour'
    from generate_series(1, 20) g`.execute(db);
  await sql`insert into comments (post_id, author_id, body)
    select case when g <= 4 then 1 else 2 end, case when g <= 2 then 2 else 3 end, 'Comment ' || g
    from generate_series(1, 6) g`.execute(db);
  await sql`insert into events (id, kind, n, at)
    select g, (array['click', 'view', 'buy'])[1 + g % 3], g % 1000,
           timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second'
    from generate_series(1, ${eventRows}::int) g`.execute(db);
  await sql`analyze`.execute(db);
  return ferry;
}

interface LegacyAccount {
  name: string;
  display: string;
  pw: string;
}

function arraySource(items: LegacyAccount[]): Source {
  return {
    label: 'legacy-accounts.json',
    async *records(): AsyncGenerator<SourceRecord> {
      for (const [index, value] of items.entries()) {
        yield { kind: 'record', value, loc: { source: 'legacy-accounts.json', index } };
      }
    },
    files: async () => [],
    estimate: async () => ({ records: items.length }),
  };
}

/**
 * Run a real import of 5 legacy accounts, 2 of them bad: one refused by the
 * schema's validation (display name too long), one by the database
 * (duplicate username: SQLSTATE 23505). Returns the import's name.
 */
export async function importAccountsWithRejects(handle: DbHandle): Promise<string> {
  const items: LegacyAccount[] = [
    { name: 'ann', display: 'Ann', pw: 'hash-ann' },
    { name: 'bob', display: 'Bob the very long name', pw: 'hash-bob' },
    { name: 'cid', display: 'Cid', pw: 'hash-cid' },
    { name: 'dee', display: 'Dee', pw: 'hash-dee' },
    { name: 'Ann', display: 'Ann again', pw: 'hash-ann-2' },
  ];
  const definition = defineImport({
    name: 'legacy-accounts',
    schema: { accounts },
    source: arraySource(items),
    tables: { accounts: { key: ['id'] } },
    map: (rec: LegacyAccount, ctx) => ({
      accounts: {
        id: ctx.uuid('account', rec.name),
        // Lower-cased here, so "Ann" collides with "ann" on the unique username (a database reject).
        username: rec.name.toLowerCase(),
        display_name: rec.display,
        password_hash: rec.pw,
      },
    }),
  });
  const report = await runImport({ db: handle, definition, rejectsFile: null, batchSize: 10 });
  if (report.rejects !== 2) throw new Error(`expected 2 rejects from the seed import, got ${report.rejects}`);
  return 'legacy-accounts';
}
