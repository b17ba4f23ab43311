/**
 * `sslmode` the way libpq documents it, turned into node-postgres's `ssl`
 * option (https://www.postgresql.org/docs/current/libpq-ssl.html).
 *
 * pg reads `sslmode` itself, but treats prefer/require/verify-ca as
 * verify-full and prints a SECURITY WARNING about it on stderr: URLs written
 * for libpq or SQLAlchemy (`?sslmode=require` on a managed database) would
 * fail certificate checks they never asked for, and the warning lands in the
 * middle of Ferry's output. So Ferry takes the SSL parameters out of the URL
 * before pg sees it and passes an explicit `ssl` instead; pg then prints
 * nothing.
 *
 * | sslmode     | encrypted            | certificate checked  | host name checked |
 * | disable     | no                   |                      |                   |
 * | allow       | no, SSL if refused   | no                   | no                |
 * | prefer      | yes, plain if no SSL | no                   | no                |
 * | require     | yes                  | only with a root CA  | no                |
 * | verify-ca   | yes (root CA needed) | yes                  | no                |
 * | verify-full | yes                  | yes                  | yes               |
 * | no-verify   | yes (pg's own spelling of require without a CA)                  |
 *
 * allow/prefer fall back on the other kind of connection when the server
 * refuses the first (see `fallback` and pg-pool.ts).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { E_CONFIG, FerryError } from '../errors.js';
import { redactUrl } from './redact.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ResolvedSsl {
  /** The connection string without the SSL parameters Ferry handled. */
  url: string;
  /** For pg's `ssl` option; undefined = no sslmode given, pg's defaults (and `?ssl=`) apply. */
  ssl: false | ConnectionOptions | undefined;
  mode: SslMode | null;
  /** What to use when the server refuses `ssl` (allow: SSL; prefer: plain), or null. */
  fallback: false | ConnectionOptions | null;
}

/** URL parameters that are Ferry's business once an sslmode is given (pg would re-read them otherwise). */
const SSL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl', 'uselibpqcompat'];

/** `sslmode` from the URL, else `PGSSLMODE` (as libpq does), as pg's `ssl` option. */
export function resolveSsl(connectionString: string, env: NodeJS.ProcessEnv = process.env): ResolvedSsl {
  const url = new URL(connectionString);
  const raw = url.searchParams.get('sslmode') ?? nonEmpty(env.PGSSLMODE);
  if (raw === undefined) return { url: connectionString, ssl: undefined, mode: null, fallback: null };
  const mode = raw.trim().toLowerCase() as SslMode;
  const where = url.searchParams.has('sslmode')
    ? `sslmode=${raw} in ${redactUrl(connectionString)}`
    : `PGSSLMODE=${raw}`;
  if (!SSL_MODES.includes(mode)) {
    throw new FerryError(
      E_CONFIG,
      `Unknown SSL mode ${where}: use one of ${SSL_MODES.join(', ')} (as libpq documents them).`,
      { details: { sslmode: raw } },
    );
  }
  const file = (param: string): string | undefined => {
    const path = url.searchParams.get(param);
    if (path === null || path === '') return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new FerryError(
        E_CONFIG,
        `Cannot read ${param}=${path} from the database URL: ${(err as Error).message}. Point it at a readable PEM file.`,
        { details: { [param]: path } },
      );
    }
  };
  const ca = file('sslrootcert');
  const cert = file('sslcert');
  const key = file('sslkey');
  const files: ConnectionOptions = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  const unverified: ConnectionOptions = { ...files, rejectUnauthorized: false };
  // Chain checked against the root CA, host name not: libpq's verify-ca.
  const caOnly: ConnectionOptions = { ...files, checkServerIdentity: () => undefined };

  for (const p of SSL_PARAMS) url.searchParams.delete(p);
  const stripped = url.href;
  switch (mode) {
    case 'disable':
      return { url: stripped, ssl: false, mode, fallback: null };
    case 'allow':
      return { url: stripped, ssl: false, mode, fallback: unverified };
    case 'prefer':
      return { url: stripped, ssl: unverified, mode, fallback: false };
    case 'require':
      // libpq: "if a root CA file exists, the behavior of sslmode=require will be the same as that of verify-ca".
      return { url: stripped, ssl: ca ? caOnly : unverified, mode, fallback: null };
    case 'no-verify':
      return { url: stripped, ssl: unverified, mode, fallback: null };
    case 'verify-ca':
      if (!ca) {
        throw new FerryError(
          E_CONFIG,
          `${where} needs the root certificate to verify against: add sslrootcert=<file> to the URL, ` +
            'or use sslmode=verify-full to check against the system CAs and the host name.',
          { details: { sslmode: mode } },
        );
      }
      return { url: stripped, ssl: caOnly, mode, fallback: null };
    case 'verify-full':
      return { url: stripped, ssl: { ...files }, mode, fallback: null };
  }
}

/** The server refused the kind of connection `resolveSsl` tried first, so `fallback` may succeed. */
export function refusedSslChoice(err: unknown, ssl: ResolvedSsl['ssl']): boolean {
  const message = String((err as { message?: unknown })?.message ?? '');
  // pg's words when the server answers the SSLRequest with 'N'.
  if (ssl) return /does not support SSL/i.test(message);
  // pg_hba.conf has hostssl lines only: "no pg_hba.conf entry for host ..., no encryption".
  return (err as { code?: unknown })?.code === '28000' && /no encryption/i.test(message);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
