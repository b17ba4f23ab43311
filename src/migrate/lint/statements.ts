/** The rules, statement by statement: CREATE INDEX/TABLE, DROP, REINDEX and ALTER TABLE's actions. */
import { addColumn, hasValidatedNotNullCheck, notNullCheckName, notNullColumn } from './columns.js';
import { checkKey, type FileEnv, report } from './state.js';
import {
  findWord,
  hasSequence,
  identAt,
  isFalse,
  isOp,
  isWord,
  matchingParen,
  qualifiedName,
  splitTopLevel,
} from './tokens.js';

const NO_TX_HINT = 'put it alone in a migration whose first line is "-- ferry:no-transaction"';

/** Lint one statement and update the state; returns whether it takes a strong lock on an existing object. */
export function lintStatement(env: FileEnv): boolean {
  const t = env.tokens;
  if (isWord(t[0], 'create')) {
    let i = 1;
    if (isWord(t[i], 'or') && isWord(t[i + 1], 'replace')) i += 2;
    if (isWord(t[i], 'unique')) i++;
    if (isWord(t[i], 'index')) return createIndex(env, i + 1);
    while (isWord(t[i], 'global', 'local', 'temp', 'temporary', 'unlogged')) i++;
    if (isWord(t[i], 'table')) return createTable(env, i + 1);
    if (isWord(t[i], 'trigger')) return createTrigger(env, i + 1);
    if (isWord(t[i], 'constraint') && isWord(t[i + 1], 'trigger')) return createTrigger(env, i + 2);
    return false;
  }
  if (isWord(t[0], 'alter') && isWord(t[1], 'table')) return alterTable(env);
  if (isWord(t[0], 'drop')) {
    if (isWord(t[1], 'table')) return dropTable(env);
    if (isWord(t[1], 'index') && isWord(t[2], 'concurrently')) {
      if (!env.noTransaction) {
        const name = qualifiedName(t, isWord(t[3], 'if') ? 5 : 3);
        report(
          env,
          'concurrently-in-transaction',
          0,
          `DROP INDEX CONCURRENTLY${name ? ` ${name.name}` : ''} cannot run inside a transaction, and this file runs in one.`,
          `DROP INDEX CONCURRENTLY must run outside a transaction: ${NO_TX_HINT}.`,
        );
      }
      return false;
    }
    return true;
  }
  if (isWord(t[0], 'reindex')) return reindex(env);
  if (isWord(t[0], 'truncate', 'lock', 'cluster')) return true;
  return false;
}

function createIndex(env: FileEnv, after: number): boolean {
  const t = env.tokens;
  let i = after;
  const concurrently = isWord(t[i], 'concurrently');
  if (concurrently) i++;
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists')) i += 3;
  let index: string | null = null;
  if (!isWord(t[i], 'on')) {
    index = qualifiedName(t, i)?.name ?? null;
  }
  const on = findWord(t, 'on', i);
  if (on < 0) return false;
  let j = on + 1;
  const only = isWord(t[j], 'only');
  if (only) j++;
  const table = qualifiedName(t, j)?.name;
  if (table === undefined) return false;
  // ON ONLY a partitioned table builds nothing: the partitions' copies are built (concurrently) and attached apart.
  if (only && env.state.partitioned.has(table)) return false;
  const what = `${index === null ? 'an index' : `index ${index}`} on table ${table}`;
  if (concurrently) {
    if (!env.noTransaction) {
      report(
        env,
        'concurrently-in-transaction',
        0,
        `CREATE INDEX CONCURRENTLY (${what}) cannot run inside a transaction, and this file runs in one.`,
        `Postgres refuses CONCURRENTLY in a transaction block: ${NO_TX_HINT}.`,
      );
    }
    return false;
  }
  if (!env.state.exists(table)) return false;
  report(
    env,
    'require-concurrent-index-creation',
    0,
    `Creating ${what} without CONCURRENTLY blocks writes to ${table} (SHARE lock) until the index is built.`,
    `Use CREATE INDEX CONCURRENTLY and ${NO_TX_HINT} (ferry migrate new does this for indexes on existing tables).`,
  );
  return true;
}

/**
 * `trigger-on-existing-table`: a table created before this migration may be
 * busy; the trigger's function then runs inside every write to it (per row
 * for FOR EACH ROW), and `CREATE TRIGGER` takes SHARE ROW EXCLUSIVE, which
 * queues writes behind it while it waits for running transactions.
 */
