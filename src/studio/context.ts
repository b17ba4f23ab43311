/**
 * What every route of one Studio handler shares: the database handle, the
 * schema (for `.sensitive()` columns and validation), the options resolved
 * once (token, hosts, timeout), the catalog cache and the SQL history.
 */
import { randomBytes } from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import { type Ferry, handleOf } from '../connect.js';
import type { DbHandle } from '../db/open.js';
import { redactText } from '../db/redact.js';
import { type Duration, toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import type { RedisLike } from '../redis/connection.js';
import { defineSchema, type Schema } from '../schema/schema.js';
import type { Table } from '../schema/table.js';
import { uiDirectory } from './assets.js';
import { Catalog } from './catalog.js';
import { E_STUDIO_CONFIG } from './errors.js';
import { SqlHistory } from './sql-history.js';

/** A `Ferry` from `connect()`, or the lower-level handle from `openDatabase()` (what the CLI has). */
export type StudioTarget = Ferry<any> | DbHandle;

export interface StudioOptions {
  /** Allow edits (insert, update, delete, writing SQL, cache deletes); each still needs the token. Default false. */
  write?: boolean;
  /** The write token (at least 16 characters). Default `FERRY_STUDIO_TOKEN`, else 32 random bytes (hex). */
  token?: string;
  /**
   * Host names (without port) the `Host` header may name: the defence
   * against DNS rebinding. Default the loopback names (`localhost`,
   * `127.0.0.1`, `[::1]`); an app that mounts Studio under its own domain
   * lists it here.
   */
  allowedHosts?: readonly string[];
  /** The SQL runner's (and every Studio query's) statement timeout. Default 10 s. */
  statementTimeout?: Duration;
  /** The schema module (or a defined Schema): `.sensitive()` columns, validation, the ER diagram. Default: the Ferry's. */
  schema?: Schema | Record<string, unknown>;
  /** The migrations folder, for the migrations page (pending, checksums, lint, drift). */
  migrationsDir?: string;
  /** The app's cache (`createCache`), for hit/miss and breaker state. */
  cache?: Cache;
  /** A Redis client for key lookup and the session/rate-limit counts (default: none). */
  redis?: RedisLike;
  /** The Redis URL to show (its password is removed). */
  redisUrl?: string;
  /** Key prefixes of the session store and the rate limiter (defaults `sess`, `rate`). */
  sessionPrefix?: string;
  rateLimitPrefix?: string;
  /** The built UI's folder (default `<package root>/dist/studio-ui`, from `npm run build:studio`). */
  uiDir?: string;
  /** Where Studio is mounted when the request URL still carries it (node:http, Fastify); Express strips it itself. */
  basePath?: string;
  /**
   * Called with each error Studio answers 500 for (a bug, a lost connection),
   * whose details stay out of the response. Default: one redacted line on stderr.
   */
  onError?: (err: unknown) => void;
  /** Environment to read FERRY_STUDIO_TOKEN from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

export interface StudioContext {
  readonly handle: DbHandle;
  readonly schema: Schema | null;
  readonly write: boolean;
  readonly token: string;
  readonly allowedHosts: ReadonlySet<string>;
  readonly statementTimeoutMs: number;
  readonly migrationsDir: string | null;
  readonly cache: Cache | null;
  readonly redis: RedisLike | null;
  readonly redisUrl: string | null;
  readonly sessionPrefix: string;
  readonly rateLimitPrefix: string;
  readonly basePath: string;
  readonly uiDir: string;
  readonly catalog: Catalog;
  readonly history: SqlHistory;
  readonly onError: (err: unknown) => void;
  /** The schema's table of this name (public tables only: the schema IR is unqualified), for masking and validation. */
  schemaTable(schemaName: string, name: string): Table | undefined;
}

export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

/** Resolve the options once, for the life of the handler. */
export function createContext(target: StudioTarget, options: StudioOptions): StudioContext {
  const handle = 'redactedUrl' in target ? target : handleOf(target);
  const schema =
    options.schema !== undefined
      ? isSchema(options.schema)
        ? options.schema
        : defineSchema(options.schema)
      : 'redactedUrl' in target
        ? null
        : target.schema;
  const env = options.env ?? process.env;
  const token = options.token ?? (env.FERRY_STUDIO_TOKEN?.trim() || randomBytes(32).toString('hex'));
  if (token.length < 16) {
    throw new FerryError(
      E_STUDIO_CONFIG,
      `The Studio token must be at least 16 characters (got ${token.length}): a short one can be guessed. Leave it out for a random one.`,
    );
  }
  const statementTimeoutMs = toMs(options.statementTimeout ?? '10s', 'studio statementTimeout');
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const catalog = new Catalog(handle);
  return {
    handle,
    schema,
    write: options.write === true,
    token,
    allowedHosts: new Set((options.allowedHosts ?? LOOPBACK_HOSTS).map((h) => h.toLowerCase())),
    statementTimeoutMs,
    migrationsDir: options.migrationsDir ?? null,
    cache: options.cache ?? null,
    redis: options.redis ?? null,
    redisUrl: options.redisUrl ?? null,
    sessionPrefix: options.sessionPrefix ?? 'sess',
    rateLimitPrefix: options.rateLimitPrefix ?? 'rate',
    basePath,
    uiDir: options.uiDir ?? uiDirectory(),
    catalog,
    history: new SqlHistory(100),
    onError:
      options.onError ??
      ((err) =>
        process.stderr.write(
          `ferry studio: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`,
        )),
    schemaTable(schemaName, name) {
      return schemaName === 'public' ? (schema?.table(name) ?? undefined) : undefined;
    },
  };
}

function isSchema(value: Schema | Record<string, unknown>): value is Schema {
  return typeof (value as Schema).toIR === 'function' && typeof (value as Schema).table === 'function';
}
