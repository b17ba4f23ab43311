/**
 * The host list of a libpq-style multi-host URL
 * (`postgresql://db1:5432,db2:5432/app?target_session_attrs=read-write`),
 * split into one single-host URL per host. Parsing only, so url.ts can
 * validate such URLs; multi-host.ts does the connecting.
 */
import { E_CONFIG, FerryError } from '../errors.js';

export type TargetSessionAttrs = 'any' | 'read-write';

export interface HostList {
  /** One single-host URL per host, in order, without `target_session_attrs`. */
  urls: string[];
  targetSessionAttrs: TargetSessionAttrs;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The hosts of a multi-host URL (or of one carrying `target_session_attrs`),
 * else null: a plain URL goes to pg-pool.ts untouched.
 */
export function splitHosts(connectionString: string): HostList | null {
  const scheme = SCHEME.exec(connectionString)?.[0];
  if (scheme === undefined) return null;
  const rest = connectionString.slice(scheme.length);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const tail = end < 0 ? '' : rest.slice(end);
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at + 1);
  const hosts = authority.slice(at + 1).split(',');
  const attrs = /[?&]target_session_attrs=([^&#]*)/i.exec(tail)?.[1];
  if (hosts.length === 1 && attrs === undefined) return null;
  let targetSessionAttrs: TargetSessionAttrs;
  const value = decodeURIComponent(attrs ?? 'any').toLowerCase();
  if (value === 'any') targetSessionAttrs = 'any';
  else if (value === 'read-write' || value === 'primary') targetSessionAttrs = 'read-write';
  else {
    throw new FerryError(
      E_CONFIG,
      `target_session_attrs=${value} is not supported: use read-write (or primary) to find the writable host, or any.`,
      { details: { option: 'target_session_attrs' } },
    );
  }
  if (hosts.some((h) => h === '')) {
    throw new FerryError(E_CONFIG, 'A multi-host database URL has an empty host between commas.', {
      details: { option: 'url' },
    });
  }
  const cleanTail = tail
    .replace(/([?&])target_session_attrs=[^&#]*&?/i, '$1')
    .replace(/[?&](#|$)/, '$1')
    .replace(/\?&/, '?');
  return { urls: hosts.map((h) => `${scheme}${userinfo}${h}${cleanTail}`), targetSessionAttrs };
}

/** The URL with only its first host: what URL parsing and validation see. */
export function firstHostUrl(connectionString: string): string {
  return splitHosts(connectionString)?.urls[0] ?? connectionString;
}