function createTrigger(env: FileEnv, after: number): boolean {
  const t = env.tokens;
  const name = qualifiedName(t, after)?.name ?? null;
  const on = findWord(t, 'on', after);
  if (on < 0) return true;
  const table = qualifiedName(t, on + 1)?.name;
  if (table === undefined || !env.state.exists(table)) return true;
  const each = findWord(t, 'each', on);
  const perRow = each >= 0 && isWord(t[each + 1], 'row');
  report(
    env,
    'trigger-on-existing-table',
    0,
    `Trigger ${name ?? ''} on table ${table}, which exists already: its function runs inside every ` +
      `matching write to ${table} from now on${perRow ? ', once per row' : ''}, and CREATE TRIGGER blocks writes ` +
      `to ${table} while it waits for its lock.`,
    `If ${table} is busy, measure the function on a copy first (a query per row multiplies the write's cost), ` +
      'keep it cheap or move the work to the application or a batch job; the lock wait is bounded by lock_timeout, ' +
      "which Ferry's runner sets.",
  );
  return true;
}

function createTable(env: FileEnv, after: number): boolean {
  const t = env.tokens;
  let i = after;
  const ifNotExists = isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists');
  if (ifNotExists) i += 3;
  const table = qualifiedName(t, i)?.name;
  if (table === undefined) return false;
  if (!(ifNotExists && env.state.known(table))) env.state.create(table);
  if (t.some((x, k) => isWord(x, 'partition') && isWord(t[k + 1], 'by'))) env.state.partitioned.add(table);
  return false;
}

function dropTable(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 2;
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
  let strong = false;
  for (;;) {
    const name = qualifiedName(t, i);
    if (!name) break;
    if (env.state.exists(name.name)) {
      strong = true;
      report(
        env,
        'ban-drop-table',
        i,
        `DROP TABLE ${name.name} deletes the table and all its rows; code still running against it will fail.`,
        'First deploy code that no longer reads or writes the table, keep a backup or an export if the data may be needed, then drop it in a later migration.',
      );
    }
    env.state.drop(name.name);
    i = name.next;
    if (!isOp(t[i], ',')) break;
    i++;
  }
  return strong;
}

function reindex(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 1;
  let concurrently = false;
  if (isOp(t[i], '(')) {
    const close = matchingParen(t, i);
    for (let k = i + 1; k < close; k++) {
      if (isWord(t[k], 'concurrently') && !isFalse(t[k + 1])) concurrently = true;
    }
    i = close + 1;
  }
  i++; // INDEX | TABLE | SCHEMA | DATABASE | SYSTEM
  if (isWord(t[i], 'concurrently')) concurrently = true;
  if (!concurrently) return true;
  if (!env.noTransaction) {
    report(
      env,
      'concurrently-in-transaction',
      0,
      'REINDEX ... CONCURRENTLY cannot run inside a transaction, and this file runs in one.',
      `REINDEX CONCURRENTLY must run outside a transaction: ${NO_TX_HINT}.`,
    );
  }
  return false;
}

function alterTable(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 2;
  if (isWord(t[i], 'all')) return false; // ALTER TABLE ALL IN TABLESPACE
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
  if (isWord(t[i], 'only')) i++;
  const name = qualifiedName(t, i);
  if (!name) return false;
  const table = name.name;
  i = name.next;
  if (isOp(t[i], '*')) i++;
  const existing = env.state.exists(table);

  if (isWord(t[i], 'rename')) {
    renameIn(env, table, existing, i);
    return existing;
  }
  for (const [from, to] of splitTopLevel(t, i, t.length)) alterAction(env, table, existing, from, to);
  return existing;
}

function renameIn(env: FileEnv, table: string, existing: boolean, at: number): void {
  const t = env.tokens;
  if (isWord(t[at + 1], 'to')) {
    const to = qualifiedName(t, at + 2)?.name;
    if (to === undefined) return;
    if (existing) {
      report(
        env,
        'renaming-table',
        at,
        `Renaming table ${table} to ${to} breaks the release still running during the deploy, which queries ${table}.`,
        'Expand/contract instead: create the new table (or a view named after the old one), write to both, backfill, switch the code, then drop the old name in a later migration.',
      );
    }
    env.state.rename(table, to);
    return;
  }
  if (isWord(t[at + 1], 'constraint')) return;
  const colAt = isWord(t[at + 1], 'column') ? at + 2 : at + 1;
  const column = identAt(t[colAt]);
  const to = isWord(t[colAt + 1], 'to') ? identAt(t[colAt + 2]) : null;
  if (column === null || !existing) return;
  report(
    env,
    'renaming-column',
    at,
    `Renaming column ${table}.${column}${to === null ? '' : ` to ${to}`} breaks the release still running during the deploy, which uses ${column}.`,
    'Expand/contract instead: add the new column, write to both and backfill, switch the code to the new column, then drop the old one in a later migration.',
  );
}

const CONSTRAINT_START = ['constraint', 'check', 'unique', 'primary', 'foreign', 'exclude'];

