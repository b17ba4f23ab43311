/** A table with every kind of conflict target: unique constraint, unique index, partial unique index. */
import { boolean, integer, serial, sql, table, text, unique, uniqueIndex } from '../../src/schema/index.js';

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
  },
  (t) => [
    unique().on(t.tenant, t.slug),
    uniqueIndex().on(t.email),
    uniqueIndex('handles_live_nick').on(t.nick).where(sql`not deleted`),
  ],
);
