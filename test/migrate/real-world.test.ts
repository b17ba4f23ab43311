/**
 * Real-world schemas that no one here wrote (PostgreSQL only): for every
 * `*.sql` dump (a Rails `db/structure.sql`, `pg_dump --schema-only` output)
 * in the directory FERRY_REAL_WORLD_SCHEMAS (default
 * `../shared/real-world-schemas`, relative to the repository root), load it
 * with psql into a scratch database, `ferry pull` it, generate the
 * migrations from empty, apply them to a fresh database, and compare:
 * introspection of both sides (equal), a re-diff against the pulled schema
 * (empty), and `pg_dump --schema-only` of both, normalised (no differences
 * other than what Ferry leaves out by design: functions, triggers, views,
 * ...). The steps live in scripts/real-world-lib.ts, shared
 * with `npx tsx scripts/real-world-roundtrip.ts FILE.sql...`, which prints a
 * full report.
 *
 * Public dumps are not committed to this repository: put them in that
 * directory. Without any, the suite is skipped and says so.
 * FERRY_REAL_WORLD_PROMOTE_FK_INDEXES=1 turns unique indexes that foreign
 * keys rest on into unique constraints first (see the script's
 * --promote-fk-indexes).
 */
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dropAll, type FileReport, printReport, roundTrip } from '../../scripts/real-world-lib.js';
import { TEST_BACKENDS } from '../support/backends.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = resolve(ROOT, process.env.FERRY_REAL_WORLD_SCHEMAS || '../shared/real-world-schemas');
const files = existsSync(DIR)
  ? readdirSync(DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort()
  : [];
const postgres = TEST_BACKENDS.includes('postgres');

if (files.length === 0 || !postgres) {
  const why = !postgres
    ? 'the postgres backend is not selected (FERRY_TEST_BACKENDS)'
    : `no *.sql dumps in ${DIR}: put db/structure.sql files of public Postgres applications there ` +
      '(or point FERRY_REAL_WORLD_SCHEMAS at a directory holding them)';
  describe.skip(`real-world schemas (${why})`, () => {
    it('round-trips each dump', () => {});
  });
  console.log(`[real-world] skipped: ${why}`);
} else {
  describe('real-world schemas: load, pull, generate from empty, apply, compare [postgres]', () => {
    afterAll(() => dropAll());

    for (const file of files) {
      it(file, async () => {
        const report: FileReport = await roundTrip(join(DIR, file), {
          outRoot: join(tmpdir(), 'ferry-real-world-test'),
          promoteFkIndexes: process.env.FERRY_REAL_WORLD_PROMOTE_FK_INDEXES === '1',
        });
        const unexplained = (report.dumpDiffs ?? []).filter((d) => !d.byDesign);
        const ok =
          report.load?.status !== 'failed' &&
          !report.failure &&
          report.irDiffs?.length === 0 &&
          report.rediff?.length === 0 &&
          unexplained.length === 0;
        if (!ok) printReport(report);
        expect(report.load?.status, report.load?.strictError ?? '').not.toBe('failed');
        expect(report.failure, `${report.failure?.stage}: ${report.failure?.message}`).toBeUndefined();
        expect(report.irDiffs, 'introspect(B) == introspect(A)').toEqual([]);
        expect(report.rediff, 're-diff of B against the pulled schema').toEqual([]);
        expect(
          unexplained.map((d) => `${d.side === 'both' ? 'changed' : `only in ${d.side}`}: ${d.type} ${d.name}`),
          'pg_dump A vs B: unexplained differences',
        ).toEqual([]);
      }, 300_000);
    }
  });
}
