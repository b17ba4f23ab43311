/** The table the live-move tests move items into, and the backfill import of Redis items (shared with a child process). */
import { defineImport } from '../../../src/import/define.js';
import { redis } from '../../../src/import/sources/redis.js';
import { integer, table, text, timestamptz } from '../../../src/schema/index.js';

export const itemsTable = (name: string) =>
  table(name, {
    id: text().primaryKey(),
    body: text().notNull(),
    n: integer().notNull(),
    updated_at: timestamptz().notNull(),
  });

/** Import of the JSON items under `prefix` in Redis into `table`: only strictly newer versions replace a row. */
export function backfillDefinition(o: { redisUrl: string; prefix: string; table: string }) {
  const t = itemsTable(o.table);
  return defineImport({
    name: `backfill-${o.table}`,
    schema: { [o.table]: t },
    source: redis({ url: o.redisUrl, match: `${o.prefix}*`, type: 'json' }),
    tables: { [o.table]: { key: ['id'], onConflict: { update: 'if-newer', by: 'updated_at' } } },
    map: (record: { value: unknown }) => ({ [o.table]: record.value }),
  } as any);
}
