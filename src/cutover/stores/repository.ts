/**
 * A Ferry repository as a cutover store: usually the `new` side, the
 * Postgres table the app moves to.
 *
 *   const store = repositoryStore(ferry.repo(users));            // keyed by the primary key
 *   await store.put('42', { id: 42, name: 'Ada' });                // insert … on conflict (id) do update
 *   const bySlug = repositoryStore(ferry.repo(cards), { key: 'slug' }); // a unique column instead
 *
 * Keys are strings at the cutover's edge; here each is turned into the key
 * column's type: an integer column takes `"42"` as 42, a bigint column as a
 * number or, past 2^53, a JS bigint, a uuid column checks the format. A key
 * that cannot be of that type has no row: `get` answers undefined and
 * `delete` does nothing, while `put` fails (E_CUTOVER_STORE).
 *
 * `put` is an upsert on the key (insert, or update every column given);
 * `list()` pages through the table in key order with the repository's
 * keyset pagination (`page()`), 500 rows at a time: never the whole table.
 */
import { FerryError } from '../../errors.js';
import type { Repository } from '../../repo/repository.js';
import type { Table } from '../../schema/table.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from '../errors.js';
import type { CutoverStore, StoreEntry } from '../store.js';

export interface RepositoryStoreOptions {
  /** The key column: the single-column primary key (default) or a column with a unique constraint. */
  key?: string;
  /** Rows per page of list() (default 500). */
  pageSize?: number;
  label?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
const INT4 = 2 ** 31;

type AnyRow = Record<string, any>;

export function repositoryStore<T extends Table>(
  repo: Repository<T>,
  options: RepositoryStoreOptions = {},
): CutoverStore<T['$inferSelect']> {
  const table = repo?.table;
  if (!table || typeof repo.upsert !== 'function') {
    throw new FerryError(E_CUTOVER_CONFIG, 'repositoryStore(repo): pass a Ferry repository (ferry.repo(table)).');
  }
  const label = options.label ?? `postgres(${table.name})`;
  const pk = table.primaryKey;
  const key = options.key ?? (pk.length === 1 ? pk[0] : undefined);
  if (key === undefined) {
    throw new FerryError(
      E_CUTOVER_CONFIG,
      `${label}: table ${table.name} has ${pk.length === 0 ? 'no primary key' : `a composite primary key (${pk.join(', ')})`}: pass { key: '<column>' }, a column with a unique constraint.`,
    );
  }
  const column = table.columns[key];
  if (!column) {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: table ${table.name} has no column "${key}".`);
  }
  const unique = (pk.length === 1 && pk[0] === key) || column.def.unique !== null;
  if (!unique) {
    throw new FerryError(
      E_CUTOVER_CONFIG,
      `${label}: column ${table.name}.${key} is neither the primary key nor unique: a store's key must name one row. Add a unique constraint or pick another column.`,
    );
  }
  const byPk = pk.length === 1 && pk[0] === key;
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: pageSize must be a positive integer, got ${String(pageSize)}.`);
  }
  const kind = column.def.kind;

  /** The key as the column's type, or undefined when no row can have it. */
  const toColumn = (k: string): unknown => {
    if (kind === 'int' || kind === 'bigint') {
      if (!INTEGER.test(k)) return undefined;
      const n = Number(k);
      if (kind === 'int') return Math.abs(n) < INT4 || n === -INT4 ? n : undefined;
      if (Number.isSafeInteger(n)) return n;
      const big = BigInt(k);
      return big >= -(2n ** 63n) && big < 2n ** 63n ? big : undefined;
    }
    if (kind === 'uuid') return UUID.test(k) ? k.toLowerCase() : undefined;
    if (kind === 'string') return k;
    throw new FerryError(
      E_CUTOVER_CONFIG,
      `${label}: key column ${table.name}.${key} is of type ${column.def.type}; a store keys by an integer, bigint, uuid or text column.`,
    );
  };
  toColumn('0'); // fail at construction, not at the first call, on an unsupported key type

  const fail = (operation: 'get' | 'put' | 'delete' | 'list', k: string | undefined, err: unknown) => {
    const what = k === undefined ? operation : `${operation} of key "${k}"`;
    return new FerryError(E_CUTOVER_STORE, `${label}: ${what} failed: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
      details: { store: label, key: k, operation, table: table.name },
    });
  };
  const r = repo as Repository<any>;

  return {
    label,
    async get(k) {
      const v = toColumn(k);
      if (v === undefined) return undefined;
      try {
        return byPk ? await r.get(v as never) : await r.findOne({ [key]: v } as never);
      } catch (err) {
        throw fail('get', k, err);
      }
    },
    async put(k, value) {
      const v = toColumn(k);
      if (v === undefined) {
        throw new FerryError(
          E_CUTOVER_STORE,
          `${label}: put of key "${k}": not a valid ${column.def.type} for ${table.name}.${key}.`,
          { details: { store: label, key: k, operation: 'put', table: table.name } },
        );
      }
      const row = { ...(value as AnyRow) };
      const own = row[key];
      const same = kind === 'uuid' ? String(own).toLowerCase() === v : String(own) === String(v);
      if (own !== undefined && own !== null && !same) {
        throw new FerryError(
          E_CUTOVER_STORE,
          `${label}: put of key "${k}" with a row whose ${key} is ${String(own)}: the key and the row must agree.`,
          { details: { store: label, key: k, operation: 'put', table: table.name } },
        );
      }
      row[key] = v;
      try {
        await r.upsert(row as never, byPk ? {} : { conflict: [key] as never });
      } catch (err) {
        throw fail('put', k, err);
      }
    },
    async delete(k) {
      const v = toColumn(k);
      if (v === undefined) return;
      try {
        await r.delete((byPk ? v : { [key]: v }) as never);
      } catch (err) {
        throw fail('delete', k, err);
      }
    },
    async *list(opts): AsyncIterable<StoreEntry<T['$inferSelect']>> {
      let after: string | undefined;
      do {
        opts?.signal?.throwIfAborted();
        let page: Awaited<ReturnType<typeof r.page>>;
        try {
          page = await r.page({ orderBy: [key] as never, limit: pageSize, ...(after ? { after } : {}) });
        } catch (err) {
          throw fail('list', undefined, err);
        }
        for (const row of page.rows) yield { key: String(row[key]), value: row };
        after = page.nextCursor ?? undefined;
      } while (after !== undefined);
    },
  };
}
