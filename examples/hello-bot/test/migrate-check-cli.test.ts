/**
 * The example's CI gate (issue 16; the seed's `alembic check`): the real CLI,
 * `ferry migrate check` with hello-bot's config, as a CI job runs it against
 * the database it deploys to. Exit 0 only when the schema module, the
 * migrations and the database agree; 1, with a line saying what differs,
 * while a migration is pending or after someone changed the table by hand.
 */
import { spawnSync } from 'node:child_process';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { connect } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';

const bin = new URL('../../../bin/ferry.mjs', import.meta.url).pathname;
const config = new URL('../ferry.config.ts', import.meta.url).pathname;

describeEachBackend('hello-bot: ferry migrate check in CI', (t) => {
  const ferry = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, '--config', config, ...args], {
      env: { ...process.env, DATABASE_URL: t.url(), FERRY_DEBUG: '' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  /** One statement by hand, as someone with psql would; closed before the CLI runs (PGlite has one opener). */
  const byHand = async (statement: string) => {
    const db = await connect({ url: t.url() });
    try {
      await sql.raw(statement).execute(db.db);
    } finally {
      await db.close();
    }
  };

  it('fails the build while a migration is pending, passes once it is applied', { timeout: 240_000 }, () => {
    const pending = ferry('migrate', 'check');
    expect(pending.code, pending.err).toBe(1);
    expect(pending.out).toMatch(
      /^drift: pending migration 20261122031850_initial is not applied \(run ferry migrate up\)$/m,
    );

    const up = ferry('migrate', 'up');
    expect(up.code, up.err).toBe(0);
    const clean = ferry('migrate', 'check');
    expect(clean, clean.err).toMatchObject({ code: 0, out: 'OK: schema, migrations and database agree.\n' });
  });

  it('fails the build on changes made by hand, naming each; passes again once they are undone', {
    timeout: 240_000,
  }, async () => {
    await byHand('alter table users add column nickname text');
    await byHand('drop index ix_user_active_created');
    const drift = ferry('migrate', 'check');
    expect(drift.code, drift.err).toBe(1);
    const lines = drift.out.trimEnd().split('\n');
    expect(lines, drift.out).toHaveLength(2);
    expect(drift.out).toMatch(/^drift: database differs from the migrations: .*nickname.*\(changed by hand\?\)$/m);
    expect(drift.out).toMatch(
      /^drift: database differs from the migrations: .*ix_user_active_created.*\(changed by hand\?\)$/m,
    );

    await byHand('alter table users drop column nickname');
    await byHand('create index ix_user_active_created on users (is_active, created_at)');
    const clean = ferry('migrate', 'check');
    expect(clean, clean.err).toMatchObject({ code: 0 });
  });
});
