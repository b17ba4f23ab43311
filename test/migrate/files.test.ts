import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { E_MIGRATION_EXISTS, E_MIGRATION_FILE } from '../../src/migrate/errors.js';
import {
  checksumOf,
  formatTimestamp,
  normalizeMigrationName,
  parseSqlFile,
  readMigrations,
  writeMigration,
} from '../../src/migrate/files.js';
import { expectFerryError } from '../support/expect-error.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ferry-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function put(id: string, files: Record<string, string>): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, id, name), text);
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('readMigrations', () => {
  it('returns [] for a missing directory', () => {
    expect(readMigrations(path.join(dir, 'nope'))).toEqual([]);
  });

  it('reads folders sorted by id, with name, timestamp, contents and flags', () => {
    put('20240102000000_second', { 'up.sql': 'select 2;\n' });
    put('20240101000000_first_one', { 'up.sql': 'create table a (x int);\n', 'down.sql': 'drop table a;\n' });
    put('20240103000000_idx', {
      'up.sql': '-- ferry:no-transaction\ncreate index concurrently a_x on a (x);\n',
      'down.sql': '-- ferry:no-transaction\ndrop index concurrently a_x;\n',
    });
    writeFileSync(path.join(dir, 'README.md'), 'notes');
    mkdirSync(path.join(dir, '.hidden'));
    const got = readMigrations(dir);
    expect(got.map((m) => m.id)).toEqual(['20240101000000_first_one', '20240102000000_second', '20240103000000_idx']);
    const [first, second, idx] = got;
    expect(first).toMatchObject({
      timestamp: '20240101000000',
      name: 'first_one',
      dir: path.join(dir, '20240101000000_first_one'),
      up: 'create table a (x int);\n',
      down: 'drop table a;\n',
      upNoTransaction: false,
      downNoTransaction: false,
      checksum: sha('create table a (x int);\n'),
    });
    expect(second!.down).toBeNull();
    expect(idx).toMatchObject({ upNoTransaction: true, downNoTransaction: true });
  });

  it('normalises line endings (and a BOM) before the checksum; down.sql is not part of it', () => {
    put('20240101000000_a', { 'up.sql': 'select 1;\nselect 2;\n', 'down.sql': 'select 0;' });
    put('20240101000001_b', { 'up.sql': '\uFEFFselect 1;\r\nselect 2;\r\n', 'down.sql': 'select 42;' });
    const [a, b] = readMigrations(dir);
    expect(b!.up).toBe('select 1;\nselect 2;\n');
    expect(a!.checksum).toBe(b!.checksum);
    expect(checksumOf('x\r\ny')).toBe(sha('x\ny'));
  });

  it.each([
    ['2024_bad', 'not a valid migration folder name'],
    ['20240101000000_Upper', 'not a valid migration folder name'],
    ['20240101000000-dash', 'not a valid migration folder name'],
    ['202401010000_short', 'not a valid migration folder name'],
  ])('refuses a malformed folder name %s, naming the path and the expected form', async (id, msg) => {
    put(id, { 'up.sql': 'select 1;' });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
    );
    expect(err.message).toContain(path.join(dir, id));
    expect(err.message).toContain(msg);
    expect(err.message).toContain('<YYYYMMDDHHMMSS>_<name>/up.sql');
  });

  it('refuses a folder without up.sql, naming the missing file', async () => {
    put('20240101000000_a', { 'down.sql': 'select 1;' });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /missing/,
    );
    expect(err.message).toContain(path.join(dir, '20240101000000_a', 'up.sql'));
  });

  it('refuses loose .sql files and unexpected .sql files in a folder', async () => {
    writeFileSync(path.join(dir, '20240101000000_flat.sql'), 'select 1;');
    await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /loose SQL file/,
    );
    rmSync(path.join(dir, '20240101000000_flat.sql'));
    put('20240101000000_a', { 'up.sql': 'select 1;', 'Down.sql': 'select 1;' });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
    );
    expect(err.message).toContain('Down.sql');
  });

  it('refuses a no-transaction file with two statements, naming the file', async () => {
    put('20240101000000_idx', {
      'up.sql':
        '-- ferry:no-transaction\ncreate index concurrently a on t (x);\ncreate index concurrently b on t (y);\n',
    });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /exactly one statement \(found 2, at lines 2, 3\)/,
    );
    expect(err.message).toContain(path.join(dir, '20240101000000_idx', 'up.sql'));
  });

  it('checks down.sql the same way', async () => {
    put('20240101000000_idx', { 'up.sql': 'select 1;', 'down.sql': '-- ferry:no-transaction\n' });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /exactly one statement \(found none\)/,
    );
    expect(err.message).toContain('down.sql');
  });

  it('refuses misplaced or unknown directives', async () => {
    put('20240101000000_a', { 'up.sql': 'select 1;\n-- ferry:no-transaction\n' });
    await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /line 2: unknown or misplaced/,
    );
    rmSync(path.join(dir, '20240101000000_a'), { recursive: true });
    put('20240101000000_a', { 'up.sql': '-- ferry:no-transactions\nselect 1;\n' });
    await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /line 1/,
    );
  });

  it('reads "-- ferry:empty" on any line, and refuses it in a file that holds a statement', async () => {
    put('20240101000000_a', { 'up.sql': '-- a note\n-- ferry:empty\n', 'down.sql': '--FERRY: empty\n' });
    expect(parseSqlFile('up.sql', '-- a note\n-- ferry:empty\n')).toMatchObject({ markedEmpty: true, statements: [] });
    expect(parseSqlFile('up.sql', '-- a note\n')).toMatchObject({ markedEmpty: false, statements: [] });
    expect(readMigrations(dir)).toHaveLength(1);
    rmSync(path.join(dir, '20240101000000_a'), { recursive: true });
    put('20240101000000_a', { 'up.sql': '-- ferry:empty\nselect 1;\n\nselect 2;\n' });
    const err = await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /marked "-- ferry:empty" but holds 2 statements \(at lines 2, 4\)/,
    );
    expect(err.message).toContain(path.join(dir, '20240101000000_a', 'up.sql'));
  });

  it('refuses transaction control in a file, but not savepoints or words that look alike', async () => {
    put('20240101000000_a', { 'up.sql': 'create table t (x int);\ncommit;\n' });
    await expectFerryError(
      Promise.resolve().then(() => readMigrations(dir)),
      E_MIGRATION_FILE,
      /line 2: transaction control \(commit\)/,
    );
    rmSync(path.join(dir, '20240101000000_a'), { recursive: true });
    put('20240101000000_a', {
      'up.sql':
        'savepoint s;\nrollback to savepoint s;\nrelease s;\nselect 1 as begin;\n' +
        "do $$ begin perform 1; end $$;\ncreate table ended (x int);\ncommit_log_cleanup: select 'x';\n",
    });
    // (The last statement is nonsense SQL, but not transaction control.)
    expect(readMigrations(dir)).toHaveLength(1);
  });
});

