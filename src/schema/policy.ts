/**
 * `policy('own_docs', docs, { using: sql\`owner = current_user\` })`: a
 * row-level security policy (`CREATE POLICY`). Put it in the schema module
 * like a table; its table needs `.rls()` for it to have any effect.
 *
 * Roles it names (`to`) are not created by Ferry (they belong to the whole
 * server and carry privileges): they must exist where migrations run, and a
 * missing one is E_ROLE_MISSING naming it.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { PolicyCommand, PolicyIR } from './ir.js';
import type { SqlExpr } from './sql.js';
import { isTable, type Table } from './table.js';

export interface PolicyOptions {
  /** The commands it applies to (`FOR ...`); default `all`. */
  for?: PolicyCommand;
  /** Roles it applies to (`TO ...`); default `public` (every role). `current_user` and `session_user` are understood. */
  to?: string | readonly string[];
  /** Which existing rows are visible / may be updated or deleted (`USING (...)`). */
  using?: SqlExpr;
  /** Which new rows may be inserted or updated to (`WITH CHECK (...)`). */
  withCheck?: SqlExpr;
  /** `false` for `AS RESTRICTIVE` (every restrictive policy must pass too); default permissive. */
  permissive?: boolean;
  /** `COMMENT ON POLICY`. */
  comment?: string;
}

export interface Policy {
  readonly kind: 'policy';
  readonly name: string;
  readonly table: string;
  toIR(): PolicyIR;
}

const COMMANDS: readonly PolicyCommand[] = ['all', 'select', 'insert', 'update', 'delete'];
/** Role specifications `CREATE POLICY ... TO` takes as keywords, not names. */
const ROLE_KEYWORDS = new Set(['public', 'current_user', 'current_role', 'session_user']);

/**
 * A row-level security policy on `table`:
 *
 * ```ts
 * export const docs = table('docs', { id: serial().primaryKey(), owner: text().notNull() }).rls();
 * export const ownDocs = policy('own_docs', docs, {
 *   for: 'select',
 *   to: ['app_user'],
 *   using: sql`owner = current_user`,
 * });
 * // CREATE POLICY own_docs ON docs FOR SELECT TO app_user USING ((owner = CURRENT_USER))
 * ```
 */
export function policy(name: string, table: Table | string, options: PolicyOptions = {}): Policy {
  assertIdentifier(name, 'Policy');
  const tableName = isTable(table) ? table.name : table;
  assertIdentifier(tableName, `Table of policy ${name}`);
  const what = `Policy ${name} on ${tableName}`;
  const command = options.for ?? 'all';
  if (!COMMANDS.includes(command)) {
    throw new FerryError(E_SCHEMA, `${what}: for must be one of ${COMMANDS.join(', ')}, got '${String(command)}'.`);
  }
  if (command === 'insert' && options.using !== undefined) {
    throw new FerryError(
      E_SCHEMA,
      `${what}: an insert policy takes withCheck only (there are no existing rows to use).`,
    );
  }
  if ((command === 'select' || command === 'delete') && options.withCheck !== undefined) {
    throw new FerryError(E_SCHEMA, `${what}: a ${command} policy takes using only (no new rows to check).`);
  }
  const ir: PolicyIR = {
    name,
    command,
    permissive: options.permissive ?? true,
    roles: normaliseRoles(
      options.to === undefined ? ['public'] : typeof options.to === 'string' ? [options.to] : options.to,
      what,
    ),
    using: options.using?.text ?? null,
    withCheck: options.withCheck?.text ?? null,
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
  };
  return Object.freeze({ kind: 'policy' as const, name, table: tableName, toIR: () => structuredClone(ir) });
}

export function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && (value as Partial<Policy>).kind === 'policy';
}

/**
 * Code-unit order, as introspection reports them; Postgres keeps only
 * `public` when it is listed with others (it covers them all).
 */
export function normaliseRoles(roles: readonly string[], what: string): string[] {
  if (roles.length === 0)
    throw new FerryError(E_SCHEMA, `${what}: to lists no roles; leave it out for every role (public).`);
  for (const r of roles) {
    if (typeof r !== 'string' || r === '')
      throw new FerryError(E_SCHEMA, `${what}: a role name must be a non-empty string.`);
  }
  const lower = roles.map((r) => (ROLE_KEYWORDS.has(r.toLowerCase()) ? r.toLowerCase() : r));
  if (lower.includes('public')) return ['public'];
  return [...new Set(lower)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function roleSql(role: string): string {
  return ROLE_KEYWORDS.has(role) ? role.toUpperCase() : q(role);
}

export function createPolicy(table: string, p: PolicyIR): string {
  let sql = `CREATE POLICY ${q(p.name)} ON ${q(table)}`;
  if (!p.permissive) sql += ' AS RESTRICTIVE';
  if (p.command !== 'all') sql += ` FOR ${p.command.toUpperCase()}`;
  sql += ` TO ${p.roles.map(roleSql).join(', ')}`;
  if (p.using !== null) sql += ` USING (${p.using})`;
  if (p.withCheck !== null) sql += ` WITH CHECK (${p.withCheck})`;
  return sql;
}

/**
 * `ALTER POLICY` changes roles and expressions but can neither change the
 * command nor `AS RESTRICTIVE`, nor remove a `USING` or `WITH CHECK`: only
 * when neither side needs that is a change (and its undo) an alter.
 */
export function canAlterPolicy(a: PolicyIR, b: PolicyIR): boolean {
  return (
    a.command === b.command &&
    a.permissive === b.permissive &&
    (a.using === null) === (b.using === null) &&
    (a.withCheck === null) === (b.withCheck === null)
  );
}

export function alterPolicy(table: string, p: PolicyIR): string {
  let sql = `ALTER POLICY ${q(p.name)} ON ${q(table)} TO ${p.roles.map(roleSql).join(', ')}`;
  if (p.using !== null) sql += ` USING (${p.using})`;
  if (p.withCheck !== null) sql += ` WITH CHECK (${p.withCheck})`;
  return sql;
}

export function dropPolicy(table: string, p: Pick<PolicyIR, 'name'>): string {
  return `DROP POLICY ${q(p.name)} ON ${q(table)}`;
}

/** Roles a schema's policies name that are not keywords (`public`, `current_user`...): what must exist. */
export function rolesNamed(policies: readonly PolicyIR[]): string[] {
  return [...new Set(policies.flatMap((p) => p.roles).filter((r) => !ROLE_KEYWORDS.has(r)))].sort();
}
