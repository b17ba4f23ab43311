/**
 * GET api/meta: what the UI shows in its header and which pages it offers.
 * The database URL comes without its password (not even masked: the UI has
 * no use for knowing there is one).
 */
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { MetaResponse } from './api.js';
import type { StudioContext } from './context.js';

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The redacted URL (`postgres://app:****@db/app`) with the password part removed altogether. */
export function withoutPassword(redacted: string): string {
  return redacted
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):[^@/]*@/i, (_m, scheme: string, user: string) =>
      user ? `${scheme}${user}@` : scheme,
    )
    .replace(/([?&])(ssl)?password=[^&#]*&?/gi, '$1')
    .replace(/[?&]$/, '');
}

/** Which of these tables exist (to_regclass: no error for a missing one). */
export async function existing(ctx: StudioContext, names: string[]): Promise<Set<string>> {
  const { rows } = await sql<{ name: string; ok: boolean }>`
    select n as name, to_regclass(n) is not null as ok from unnest(${names}::text[]) as n`.execute(ctx.handle.db);
  return new Set(rows.filter((r) => r.ok).map((r) => r.name));
}

export async function meta(ctx: StudioContext): Promise<MetaResponse> {
  const found = await existing(ctx, ['ferry_migrations', 'ferry_import_state', 'ferry_cutover']);
  return {
    ferryVersion: version,
    backend: ctx.handle.backend,
    database: withoutPassword(ctx.handle.redactedUrl),
    writable: ctx.write,
    features: {
      schema: true,
      migrations: ctx.migrationsDir !== null || found.has('ferry_migrations'),
      imports: found.has('ferry_import_state'),
      cache: ctx.cache !== null || ctx.redis !== null,
      cutover: found.has('ferry_cutover'),
    },
  };
}
