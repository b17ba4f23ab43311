import { quoteIdent } from './identifiers.js';

/**
 * A fragment of SQL text for DDL: defaults, checks, index expressions and
 * predicates. Unlike Kysely's `sql`, values are rendered as literals, not bound
 * as parameters, because DDL cannot take parameters.
 */
export class SqlExpr {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** Anything that renders itself as an SQL identifier reference (a table column). */
export interface SqlIdentifiable {
  readonly sqlName: string;
}

function isIdentifiable(value: unknown): value is SqlIdentifiable {
  return typeof value === 'object' && value !== null && typeof (value as SqlIdentifiable).sqlName === 'string';
}

/**
 * Tagged template for DDL expressions. Interpolated columns become quoted
 * identifiers, `SqlExpr`s are inlined, other values become SQL literals:
 * sql`lower(${users.columns.username})`, sql`status <> ${'deleted'}`.
 */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlExpr {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += renderInterpolation(value) + (strings[i + 1] ?? '');
  });
  return new SqlExpr(text);
}

/** Raw SQL text, inserted verbatim. Never pass user input. */
sql.raw = (text: string): SqlExpr => new SqlExpr(text);

function renderInterpolation(value: unknown): string {
  if (value instanceof SqlExpr) return value.text;
  if (isIdentifiable(value)) return quoteIdent(value.sqlName);
  return literal(value);
}

/** Render a JS value as an SQL literal (strings quoted and escaped, JSON for objects). */
export function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `'${value}'`;
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return quoteString(value.toISOString());
  if (typeof value === 'string') return quoteString(value);
  if (value instanceof SqlExpr) return value.text;
  return quoteString(JSON.stringify(value));
}

function quoteString(s: string): string {
  // E'' syntax is only needed for backslashes under standard_conforming_strings=off,
  // which no supported server uses; doubling quotes is enough.
  return `'${s.replaceAll("'", "''")}'`;
}
