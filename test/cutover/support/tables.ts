/** Tables the comparator and canonicalizer tests judge values by. */
import { bigint, integer, jsonb, numeric, text, timestamptz } from '../../../src/schema/column.js';
import { table } from '../../../src/schema/table.js';

export const snapshots = table('price_snapshots', {
  id: bigint().primaryKey(),
  card: text(),
  price: numeric(10, 2),
  seen: integer(),
  taken_at: timestamptz(),
  meta: jsonb(),
});