describe('writeMigration', () => {
  const now = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));

  it('creates <UTC timestamp>_<name>/up.sql and down.sql and returns the migration', () => {
    const m = writeMigration(path.join(dir, 'new'), {
      name: 'Add Users-table',
      up: 'create table users (id int);',
      down: 'drop table users;',
      now,
    });
    expect(m.id).toBe('20240102030405_add_users_table');
    expect(m.dir).toBe(path.join(dir, 'new', '20240102030405_add_users_table'));
    expect(readFileSync(path.join(m.dir, 'up.sql'), 'utf8')).toBe('create table users (id int);\n');
    expect(readFileSync(path.join(m.dir, 'down.sql'), 'utf8')).toBe('drop table users;\n');
    expect(readMigrations(path.join(dir, 'new'))).toEqual([m]);
  });

  it('writes no down.sql when down is null', () => {
    const m = writeMigration(dir, { name: 'x', up: 'select 1;', down: null, now });
    expect(m.down).toBeNull();
  });

  it('refuses an existing id', async () => {
    writeMigration(dir, { name: 'x', up: 'select 1;', down: null, now });
    const err = await expectFerryError(
      Promise.resolve().then(() => writeMigration(dir, { name: 'x', up: 'select 2;', down: null, now })),
      E_MIGRATION_EXISTS,
    );
    expect(err.message).toContain('20240102030405_x');
    // Another name in the same second is a different id.
    expect(writeMigration(dir, { name: 'y', up: 'select 2;', down: null, now }).id).toBe('20240102030405_y');
  });

  it('validates the name and the contents before writing anything', async () => {
    await expectFerryError(
      Promise.resolve().then(() => writeMigration(dir, { name: 'drop users!', up: 'select 1;', down: null, now })),
      E_MIGRATION_FILE,
      /Invalid migration name/,
    );
    await expectFerryError(
      Promise.resolve().then(() =>
        writeMigration(dir, { name: 'idx', up: '-- ferry:no-transaction\nselect 1; select 2;', down: null, now }),
      ),
      E_MIGRATION_FILE,
      /exactly one statement/,
    );
    expect(readMigrations(dir)).toEqual([]);
  });

  it('normalizeMigrationName and formatTimestamp', () => {
    expect(normalizeMigrationName('  Add  users - index ')).toBe('add_users_index');
    expect(normalizeMigrationName('v2_fix')).toBe('v2_fix');
    expect(() => normalizeMigrationName('')).toThrow(/Invalid migration name/);
    expect(() => normalizeMigrationName('émoji')).toThrow(/Invalid migration name/);
    expect(formatTimestamp(new Date('2030-12-31T23:59:58.999Z'))).toBe('20301231235958');
  });
});
