/** A table with every kind of conflict target (unique constraint, unique index, partial unique index) and a json column. */
import { boolean, integer, json, serial, sql, table, text, unique, uniqueIndex } from '../../src/schema/index.js';

export const handles = table(
  'handles',
  {
    id: serial().primaryKey(),
    tenant: integer().notNull(),
    slug: text().notNull(),
    email: text(),
    nick: text(),
    note: text(),
    deleted: boolean().notNull().default(false),
    /** json, not jsonb: no equality and no ordering in Postgres. */
    meta: json(),
  },
  (t) => [
    unique().on(t.tenant, t.slug),
    uniqueIndex().on(t.email),
    uniqueIndex('handles_live_nick').on(t.nick).where(sql`not deleted`),
  ],
);
