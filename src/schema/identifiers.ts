import { E_SCHEMA, FerryError } from '../errors.js';

/** Postgres truncates longer identifiers silently; we refuse them instead. */
export const MAX_IDENTIFIER_BYTES = 63;

// Keywords that `quote_ident()` would quote (reserved, type/function-name and
// column-name categories). Quoting them keeps rendered DDL valid whatever the
// user names a column; over-quoting is harmless, under-quoting is not.
const KEYWORDS = new Set(
  `all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case cast
  char character check coalesce collate collation column concurrently constraint create cross current_catalog
  current_date current_role current_schema current_time current_timestamp current_user dec decimal default deferrable
  desc distinct do else end except exists extract false fetch float for foreign freeze from full grant greatest group
  grouping having ilike in initially inner inout int integer intersect interval into is isnull join json json_array
  json_arrayagg json_exists json_object json_objectagg json_query json_scalar json_serialize json_table json_value
  lateral leading least left like limit localtime localtimestamp merge_action national natural nchar none normalize not
  notnull null nullif numeric offset on only or order out outer overlaps overlay placing position precision primary
  real references returning right row select session_user setof similar smallint some substring symmetric system_user
  table tablesample then time timestamp to trailing treat trim true union unique user using values varchar variadic
  verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
  xmlroot xmlserialize xmltable`.split(/\s+/),
);

/** Quote an identifier the way Postgres's `quote_ident()` does: only when needed. */
export function quoteIdent(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !KEYWORDS.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** Throw a schema error unless `name` is a usable Postgres identifier. */
export function assertIdentifier(name: string, what: string): void {
  if (name.length === 0) throw new FerryError(E_SCHEMA, `${what} has an empty name.`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new FerryError(
      E_SCHEMA,
      `${what} name "${name}" is ${bytes} bytes; Postgres allows ${MAX_IDENTIFIER_BYTES} and would silently truncate it. Give it a shorter explicit name.`,
      { details: { name } },
    );
  }
}
