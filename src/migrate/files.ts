/**
 * Migration files on disk.
 *
 *   <dir>/<YYYYMMDDHHMMSS>_<name>/up.sql      required
 *   <dir>/<YYYYMMDDHHMMSS>_<name>/down.sql    optional (no down.sql = cannot be reverted)
 *
 * `name` is `[a-z0-9_]+`; the timestamp is UTC and makes ids sort in creation
 * order. A file whose first line is `-- ferry:no-transaction` runs outside a
 * transaction (for CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE on old
 * servers, VACUUM...); such a file must hold exactly one statement, because
 * PostgreSQL runs a multi-statement string as one implicit transaction and
 * the statements after a failure would be half-applied anyway. Every other
 * file runs in one transaction with its history row, so it must not contain
 * BEGIN/COMMIT/ROLLBACK of its own.
 *
 * A file with no statement (only whitespace and comments) is refused by the
 * runner (see `refuseEmpty`) unless one of its lines is `-- ferry:empty`: a
 * migration that silently does nothing is almost always a template never
 * filled in or an edit that was lost, and once it is recorded as applied the
 * checksum forbids fixing it. A file marked `-- ferry:empty` must then hold
 * no statement, so the marker cannot hide SQL that was added later.
 *
 * The checksum covers up.sql only (after removing a UTF-8 BOM and turning
 * CRLF/CR into LF, so a checkout with other line endings is not "drift"). It
 * answers "is what ran in this database still what the file says?"; down.sql
 * has not run yet when the migration is applied, so fixing a broken down.sql
 * afterwards is legitimate and must not block every later deploy.
 *
 * Other top-level files (README.md, .gitkeep...) are ignored, except `*.sql`,
 * which is refused: it is almost certainly a migration in the wrong layout.
 */
