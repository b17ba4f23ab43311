/** The ADD COLUMN rules (not-null without default, volatile defaults) and the not-null check bookkeeping. */
import { type FileEnv, report } from './state.js';
import { identAt, isOp, isWord, matchingParen, type Token } from './tokens.js';

const COLUMN_CONSTRAINT_START = new Set([
  'not',
  'null',
  'default',
  'constraint',
  'check',
  'unique',
  'primary',
  'references',
  'generated',
  'collate',
  'compression',
  'storage',
  'deferrable',
  'initially',
]);
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/**
 * Functions whose volatility is VOLATILE in pg_proc: a default calling one is
 * evaluated per row, so ADD COLUMN rewrites the table. now() and friends are
 * STABLE (one value per transaction) and stay instant on PG11+.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'setseed',
  'gen_random_uuid',
  'gen_random_bytes',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'nextval',
]);

function isVolatileFunction(name: string): boolean {
  return VOLATILE_FUNCTIONS.has(name) || name.startsWith('uuid_generate_');
}

export function addColumn(env: FileEnv, table: string, existing: boolean, from: number, at: number, to: number): void {
  const t = env.tokens;
  const column = identAt(t[at]);
  if (column === null || !existing) return;
  let notNull = false;
  let primaryKey = false;
  let defaultTokens: Token[] | null = null;
  let identity = false;
  let storedGenerated = false;
  let serial = false;
  let i = at + 1;
  // The type runs up to the first column-constraint keyword.
  const typeStart = i;
  while (i < to && !(t[i]!.kind === 'word' && COLUMN_CONSTRAINT_START.has(t[i]!.value))) {
    i = isOp(t[i], '(') ? matchingParen(t, i) + 1 : i + 1;
  }
  const typeWord = t[typeStart];
  if (typeWord && typeWord.kind === 'word' && SERIAL_TYPES.has(typeWord.value) && i === typeStart + 1) {
    serial = true;
  }
  while (i < to) {
    const tok = t[i]!;
    if (isWord(tok, 'not') && isWord(t[i + 1], 'null')) {
      notNull = true;
      i += 2;
    } else if (isWord(tok, 'primary') && isWord(t[i + 1], 'key')) {
      primaryKey = true;
      i += 2;
    } else if (isWord(tok, 'default')) {
      const start = i + 1;
      i = start + 1;
      while (i < to && !(t[i]!.kind === 'word' && COLUMN_CONSTRAINT_START.has(t[i]!.value))) {
        i = isOp(t[i], '(') ? matchingParen(t, i) + 1 : i + 1;
      }
      defaultTokens = t.slice(start, Math.min(i, to));
    } else if (isWord(tok, 'generated')) {
      let j = i + 1;
      while (j < to && !isWord(t[j], 'as')) j++;
      if (isWord(t[j + 1], 'identity')) {
        identity = true;
        i = j + 2;
      } else if (isOp(t[j + 1], '(')) {
        const close = matchingParen(t, j + 1);
        if (isWord(t[close + 1], 'stored')) storedGenerated = true;
        i = close + 1;
      } else {
        i = j + 1;
      }
    } else {
      i = isOp(tok, '(') ? matchingParen(t, i) + 1 : i + 1;
    }
  }

  const defaultIsNull =
    defaultTokens !== null &&
    defaultTokens.length > 0 &&
    isWord(defaultTokens[0], 'null') &&
    (defaultTokens.length === 1 || isOp(defaultTokens[1], '::'));
  const hasDefault = (defaultTokens !== null && !defaultIsNull) || identity || serial || storedGenerated;
  const where = `${table}.${column}`;
  if ((notNull || primaryKey) && !hasDefault) {
    report(
      env,
      'adding-not-nullable-field',
      from,
      `Adding ${where} as ${primaryKey && !notNull ? 'PRIMARY KEY (so NOT NULL)' : 'NOT NULL'} without a DEFAULT fails as soon as ${table} has a row.`,
      `Add it nullable (or NOT NULL with a constant DEFAULT, instant on PG11+), backfill existing rows in batches, then add CHECK (${column} IS NOT NULL) NOT VALID, validate it, and SET NOT NULL in later migrations.`,
    );
  }
  let volatile: string | null = null;
  if (defaultTokens !== null) {
    for (let k = 0; k < defaultTokens.length; k++) {
      const tok = defaultTokens[k]!;
      if (
        (tok.kind === 'word' || tok.kind === 'ident') &&
        isOp(defaultTokens[k + 1], '(') &&
        isVolatileFunction(tok.value)
      ) {
        volatile = `DEFAULT ${tok.value}()`;
        break;
      }
    }
  }
  if (volatile === null && serial) volatile = `type ${typeWord!.value} (DEFAULT nextval())`;
  if (volatile === null && identity) volatile = 'an identity (one sequence value per row)';
  if (volatile === null && storedGenerated) volatile = 'a STORED generated expression (computed per row)';
  if (volatile !== null) {
    report(
      env,
      'adding-volatile-default',
      from,
      `Adding ${where} with ${volatile} evaluates it for every existing row, rewriting ${table} under an ACCESS EXCLUSIVE lock.`,
      'Add the column without a default (or with a constant or a stable one like now(), which PG11+ stores without a rewrite), then SET DEFAULT for new rows and backfill existing rows in batches.',
    );
  }
}

/** Whether a validated CHECK (column IS NOT NULL) on `table` was validated earlier in this file. */
export function hasValidatedNotNullCheck(env: FileEnv, table: string, column: string): boolean {
  for (const key of env.validated) {
    const sep = key.indexOf('\u0000');
    if (key.slice(0, sep) !== table) continue;
    const known = env.checks.get(key);
    const name = key.slice(sep + 1);
    if (known === column || (known === undefined && name === notNullCheckName(table, column))) return true;
  }
  return false;
}

/** Ferry's name for the temporary not-null check (diff.ts). */
export function notNullCheckName(table: string, column: string): string {
  return `${table}_${column}_not_null`.slice(0, 63);
}

/** The column of `CHECK (col IS NOT NULL)` (any number of parentheses) starting at the `(`, or null. */
export function notNullColumn(t: Token[], open: number): string | null {
  if (!isOp(t[open], '(')) return null;
  let from = open;
  let to = matchingParen(t, open);
  while (isOp(t[from + 1], '(') && matchingParen(t, from + 1) === to - 1) {
    from++;
    to--;
  }
  const inner = t.slice(from + 1, to);
  const column = identAt(inner[0]);
  if (column === null) return null;
  if (inner.length === 4 && isWord(inner[1], 'is') && isWord(inner[2], 'not') && isWord(inner[3], 'null'))
    return column;
  if (inner.length === 2 && isWord(inner[1], 'notnull')) return column;
  return null;
}
