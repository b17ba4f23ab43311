/**
 * The contract-suite helper: run the same tests against embedded PGlite and a
 * real PostgreSQL, each test file (each `describeEachBackend` call, to be
 * exact) on its own fresh database so files run in parallel without
 * interfering.
 *
 *   describeEachBackend('repo', (t) => {
 *     it('reads what it wrote', async () => {
 *       const { db } = await t.open();
 *       ...
 *     });
 *   });
 *
 * `describeEachBackend(title, { pgbouncer: true }, fn)` adds a third flavour when PostgreSQL is tested:
 * `postgres+pgbouncer`, the same fresh PostgreSQL database reached through a
 * PgBouncer of the suite's own in transaction pooling mode (support/pgbouncer.ts),
 * its URL marked `pgbouncer=true`. `t.backend` is then 'postgres' (the engine)
 * and `t.flavour` says which; `t.directUrl()` is the database without PgBouncer.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { lockFileFor } from '../../src/db/data-dir-lock.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { adminUrl, type Backend, TEST_BACKENDS, TEST_DB_PREFIX } from './backends-config.js';
import { type OwnPgbouncer, startPgbouncer } from './pgbouncer.js';
import { copyTemplate, ensureTemplate, TEMPLATE_ENV } from './pglite-template.js';

export { adminUrl, type Backend, TEST_BACKENDS } from './backends-config.js';

/** A backend as a suite runs on it: PGlite, PostgreSQL, or PostgreSQL through PgBouncer. */
export type Flavour = Backend | 'postgres+pgbouncer';

export interface EachBackendOptions {
  /** Also run on `postgres+pgbouncer` when PostgreSQL is tested. */
  pgbouncer?: boolean;
  /**
   * On `postgres+pgbouncer`, `t.open()` also gets the direct URL (`directUrl`,
   * for raw sessions and the migration lock); without it, such work fails
   * there with E_DIRECT_URL_REQUIRED.
   */
  directUrl?: boolean;
}

export interface BackendFixture {
  /** The engine: 'postgres' for the PgBouncer flavour too. */
  readonly backend: Backend;
  readonly flavour: Flavour;
  /** URL of this suite's fresh database; available from `beforeAll` on. */
  url(): string;
  /** The same database without PgBouncer (== url() on the other flavours). */
  directUrl(): string;
  /** One handle on `url()` shared by the suite (same promise every call), closed in `afterAll`. */
  open(): Promise<DbHandle>;
}

export interface ProvisionedDatabase {
  url: string;
  /** Behind PgBouncer: the database's own URL. */
  directUrl?: string;
  cleanup(): Promise<void>;
}

/** A fresh PostgreSQL database behind a PgBouncer of its own (transaction mode); cleanup stops both. */
export async function behindPgbouncer(): Promise<ProvisionedDatabase> {
  const db = await freshPostgresDatabase();
  let bouncer: OwnPgbouncer;
  try {
    bouncer = await startPgbouncer();
  } catch (err) {
    await db.cleanup();
    throw err;
  }
  const name = new URL(db.url).pathname.slice(1);
  return {
    url: bouncer.url(name),
    directUrl: db.url,
    cleanup: async () => {
      try {
        await bouncer.stop();
      } finally {
        await db.cleanup();
      }
    },
  };
}

export function describeEachBackend(title: string, fn: (t: BackendFixture) => void): void;
export function describeEachBackend(title: string, options: EachBackendOptions, fn: (t: BackendFixture) => void): void;
export function describeEachBackend(
  title: string,
  optionsOrFn: EachBackendOptions | ((t: BackendFixture) => void),
  maybeFn?: (t: BackendFixture) => void,
): void {
  const options = typeof optionsOrFn === 'function' ? {} : optionsOrFn;
  const fn = typeof optionsOrFn === 'function' ? optionsOrFn : (maybeFn as (t: BackendFixture) => void);
  const flavours: Flavour[] = [...TEST_BACKENDS];
  if (options.pgbouncer && TEST_BACKENDS.includes('postgres')) flavours.push('postgres+pgbouncer');
  for (const flavour of flavours) {
    const backend: Backend = flavour === 'postgres+pgbouncer' ? 'postgres' : flavour;
    describe(`${title} [${flavour}]`, () => {
      let provisioned: ProvisionedDatabase | undefined;
      let handle: Promise<DbHandle> | undefined;
      const fixture: BackendFixture = {
        backend,
        flavour,
        url() {
          if (!provisioned) throw new Error('t.url() is only available from beforeAll on');
          return provisioned.url;
        },
        directUrl() {
          if (!provisioned) throw new Error('t.directUrl() is only available from beforeAll on');
          return provisioned.directUrl ?? provisioned.url;
        },
        open() {
          handle ??= openDatabase({
            url: fixture.url(),
            ...(options.directUrl && flavour === 'postgres+pgbouncer' ? { directUrl: fixture.directUrl() } : {}),
          });
          return handle;
        },
      };
      beforeAll(async () => {
        provisioned = flavour === 'postgres+pgbouncer' ? await behindPgbouncer() : await provisionDatabase(backend);
      });
      afterAll(async () => {
        const opened = await handle?.catch(() => undefined);
        await opened?.close();
        await provisioned?.cleanup();
      });
      fn(fixture);
    });
  }
}

/** A fresh, empty database on `backend` and how to get rid of it. */
export function provisionDatabase(backend: Backend): Promise<ProvisionedDatabase> {
  return backend === 'postgres' ? freshPostgresDatabase() : freshPgliteDatabase();
}

export async function freshPostgresDatabase(): Promise<ProvisionedDatabase> {
  const name = `${TEST_DB_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`create database "${name}"`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    cleanup: () => withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => {}),
  };
}

export async function freshPgliteDatabase(): Promise<ProvisionedDatabase> {
  const dir = await copyTemplate(await pgliteTemplate());
  return {
    url: `pglite:${dir}`,
    cleanup: async () => {
      await rm(dir, { recursive: true, force: true });
      await rm(lockFileFor(dir), { force: true });
    },
  };
}

async function pgliteTemplate(): Promise<string> {
  let provided: string | undefined;
  try {
    provided = inject('ferryPgliteTemplate');
  } catch {
    // not running under our globalSetup
  }
  // Without the globalSetup (another config, a single-file run) build it here.
  return process.env[TEMPLATE_ENV] || provided || ensureTemplate();
}

/** One statement on a connection of its own to `url`, closed after: its rows. */
export async function queryOnce<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
