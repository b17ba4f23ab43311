/**
 * Orphans: rows whose foreign key has no parent row. Found with one query per
 * range of staged rows (`orphans`), or, before a group is COPied straight
 * into its table, with one query over the group's distinct foreign-key
 * values (`missingParents`): a batch with ten of them costs one more
 * statement, not twenty bisection steps. Parent keys that query found, and
 * the keys of parent rows this run COPied itself (`rememberCopied`), are
 * remembered for the run (`PresentParents`), so later batches send only the
 * values not seen yet — on a first import, only the orphans' own.
 */
import type { RawSession } from '../db/session.js';
import { quoteIdent } from '../schema/identifiers.js';
import { KeySet } from './key-set.js';
import type { Group } from './prepare.js';
import type { Target } from './targets.js';

export const FOREIGN_KEY_VIOLATION = '23503';

interface ForeignKey {
  name: string;
  parent: string;
  /** The parent's name as Postgres prints it in the violation's detail. */
  parentName: string;
  columns: string[];
  refColumns: string[];
  /** The referenced columns' names, unquoted. */
  refNames: string[];
  /** Column names as printed in the detail (unquoted). */
  names: string[];
  /** The referencing columns' types, as `format_type` prints them (a value is cast to it as COPY would read it). */
  types: string[];
}

const foreignKeysOf = new WeakMap<Target, Promise<ForeignKey[]>>();
/** Per target, per foreign key (by constraint name): parent keys found present this run. */
const presentOf = new WeakMap<Target, Map<string, PresentParents>>();
/** Per parent target, per referenced column tuple (names joined by NUL): keys of rows this run COPied into it. */
const copiedOf = new WeakMap<Target, Map<string, PresentParents>>();
/** Targets that had orphans in this process: later batches look for them first. */
export const orphanTables = new WeakSet<Target>();

/** A staged row whose foreign key has no parent, with the error the database would raise for it. */
interface Orphan {
  n: number;
  error: { code: string; message: string; detail: string };
}

/**
 * The staged rows in [lo, hi] whose (immediate) foreign key to another
 * table has no parent row; such a row fails in any statement it is part of.
 * The first missing parent in constraint order is named, as Postgres does.
 */
export async function orphans(
  session: RawSession,
  target: Target,
  columns: string[],
  lo: number,
  hi: number,
): Promise<Orphan[]> {
  const staged = new Set(columns.map(quoteIdent));
  const checked = (await foreignKeys(session, target)).filter((fk) => fk.columns.every((c) => staged.has(c)));
  if (checked.length === 0) return [];
  const selects = checked.map((fk, i) => {
    const present = fk.columns.map((c) => `s.${c} is not null`).join(' and ');
    const match = fk.columns.map((c, j) => `p.${fk.refColumns[j]} = s.${c}`).join(' and ');
    const values = fk.columns.map((c) => `s.${c}::text`).join(', ');
    return (
      `select s._ferry_n as n, ${i} as fk, concat_ws(', ', ${values}) as vals from ${target.staging} s ` +
      `where s._ferry_n between $1 and $2 and ${present} and not exists (select 1 from ${fk.parent} p where ${match})`
    );
  });
  const { rows } = await session.query<{ n: number; fk: number; vals: string }>(
    `select distinct on (n) n, fk, vals from (${selects.join(' union all ')}) o order by n, fk`,
    [lo, hi],
  );
  return rows.map((r) => {
    const fk = checked[Number(r.fk)] as ForeignKey;
    return { n: Number(r.n), error: violation(target, fk, r.vals) };
  });
}

/** The target's foreign keys to other tables (not deferrable), read from the catalog once per process. */
function foreignKeys(session: RawSession, target: Target): Promise<ForeignKey[]> {
  let fks = foreignKeysOf.get(target);
  if (!fks) {
    fks = session
      .query<{
        name: string;
        parent: string;
        parent_name: string;
        refcols: string[];
        refnames: string[];
        names: string[];
        types: string[];
      }>(
        `select c.conname as name, format('%s', c.confrelid::regclass) as parent, p.relname as parent_name,
                array(select quote_ident(a.attname) from unnest(c.confkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refcols,
                array(select a.attname::text from unnest(c.confkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refnames,
                array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as names,
                array(select format_type(a.atttypid, a.atttypmod) from unnest(c.conkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as types
           from pg_constraint c join pg_class p on p.oid = c.confrelid
          where c.contype = 'f' and c.conrelid = to_regclass($1) and c.confrelid <> c.conrelid and not c.condeferrable
          order by c.oid`,
        [quoteIdent(target.name)],
      )
      .then(({ rows }) =>
        rows.map((r) => ({
          name: r.name,
          parent: r.parent,
          parentName: r.parent_name,
          columns: r.names.map(quoteIdent),
          refColumns: r.refcols,
          refNames: r.refnames,
          names: r.names,
          types: r.types,
        })),
      );
    foreignKeysOf.set(target, fks);
  }
  return fks;
}

