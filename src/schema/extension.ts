/**
 * `extension('pg_trgm')`: a Postgres extension the schema needs (operator
 * classes such as `gin_trgm_ops`, types such as `citext`, functions such as
 * `gen_random_uuid()` from `pgcrypto`). Put it in the schema module like a
 * table; `createStatements` creates extensions before everything else and a
 * down migration drops them last.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { CITUS_EXTENSIONS } from './citus.js';
import { assertIdentifier, quoteIdent } from './identifiers.js';
import type { ExtensionIR } from './ir.js';
import { literal } from './sql.js';

export interface ExtensionOptions {
  /** Schema to install it in (`CREATE EXTENSION ... WITH SCHEMA`); default the schema described (`public`). */
  schema?: string;
  /** Pin a version (`VERSION '1.6'`); default whatever the server installs by default. */
  version?: string;
  /** `COMMENT ON EXTENSION`; default the one its control file sets. */
  comment?: string;
}

export interface Extension {
  readonly kind: 'extension';
  readonly name: string;
  readonly schema: string | null;
  readonly version: string | null;
  toIR(): ExtensionIR;
}

export function extension(name: string, options: ExtensionOptions = {}): Extension {
  assertIdentifier(name, 'Extension');
  if (CITUS_EXTENSIONS.includes(name)) {
    throw new FerryError(
      E_SCHEMA,
      `extension('${name}'): Citus is installed by the cluster's operator on every node (shared_preload_libraries, ` +
        'then CREATE EXTENSION on the coordinator and each worker), not by a migration. Leave it out of the schema: ' +
        'distributedBy() and reference() run where it is installed and do nothing elsewhere.',
    );
  }
  if (options.schema !== undefined) assertIdentifier(options.schema, `Schema of extension ${name}`);
  if (options.version !== undefined && options.version.trim() === '') {
    throw new FerryError(E_SCHEMA, `Extension ${name} has an empty version; leave it out for the default one.`);
  }
  const ir: ExtensionIR = {
    name,
    schema: options.schema ?? null,
    version: options.version ?? null,
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
  };
  return Object.freeze({ kind: 'extension' as const, ...ir, toIR: () => ({ ...ir }) });
}

export function isExtension(value: unknown): value is Extension {
  return typeof value === 'object' && value !== null && (value as Partial<Extension>).kind === 'extension';
}

/** Code-unit order, as introspection sorts them. */
export function sortExtensions(list: readonly ExtensionIR[]): ExtensionIR[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function createExtension(e: ExtensionIR): string {
  let sql = `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.name)}`;
  if (e.schema !== null) sql += ` WITH SCHEMA ${quoteIdent(e.schema)}`;
  if (e.version !== null) sql += ` VERSION ${literal(e.version)}`;
  return sql;
}

export function dropExtension(e: ExtensionIR): string {
  return `DROP EXTENSION IF EXISTS ${quoteIdent(e.name)}`;
}
