/**
 * The database and shadow a migrate suite works with, opened in `beforeAll`
 * and closed in `afterAll` (shadow first): the block every round-trip suite
 * under test/migrate repeated.
 */
import { afterAll, beforeAll } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { openShadow, type Shadow } from '../../src/migrate/shadow.js';
import type { BackendFixture } from './backends.js';

export interface MigrateSuiteOptions {
  /** Extensions PGlite must load at open (Postgres ignores the option). */
  extensions?: readonly string[];
  /**
   * Which shadow: `'pglite'` (an in-memory PGlite, as `migrate new` uses, the
   * default), `'like'` (one like the database: a scratch schema on Postgres),
   * `'like-url'` (the same, also given the database's URL).
   */
  shadow?: 'pglite' | 'like' | 'like-url';
}

/** Calls `set` with the suite's handle and shadow once both are open. */
export function migrateSuite(
  t: BackendFixture,
  options: MigrateSuiteOptions,
  set: (handle: DbHandle, shadow: Shadow) => void,
): void {
  let handle: DbHandle | undefined;
  let shadow: Shadow | undefined;
  beforeAll(async () => {
    handle = await openDatabase({
      url: t.url(),
      ...(options.extensions ? { extensions: [...options.extensions] } : {}),
    });
    const kind = options.shadow ?? 'pglite';
    shadow = await openShadow(
      kind === 'pglite' ? undefined : kind === 'like' ? { like: handle } : { like: handle, url: t.url() },
    );
    set(handle, shadow);
  });
  afterAll(async () => {
    await shadow?.close();
    await handle?.close();
  });
}