import { createHash } from 'node:crypto';
import { type Dirent, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../errors.js';
import { E_MIGRATION_EMPTY, E_MIGRATION_EXISTS, E_MIGRATION_FILE } from './errors.js';
import { type SqlStatement, splitStatements } from './sql-split.js';

export interface MigrationFile {
  /** The directory name, `<timestamp>_<name>`. */
  id: string;
  /** `YYYYMMDDHHMMSS`, UTC. */
  timestamp: string;
  name: string;
  /** Absolute path of the migration's directory. */
  dir: string;
  /** up.sql with LF line endings. */
  up: string;
  /** down.sql with LF line endings, or null when there is none. */
  down: string | null;
  upNoTransaction: boolean;
  downNoTransaction: boolean;
  /** sha256 (hex) of `up` (LF line endings, no BOM). */
  checksum: string;
}

export interface NewMigration {
  /** Lower-cased; spaces and dashes become `_`; must then be `[a-z0-9_]+`. */
  name: string;
  up: string;
  /** Omit (or null) for a migration that cannot be reverted. */
  down?: string | null;
  /** Timestamp of the id (default: now), taken in UTC. */
  now?: Date;
}

export const MIGRATION_ID = /^(\d{14})_([a-z0-9_]+)$/;
export const NO_TRANSACTION_DIRECTIVE = '-- ferry:no-transaction';
export const EMPTY_DIRECTIVE = '-- ferry:empty';

const EXPECTED = '<YYYYMMDDHHMMSS>_<name>/up.sql (name: lower-case letters, digits and _; down.sql optional)';

/** All migrations under `dir`, sorted by id; `[]` when `dir` does not exist. */
export function readMigrations(dir: string): MigrationFile[] {
  const root = path.resolve(dir);
  let entries: Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FerryError(E_MIGRATION_FILE, `Cannot read the migrations directory ${root}: ${(err as Error).message}`, {
      cause: err,
      details: { path: root },
    });
  }
  const out: MigrationFile[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(root, entry.name);
    if (!entry.isDirectory()) {
      if (entry.name.toLowerCase().endsWith('.sql')) {
        throw fileError(full, `is a loose SQL file; migrations are folders: ${path.join(root, EXPECTED)}`);
      }
      continue;
    }
    out.push(readMigration(full));
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One migration folder. */
export function readMigration(migrationDir: string): MigrationFile {
  const dir = path.resolve(migrationDir);
  const id = path.basename(dir);
  const m = MIGRATION_ID.exec(id);
  if (!m) throw fileError(dir, `is not a valid migration folder name; expected ${EXPECTED}`);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw fileError(dir, `cannot be read: ${(err as Error).message}`, err);
  }
  for (const f of files) {
    if (f.toLowerCase().endsWith('.sql') && f !== 'up.sql' && f !== 'down.sql') {
      throw fileError(path.join(dir, f), `is not expected in a migration folder; only up.sql and down.sql are used`);
    }
  }
  const upPath = path.join(dir, 'up.sql');
  if (!files.includes('up.sql')) throw fileError(upPath, `is missing; expected ${EXPECTED}`);
  const up = parseSqlFile(upPath, readFileSync(upPath, 'utf8'));
  const downPath = path.join(dir, 'down.sql');
  const down = files.includes('down.sql') ? parseSqlFile(downPath, readFileSync(downPath, 'utf8')) : null;
  return {
    id,
    timestamp: m[1]!,
    name: m[2]!,
    dir,
    up: up.text,
    down: down?.text ?? null,
    upNoTransaction: up.noTransaction,
    downNoTransaction: down?.noTransaction ?? false,
    checksum: checksumOf(up.text),
  };
}

/** Create `<dir>/<UTC timestamp>_<name>/` with up.sql (and down.sql); refuses an existing id. */
export function writeMigration(dir: string, migration: NewMigration): MigrationFile {
  const id = migrationId(migration.name, migration.now ?? new Date());
  const root = path.resolve(dir);
  const target = path.join(root, id);
  // Validate the contents before anything touches the disk.
  parseSqlFile(path.join(target, 'up.sql'), migration.up);
  const hasDown = migration.down !== undefined && migration.down !== null;
  if (hasDown) parseSqlFile(path.join(target, 'down.sql'), migration.down!);
  mkdirSync(root, { recursive: true });
  try {
    mkdirSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new FerryError(
        E_MIGRATION_EXISTS,
        `Migration ${target} already exists; pick another name or wait a second.`,
        {
          details: { id, path: target },
        },
      );
    }
    throw err;
  }
  try {
    writeFileSync(path.join(target, 'up.sql'), ensureTrailingNewline(migration.up), { flag: 'wx' });
    if (hasDown) writeFileSync(path.join(target, 'down.sql'), ensureTrailingNewline(migration.down!), { flag: 'wx' });
  } catch (err) {
    rmSync(target, { recursive: true, force: true });
    throw err;
  }
  return readMigration(target);
}

/** The id `writeMigration` gives `name` at `now`: `<UTC timestamp>_<normalised name>`. */
export function migrationId(name: string, now: Date): string {
  return `${formatTimestamp(now)}_${normalizeMigrationName(name)}`;
}

/** `Add Users-table` → `add_users_table`; throws unless the result is `[a-z0-9_]+`. */
export function normalizeMigrationName(raw: string): string {
  const name = raw
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new FerryError(
      E_MIGRATION_FILE,
      `Invalid migration name ${JSON.stringify(raw)}: use letters, digits, _, - and spaces (stored lower-case, with _).`,
      { details: { name: raw } },
    );
  }
  return name;
}

/** `YYYYMMDDHHMMSS` in UTC. */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new FerryError(E_MIGRATION_FILE, 'Invalid date for a migration timestamp.');
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    p(date.getUTCFullYear(), 4) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds())
  );
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(normalizeSql(text), 'utf8').digest('hex');
}