/**
 * The rows of `group` (indexes into its lines) whose foreign key to another
 * table has no parent row, found before the group is COPied straight into
 * its table: one query over the group's distinct key values per foreign
 * key, each value cast to the column's type as COPY would read it. A key
 * with a NULL part is not checked (MATCH SIMPLE). The first missing parent
 * in constraint order is named, as Postgres does.
 */
export async function missingParents(session: RawSession, target: Target, group: Group): Promise<Orphan[]> {
  const at = new Map(group.columns.map((c, i) => [quoteIdent(c), i]));
  const checked = (await foreignKeys(session, target)).filter((fk) => fk.columns.every((c) => at.has(c)));
  if (checked.length === 0) return [];
  const positions = checked.map((fk) => fk.columns.map((c) => at.get(c) as number));
  const present = presentOf.get(target) ?? new Map<string, PresentParents>();
  presentOf.set(target, present);
  const remembered = checked.map((fk): Memory => {
    const known = present.get(fk.name) ?? new PresentParents();
    present.set(fk.name, known);
    const parent = target.parentTargets.get(fk.parentName);
    return { found: known, copied: parent && copiedOf.get(parent)?.get(fk.refNames.join('\u0000')) };
  });
  const first = await findMissing(session, target, checked, positions, group, null, remembered);
  // A row found missing a later key's parent while an earlier key's was taken
  // from memory: ask about that row again without it, so that the constraint
  // named is the first one missing, as Postgres names it (a remembered parent
  // may have been deleted since).
  const again = new Set<number>();
  for (const o of first.found.values()) if (first.skipped(o.n, o.fk)) again.add(o.n);
  if (again.size > 0) {
    const second = await findMissing(session, target, checked, positions, group, again, null);
    for (const o of second.found.values()) first.found.set(o.n, o);
  }
  return [...first.found.values()].sort((x, y) => x.n - y.n).map(({ n, error }) => ({ n, error }));
}

/**
 * Keys of the rows just COPied into `target` that other targets reference,
 * remembered for the run: their children need not ask for them. Called once
 * the COPY succeeded; should the transaction still roll back, the children's
 * direct COPY fails on its constraint and takes the staged path, which asks
 * the database (so a stale memory costs time, never a wrong row).
 */
export function rememberCopied(target: Target, group: Group): void {
  if (target.referenced.length === 0) return;
  const memory = copiedOf.get(target) ?? new Map<string, PresentParents>();
  copiedOf.set(target, memory);
  for (const cols of target.referenced) {
    const positions = cols.map((c) => group.columns.indexOf(c));
    if (positions.some((p) => p < 0)) continue;
    const id = cols.join('\u0000');
    const known = memory.get(id) ?? new PresentParents();
    memory.set(id, known);
    if (known.full) continue;
    const keys = new DistinctKeys(positions);
    const last = Math.max(...positions);
    for (let n = 0; n < group.lines.length; n++) {
      const key = keys.keyOf(group.lines.fields(n, last));
      if (key !== null) known.add(key);
    }
  }
}

/** A foreign key's memory: parent keys its queries found present, and keys of rows COPied into the parent this run. */
interface Memory {
  found: PresentParents;
  copied: PresentParents | undefined;
}

/**
 * One query over the distinct foreign-key values of `group`'s rows (of
 * `only` when given) whose parents are missing; values in `remembered` are
 * not asked, and values found present are added to it.
 */