function alterAction(env: FileEnv, table: string, existing: boolean, from: number, to: number): void {
  const t = env.tokens;
  const verb = t[from];
  if (isWord(verb, 'add')) {
    let i = from + 1;
    if (isWord(t[i], ...CONSTRAINT_START)) {
      addConstraint(env, table, existing, from, to);
      return;
    }
    if (isWord(t[i], 'column')) i++;
    if (isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists')) i += 3;
    addColumn(env, table, existing, from, i, to);
    return;
  }
  if (isWord(verb, 'validate') && isWord(t[from + 1], 'constraint')) {
    const name = identAt(t[from + 2]);
    if (name !== null) env.validated.add(checkKey(table, name));
    return;
  }
  if (isWord(verb, 'drop')) {
    let i = from + 1;
    if (isWord(t[i], 'constraint')) {
      const name = identAt(t[isWord(t[i + 1], 'if') ? i + 3 : i + 1]);
      if (name !== null) env.checks.delete(checkKey(table, name));
      return;
    }
    if (isWord(t[i], 'column')) i++;
    if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
    const column = identAt(t[i]);
    if (column === null || !existing) return;
    report(
      env,
      'ban-drop-column',
      from,
      `Dropping column ${table}.${column} deletes its data; the release still running during the deploy may select or insert it.`,
      `First deploy code that no longer uses ${column} (stop selecting it and writing it), then drop it in a later migration.`,
    );
    return;
  }
  if (isWord(verb, 'alter')) {
    let i = from + 1;
    if (isWord(t[i], 'constraint')) return;
    if (isWord(t[i], 'column')) i++;
    const column = identAt(t[i]);
    if (column === null) return;
    i++;
    const isType =
      isWord(t[i], 'type') || (isWord(t[i], 'set') && isWord(t[i + 1], 'data') && isWord(t[i + 2], 'type'));
    if (isType && existing) {
      const typeAt = isWord(t[i], 'type') ? i + 1 : i + 3;
      const type = typeText(env, typeAt, to);
      report(
        env,
        'changing-column-type',
        from,
        `Changing the type of ${table}.${column}${type ? ` to ${type}` : ''} holds an ACCESS EXCLUSIVE lock on ${table} and, unless the change is binary-coercible, rewrites the table and its indexes.`,
        'Safe (no rewrite): widening varchar(n) to a larger n, varchar to text, numeric(p,s) to a larger p with the same scale, or dropping a length/precision limit. Otherwise expand/contract: add a new column of the new type, backfill it in batches, switch the code, then drop the old column.',
      );
      return;
    }
    if (isWord(t[i], 'set') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'null') && existing) {
      if (hasValidatedNotNullCheck(env, table, column)) return;
      report(
        env,
        'setting-not-nullable-field',
        from,
        `SET NOT NULL on ${table}.${column} scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes.`,
        `Add CONSTRAINT ${notNullCheckName(table, column)} CHECK (${column} IS NOT NULL) NOT VALID, VALIDATE it in a separate migration, then SET NOT NULL right after the VALIDATE (it skips the scan) and drop the check (ferry migrate new does this).`,
      );
    }
  }
}

function addConstraint(env: FileEnv, table: string, existing: boolean, from: number, to: number): void {
  const t = env.tokens;
  let i = from + 1;
  let name: string | null = null;
  if (isWord(t[i], 'constraint')) {
    name = identAt(t[i + 1]);
    i += 2;
  }
  const kind = isWord(t[i], 'foreign') ? 'FOREIGN KEY' : isWord(t[i], 'check') ? 'CHECK' : null;
  if (kind === null) return;
  const notValid = hasSequence(t, from, to, ['not', 'valid']);
  if (kind === 'CHECK' && name !== null) {
    const column = notNullColumn(t, i + 1);
    if (column !== null) env.checks.set(checkKey(table, name), column);
    if (!notValid) env.validated.add(checkKey(table, name));
  }
  // Postgres has no NOT VALID foreign key on a partitioned table; `migrate new` validates its partitions' first.
  if (notValid || !existing || (kind === 'FOREIGN KEY' && env.state.partitioned.has(table))) return;
  const what = `${kind === 'CHECK' ? 'check' : 'foreign key'}${name === null ? '' : ` ${name}`} on ${table}`;
  const locks =
    kind === 'CHECK'
      ? `scans all of ${table} under an ACCESS EXCLUSIVE lock`
      : `scans all of ${table} while blocking writes to it and to the referenced table`;
  report(
    env,
    'constraint-missing-not-valid',
    from,
    `Adding ${what} without NOT VALID ${locks}.`,
    `Add it with NOT VALID (instant: only new rows are checked), then run ALTER TABLE ${table} VALIDATE CONSTRAINT ${name ?? '<name>'} in a separate migration; VALIDATE only takes a SHARE UPDATE EXCLUSIVE lock.`,
  );
}

/** The source text of a type, from `at` up to USING / COLLATE or the end of the action. */
function typeText(env: FileEnv, at: number, to: number): string {
  const t = env.tokens;
  let end = at;
  while (end < to && !isWord(t[end], 'using', 'collate')) end++;
  if (end === at) return '';
  return env.statement.text
    .slice(t[at]!.start, t[end - 1]!.end)
    .replace(/\s+/g, ' ')
    .trim();
}
