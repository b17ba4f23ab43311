/**
 * Table options beyond columns and constraints: `UNLOGGED`, storage
 * parameters (`WITH (fillfactor = 90)`, also on indexes), column storage and
 * compression, row-level security, and constraints added `NOT VALID`. The
 * IR fields are present only when set (see ir.ts), so IR written before
 * they existed compares equal.
 *
 * The DDL here runs after `CREATE TABLE` (PostgreSQL 15 has no `STORAGE`
 * clause in a column definition, and a `NOT VALID` check written inside
 * `CREATE TABLE` comes out validated), which is also how pg_dump prints them.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { quoteIdent as q } from './identifiers.js';
import type { CheckIR, ColumnCompression, ColumnStorage, DistributionIR, TableIR } from './ir.js';

/** A storage parameter's value; Postgres keeps it as the text given (`0.010` stays `0.010`). */
export type StorageParameter = number | string | boolean;

export interface TableOptions {
  unlogged?: boolean;
  with?: Readonly<Record<string, StorageParameter>>;
  rowLevelSecurity?: { enabled: boolean; force: boolean };
  /** Citus distribution (see schema/citus.ts). */
  distribution?: DistributionIR;
}

export const COLUMN_STORAGES: readonly ColumnStorage[] = ['plain', 'external', 'extended', 'main'];
export const COLUMN_COMPRESSIONS: readonly ColumnCompression[] = ['pglz', 'lz4'];

const PARAMETER = /^[a-z_][a-z0-9_.]*$/;

/** `{ with }` of the IR (values as text, keys in code-unit order), or nothing when none are set. */
export function storageParametersIR(
  parameters: Readonly<Record<string, StorageParameter>> | undefined,
  what: string,
): { with?: Record<string, string> } {
  if (parameters === undefined) return {};
  const out: Record<string, string> = {};
  for (const key of Object.keys(parameters).sort()) {
    const value = parameters[key];
    if (!PARAMETER.test(key)) {
      throw new FerryError(E_SCHEMA, `${what}: storage parameter "${key}" is not a parameter name (e.g. fillfactor).`);
    }
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new FerryError(E_SCHEMA, `${what}: storage parameter ${key} must be a finite number, got ${value}.`);
    }
    if (value === undefined || value === null || String(value) === '') continue;
    out[key] = String(value);
  }
  return Object.keys(out).length > 0 ? { with: out } : {};
}

export function tableOptionsIR(
  table: string,
  o: TableOptions,
): Pick<TableIR, 'unlogged' | 'with' | 'rowLevelSecurity' | 'distribution'> {
  const rls = o.rowLevelSecurity;
  return {
    ...(o.unlogged ? { unlogged: true as const } : {}),
    ...storageParametersIR(o.with, `Table ${table}`),
    ...(rls && (rls.enabled || rls.force) ? { rowLevelSecurity: { enabled: rls.enabled, force: rls.force } } : {}),
    ...(o.distribution ? { distribution: { ...o.distribution } } : {}),
  };
}

export const commentOf = (text: string | null | undefined): { comment?: string } =>
  text === null || text === undefined ? {} : { comment: text };

/** ` WITH (a = 1, b = x)`, or '' when there are none. Values are quoted when they are not plain words/numbers. */
export function withClause(parameters: Readonly<Record<string, string>> | undefined): string {
  if (parameters === undefined) return '';
  const entries = Object.entries(parameters);
  if (entries.length === 0) return '';
  return ` WITH (${entries.map(([k, v]) => `${k} = ${parameterValue(v)}`).join(', ')})`;
}

function parameterValue(v: string): string {
  return /^(-?[0-9]+(\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*)$/.test(v) ? v : `'${v.replaceAll("'", "''")}'`;
}

/** `ALTER TABLE t SET (...)` for parameters set or changed, `RESET (...)` for those gone. */
export function alterStorageParameters(
  target: string,
  from: Readonly<Record<string, string>> | undefined,
  to: Readonly<Record<string, string>> | undefined,
): string[] {
  const set = Object.entries(to ?? {}).filter(([k, v]) => from?.[k] !== v);
  const reset = Object.keys(from ?? {}).filter((k) => to?.[k] === undefined);
  const out: string[] = [];
  if (set.length > 0) out.push(`${target} SET (${set.map(([k, v]) => `${k} = ${parameterValue(v)}`).join(', ')})`);
  if (reset.length > 0) out.push(`${target} RESET (${reset.join(', ')})`);
  return out;
}

/** `SET STATISTICS`; null sets it back to the server's `default_statistics_target` (-1). */
export function columnStatisticsSql(table: string, column: string, target: number | null): string {
  return `ALTER TABLE ${q(table)} ALTER COLUMN ${q(column)} SET STATISTICS ${target ?? -1}`;
}

export function columnStorageSql(table: string, column: string, storage: ColumnStorage): string {
  return `ALTER TABLE ${q(table)} ALTER COLUMN ${q(column)} SET STORAGE ${storage.toUpperCase()}`;
}

export function addCheckSql(table: string, c: CheckIR, notValid = c.notValid === true): string {
  return `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(c.name)} CHECK (${c.expression})${notValid ? ' NOT VALID' : ''}`;
}

export function rowLevelSecuritySql(table: string, rls: TableIR['rowLevelSecurity']): string[] {
  const out: string[] = [];
  if (rls?.enabled) out.push(`ALTER TABLE ${q(table)} ENABLE ROW LEVEL SECURITY`);
  if (rls?.force) out.push(`ALTER TABLE ${q(table)} FORCE ROW LEVEL SECURITY`);
  return out;
}

/**
 * What follows `CREATE TABLE` (see `createTable`, which leaves these out):
 * column storage and statistics targets, `NOT VALID` checks, row-level security.
 */
export function afterCreateTable(t: TableIR): string[] {
  return [
    ...t.columns.filter((c) => c.storage !== undefined).map((c) => columnStorageSql(t.name, c.name, c.storage!)),
    ...t.columns
      .filter((c) => c.statistics !== undefined)
      .map((c) => columnStatisticsSql(t.name, c.name, c.statistics!)),
    ...t.checks.filter((c) => c.notValid).map((c) => addCheckSql(t.name, c)),
    ...rowLevelSecuritySql(t.name, t.rowLevelSecurity),
  ];
}