async function findMissing(
  session: RawSession,
  target: Target,
  checked: ForeignKey[],
  positions: number[][],
  group: Group,
  only: Set<number> | null,
  remembered: Memory[] | null,
): Promise<{ found: Map<number, Orphan & { fk: number }>; skipped: (n: number, before: number) => boolean }> {
  const keys = positions.map((p) => new DistinctKeys(p));
  const last = Math.max(...positions.flat());
  for (let n = 0; n < group.lines.length; n++) {
    if (only !== null && !only.has(n)) continue;
    const fields = group.lines.fields(n, last);
    for (const k of keys) k.add(fields, n);
  }
  const params: string[][] = [];
  const selects: string[] = [];
  /** Per foreign key: the distinct tuples asked about (indexes into its DistinctKeys), in the order sent. */
  const sent: number[][] = [];
  checked.forEach((fk, j) => {
    const k = keys[j] as DistinctKeys;
    const known = remembered?.[j];
    const ask: number[] = [];
    for (let t = 0; t < k.rows.length; t++) {
      if (known === undefined) {
        ask.push(t);
        continue;
      }
      const digest = KeySet.digest(k.keys[t] as string);
      if (!(known.found.hasDigest(digest) || known.copied?.hasDigest(digest))) ask.push(t);
    }
    sent.push(ask);
    if (ask.length === 0) return;
    const cols = fk.columns.map((_, c) => `c${c}`);
    const arrays = k.values.map(
      (v) => `$${params.push(ask.length === v.length ? v : ask.map((t) => v[t] as string))}::text[]`,
    );
    const match = fk.refColumns.map((r, c) => `p.${r} = v.c${c}::${fk.types[c]}`).join(' and ');
    const vals = cols.map((c, i) => `v.${c}::${fk.types[i]}::text`).join(', ');
    selects.push(
      `select ${j} as fk, v.i, concat_ws(', ', ${vals}) as vals ` +
        `from unnest(${arrays.join(', ')}) with ordinality v(${cols.join(', ')}, i) ` +
        `where not exists (select 1 from ${fk.parent} p where ${match})`,
    );
  });
  const found = new Map<number, Orphan & { fk: number }>();
  // Rare (rows found missing a later key's parent): the row's fields are read again rather than kept for every row.
  const skipped = (n: number, before: number) => {
    const fields = group.lines.fields(n, last);
    return keys.some((k, i) => {
      const t = i < before ? k.tupleOf(fields) : undefined;
      return t !== undefined && !(sent[i] as number[]).includes(t);
    });
  };
  if (selects.length === 0) return { found, skipped };
  const { rows } = await session.query<{ fk: number; i: string | number; vals: string }>(
    `${selects.join(' union all ')} order by fk`,
    params,
  );
  const missing = checked.map(() => new Set<number>());
  for (const r of rows) {
    const j = Number(r.fk);
    const t = (sent[j] as number[])[Number(r.i) - 1] as number;
    (missing[j] as Set<number>).add(t);
    for (const n of (keys[j] as DistinctKeys).rows[t] ?? []) {
      if (!found.has(n)) found.set(n, { n, fk: j, error: violation(target, checked[j] as ForeignKey, r.vals) });
    }
  }
  remembered?.forEach((known, j) => {
    const k = keys[j] as DistinctKeys;
    for (const t of sent[j] as number[]) if (!(missing[j] as Set<number>).has(t)) known.found.add(k.keys[t] as string);
  });
  return { found, skipped };
}

/**
 * Parent keys (a foreign key's value tuples, as text) found present in this
 * run, so a batch asks the database only about values it has not seen. Held
 * as 64-bit fingerprints (KeySet: ~12 bytes a key, where a Set of uuid
 * strings took ~80, the largest part of the run's growth with its size) and
 * bounded at MAX_PRESENT_KEYS: past that, values not remembered are simply
 * asked again.
 *
 * Trusting it cannot let an orphan in, not even on a fingerprint collision:
 * the direct COPY is still checked by the constraint itself, and a parent
 * missing after all fails it, which rolls the group back to the staged path
 * that isolates the row (write.ts).
 */
class PresentParents {
  readonly #keys = new KeySet();

  hasDigest(digest: string): boolean {
    return this.#keys.hasDigest(digest);
  }

  /** No room left: further keys are not remembered. */
  get full(): boolean {
    return this.#keys.size >= MAX_PRESENT_KEYS;
  }

  add(key: string): void {
    if (!this.full) this.#keys.add(key);
  }
}

/** ~3.5 MB of fingerprints per foreign key: a run's parents up to that many are never asked twice. */
const MAX_PRESENT_KEYS = 250_000;

/** A foreign key's distinct value tuples in a group (one array per column, for unnest), and the rows holding each. */
class DistinctKeys {
  readonly values: string[][];
  /** Per distinct tuple, in the order of `values`: the rows that hold it, and the tuple as one string. */
  readonly rows: number[][] = [];
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();
  constructor(readonly positions: number[]) {
    this.values = positions.map(() => []);
  }

  /** The index of the tuple in a row's fields, if it was added (none with a NULL part). */
  tupleOf(fields: (string | null)[]): number | undefined {
    const key = this.keyOf(fields);
    return key === null ? undefined : this.#index.get(key);
  }

  /** The tuple as one string; null with a NULL part (not checked: MATCH SIMPLE). */
  keyOf(fields: (string | null)[]): string | null {
    let key = '';
    for (let c = 0; c < this.positions.length; c++) {
      const v = fields[this.positions[c] as number];
      if (v === null || v === undefined) return null;
      key = c === 0 ? v : `${key}\u0000${v}`;
    }
    return key;
  }

  add(fields: (string | null)[], n: number): void {
    const key = this.keyOf(fields);
    if (key === null) return;
    const known = this.#index.get(key);
    if (known !== undefined) {
      (this.rows[known] as number[]).push(n);
      return;
    }
    this.#index.set(key, this.rows.length);
    this.rows.push([n]);
    this.keys.push(key);
    for (let c = 0; c < this.positions.length; c++) {
      (this.values[c] as string[]).push(fields[this.positions[c] as number] as string);
    }
  }
}

/** The error Postgres raises for a row whose foreign key `fk` has no parent. */
function violation(target: Target, fk: ForeignKey, vals: string): Orphan['error'] {
  return {
    code: FOREIGN_KEY_VIOLATION,
    message: `insert or update on table "${target.name}" violates foreign key constraint "${fk.name}"`,
    detail: `Key (${fk.names.join(', ')})=(${vals}) is not present in table "${fk.parentName}".`,
  };
}
