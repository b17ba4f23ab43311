/**
 * `ferry export` end to end: the real binary against a database of each
 * backend, seeded in-process and closed before the CLI opens it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { type ProvisionedDatabase, provisionDatabase, TEST_BACKENDS } from '../support/backends.js';

const bin = new URL('../../bin/ferry.mjs', import.meta.url).pathname;
const project = mkdtempSync(join(tmpdir(), 'ferry-export-cli-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

const SEED = `
create table people (id integer primary key, name text, note text, born date);
insert into people values (1, 'Ann', 'likes "quotes", commas', '1990-01-02'), (2, 'Bob', null, null),
  (3, 'Cid', '', '2001-12-31'), (4, 'Dee', E'two\\nlines', '1985-06-07');`;

function ferry(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: project,
    env: { ...process.env, DATABASE_URL: undefined, FERRY_DATA_DIR: undefined },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

for (const backend of TEST_BACKENDS) {
  describe(`ferry export [${backend}]`, () => {
    let database: ProvisionedDatabase;
    beforeAll(async () => {
      database = await provisionDatabase(backend);
      const db = await openDatabase({ url: database.url });
      try {
        await db.session((s) => s.query(SEED));
      } finally {
        await db.close();
      }
    });
    afterAll(() => database?.cleanup());

    it('--help names the options', () => {
      const help = ferry('export', '--help');
      expect(help.code).toBe(0);
      for (const option of ['--query', '--format', '--where', '--columns', '--out', '--json', '--chunk-rows']) {
        expect(help.out).toContain(option);
      }
    });

    it('a table as CSV to stdout, progress and summary on stderr', { timeout: 60_000 }, () => {
      const r = ferry('export', 'people', '--url', database.url, '--chunk-rows', '2');
      expect(r.code, r.err).toBe(0);
      // One COPY of the table; on PGlite in pages of two by primary key.
      expect(r.out).toBe(
        'id,name,note,born\n1,Ann,"likes ""quotes"", commas",1990-01-02\n2,Bob,,\n3,Cid,"",2001-12-31\n4,Dee,"two\nlines",1985-06-07\n',
      );
      expect(r.err).toMatch(/Exported 4 rows \(\d+ bytes\) to stdout/);
    });

    it('--where, --columns, --format ndjson, --out and --json', { timeout: 60_000 }, () => {
      const file = join(project, `${backend}-people.ndjson`);
      const r = ferry(
        ...['export', 'people', '--url', database.url, '--where', "name <> 'Bob'", '--columns', 'name,born'],
        ...['--format', 'ndjson', '--out', file, '--json'],
      );
      expect(r.code, r.err).toBe(0);
      const summary = JSON.parse(r.out) as Record<string, unknown>;
      expect(summary).toMatchObject({ ok: true, rows: 3, file, bytes: readFileSync(file).length });
      expect(typeof summary.ms).toBe('number');
      const rows = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: 'Ann', born: '1990-01-02' },
        { name: 'Cid', born: '2001-12-31' },
        { name: 'Dee', born: '1985-06-07' },
      ]);
      expect(readdirSync(project).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('--query, to a file with -', { timeout: 60_000 }, () => {
      const r = ferry('export', '--url', database.url, '--query', 'select count(*) as n from people', '--out', '-');
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe('n\n4\n');
    });

    it('errors: exit 2, a message naming what is wrong, no file left', { timeout: 60_000 }, () => {
      const file = join(project, `${backend}-never.csv`);
      const unknown = ferry('export', 'peple', '--url', database.url, '--out', file);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toMatch(/Cannot export table "peple".*Did you mean "people"\?.*\[E_EXPORT_TABLE\]/);
      const bad = ferry('export', 'people', '--url', database.url, '--where', 'nmae = 1', '--out', file, '--json');
      expect(bad.code).toBe(2);
      expect(JSON.parse(bad.out).error).toMatchObject({ code: 'E_EXPORT_QUERY' });
      expect(JSON.parse(bad.out).error.message).toMatch(/column "nmae" does not exist/);
      expect(existsSync(file)).toBe(false);
      const column = ferry('export', 'people', '--url', database.url, '--columns', 'id,nam');
      expect(column.code).toBe(2);
      expect(column.err).toMatch(/no column "nam".*"name"/);
      const noOut = ferry('export', 'people', '--url', database.url, '--json');
      expect(noOut.code).toBe(2);
      expect(JSON.parse(noOut.out).error.message).toMatch(/--out FILE/);
      expect(ferry('export', 'people', '--url', database.url, '--format', 'xml').code).toBe(2);
      expect(readdirSync(project).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  });
}
