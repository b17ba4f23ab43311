/**
 * The content checksum of a set of rows, shared by `ferry verify` (source vs
 * table) and backups (table before vs after a restore): the md5 of the row
 * count and the sum of a 64-bit hash of each row. A sum is order-independent,
 * so neither side is sorted; the count keeps an empty set and a set whose
 * hashes cancel out apart.
 *
 *   select md5(count(*) || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0)) from t
 */

/**
 * The aggregate expression: `rowHash` is a bigint expression of one row
 * (e.g. `hash_record_extended(row(t.a, t.b), 0)`); `present`, when given, a
 * condition that limits which rows count (a side of a full join).
 */
export function checksumSql(rowHash: string, present?: string): string {
  const filter = present === undefined ? '' : ` filter (where ${present})`;
  return `md5(count(*)${filter} || ':' || coalesce(sum(${rowHash})${filter}, 0))`;
}