/** Remove a UTF-8 BOM and turn CRLF and CR into LF. */
export function normalizeSql(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

export interface ParsedSqlFile {
  text: string;
  noTransaction: boolean;
  /** A line says `-- ferry:empty`. */
  markedEmpty: boolean;
  statements: SqlStatement[];
}

const DIRECTIVE_LINE = /^--\s*ferry\s*:/i;
const TRANSACTION_CONTROL =
  /^(?:begin|start\s+transaction|commit|end|abort|prepare\s+transaction|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b/i;

/** Normalise, read the directive, and check the statements; errors name `file`. */
export function parseSqlFile(file: string, raw: string): ParsedSqlFile {
  const text = normalizeSql(raw);
  const lines = text.split('\n');
  let noTransaction = false;
  let markedEmpty = false;
  lines.forEach((line, i) => {
    if (!DIRECTIVE_LINE.test(line)) return;
    if (i === 0 && /^--\s*ferry\s*:\s*no-transaction\s*$/i.test(line)) {
      noTransaction = true;
      return;
    }
    // Any line: the blank templates start with explanatory comments.
    if (/^--\s*ferry\s*:\s*empty\s*$/i.test(line)) {
      markedEmpty = true;
      return;
    }
    throw fileError(
      file,
      `line ${i + 1}: unknown or misplaced directive ${JSON.stringify(line.trim())}; ` +
        `the directives are "${NO_TRANSACTION_DIRECTIVE}" (first line only) and "${EMPTY_DIRECTIVE}"`,
    );
  });
  const statements = splitStatements(text);
  if (markedEmpty && statements.length > 0) {
    throw fileError(
      file,
      `is marked "${EMPTY_DIRECTIVE}" but holds ${statements.length} statement${statements.length === 1 ? '' : 's'} ` +
        `(at line${statements.length === 1 ? '' : 's'} ${statements.map((s) => s.line).join(', ')}); ` +
        `remove the "${EMPTY_DIRECTIVE}" line, which is only for a file that is meant to do nothing`,
    );
  }
  for (const s of statements) {
    if (TRANSACTION_CONTROL.test(s.text)) {
      throw fileError(
        file,
        `line ${s.line}: transaction control (${s.text.split(/\s/)[0]}) is not allowed in a migration; ` +
          `each migration already runs in its own transaction (or, with "${NO_TRANSACTION_DIRECTIVE}", in none)`,
      );
    }
  }
  if (noTransaction && statements.length !== 1) {
    const where =
      statements.length === 0 ? 'none' : `${statements.length}, at lines ${statements.map((s) => s.line).join(', ')}`;
    throw fileError(
      file,
      `is marked "${NO_TRANSACTION_DIRECTIVE}" and must contain exactly one statement (found ${where}): ` +
        'PostgreSQL runs several statements sent together as one implicit transaction. ' +
        'Split it into one migration per statement.',
    );
  }
  return { text, noTransaction, markedEmpty, statements };
}

/**
 * Refuse to run `direction` of `files` when one of those scripts holds no
 * statement and is not marked `-- ferry:empty` (see the header). Checked for
 * the whole plan before anything runs, so nothing is half-done.
 */
export function refuseEmpty(files: MigrationFile[], direction: 'up' | 'down', what: string): void {
  const empty = files.filter((f) => {
    const text = direction === 'up' ? f.up : f.down;
    if (text === null) return false; // no down.sql: E_MIGRATION_NO_DOWN's business
    // Parsed again (cheap): MigrationFile keeps the text, not the statements.
    const parsed = parseSqlFile(path.join(f.dir, `${direction}.sql`), text);
    return parsed.statements.length === 0 && !parsed.markedEmpty;
  });
  if (empty.length === 0) return;
  const paths = empty.map((f) => path.join(f.dir, `${direction}.sql`));
  throw new FerryError(
    E_MIGRATION_EMPTY,
    `${what}: refusing to run ${paths.join(', ')}: ${empty.length === 1 ? 'it holds' : 'they hold'} no SQL ` +
      '(only whitespace and comments), which usually means a blank template from `ferry migrate new --empty` ' +
      `was never filled in. Write the SQL, or, if doing nothing is intended, add a line "${EMPTY_DIRECTIVE}". ` +
      `Nothing was ${direction === 'up' ? 'applied' : 'reverted'}.`,
    { details: { ids: empty.map((f) => f.id), files: paths } },
  );
}

function ensureTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

function fileError(file: string, what: string, cause?: unknown): FerryError {
  return new FerryError(E_MIGRATION_FILE, `${file} ${what}.`, { cause, details: { path: file } });
}
