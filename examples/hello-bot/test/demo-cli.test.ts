/**
 * The demo run as people run it (a process, DATABASE_URL) against a database
 * that already has someone else's migrations: it must say so in one line and
 * exit 1, not die with a stack trace.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { runTsx } from '../../../test/support/run-tsx.js';

const demo = new URL('../demo.ts', import.meta.url).pathname;

const runDemo = (url: string) => runTsx(demo, [], { env: { DATABASE_URL: url, FERRY_DEBUG: '' } });

describeEachBackend('hello-bot demo on a database with foreign migrations', (t) => {
  const foreign = mkdtempSync(join(tmpdir(), 'ferry-foreign-migrations-'));
  afterAll(() => rmSync(foreign, { recursive: true, force: true }));

  beforeAll(async () => {
    mkdirSync(join(foreign, '20250101000000_billing'));
    writeFileSync(join(foreign, '20250101000000_billing', 'up.sql'), 'create table invoices (id int primary key);\n');
    const ferry = await connect({ url: t.url() });
    try {
      await ferry.migrate(foreign);
    } finally {
      await ferry.close(); // the embedded database allows one opener: the demo's
    }
  });

  it('prints one line naming the problem and exits 1, with no stack trace', { timeout: 60_000 }, async () => {
    const { code, out, err } = await runDemo(t.url());
    expect(code, err).toBe(1);
    const lines = err.trimEnd().split('\n');
    expect(lines, err).toHaveLength(1);
    expect(lines[0]).toMatch(/^hello-bot: .*20250101000000_billing.*\[E_MIGRATION_MISSING\]/);
    expect(lines[0]).toMatch(/DATABASE_URL/);
    expect(err).not.toMatch(/\n\s+at |FerryError|node:internal/);
    expect(out).not.toMatch(/migrations: \d+ applied/);
  });
});

// As a newcomer runs it on a fresh clone: no DATABASE_URL (the embedded PGlite, in a folder of the
// test's own), no REDIS_URL (the cache is L1 only, and the demo says so).
it('runs on the embedded database without Redis and prints what happened', { timeout: 180_000 }, async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'hello-bot-demo-'));
  try {
    const { code, out, err } = await runTsx(demo, [], {
      unset: ['DATABASE_URL', 'REDIS_URL'],
      env: { FERRY_DATA_DIR: join(scratch, 'pglite') },
    });
    expect(code, err || out).toBe(0);
    expect(out).toMatch(/runs without the L2/);
    expect(out).toMatch(/returning visits: 25, from the cache: 25, database reads: 0/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
