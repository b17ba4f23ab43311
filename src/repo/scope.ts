import type { ControlledTransaction, IsolationLevel, Kysely } from 'kysely';
import type { ObserverSlot } from '../db/observer.js';
import type { Table } from '../schema/table.js';
import { Repository, type RepositoryCache } from './repository.js';

type AfterCommit = () => unknown | Promise<unknown>;

/** What both a connection and a transaction offer: a Kysely instance, repositories and nesting. */
export interface Scope<DB> {
  readonly db: Kysely<DB>;
  repo<T extends Table>(table: T): Repository<T>;
  /**
   * Run `fn` in a transaction: committed when it resolves, rolled back when
   * it throws. Inside a transaction this opens a savepoint instead, so an
   * inner failure can be caught without losing the outer work.
   */
  transaction<R>(fn: (tx: TransactionScope<DB>) => Promise<R>, options?: TransactionOptions): Promise<R>;
  /**
   * Run `fn` once the work is durable: after the outermost commit inside a
   * transaction (never on rollback), right away outside one. For cache
   * invalidation and events: nobody can observe a change before it commits.
   */
  afterCommit(fn: AfterCommit): Promise<void>;
}

export interface TransactionScope<DB> extends Scope<DB> {
  readonly db: ControlledTransaction<DB, any>;
}

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
}

export interface ScopeHooks {
  /** Where errors thrown by after-commit callbacks go; they never fail the committed work. */
  onAfterCommitError(err: unknown): void;
  /** The default cache of `repo.cached()`. */
  cache?: RepositoryCache;
  /** The handle's query observer slot, handed to every repository (see src/db/observer.ts). */
  observers?: ObserverSlot;
}

/** Repositories are cheap, but caching them keeps `get`'s compiled SQL warm. */
class RepoCache {
  readonly #db: Kysely<any>;
  readonly #repos = new Map<Table, Repository<any>>();
  readonly #hooks: ScopeHooks;
  constructor(db: Kysely<any>, hooks: ScopeHooks) {
    this.#db = db;
    this.#hooks = hooks;
  }
  get<T extends Table>(table: T): Repository<T> {
    let repo = this.#repos.get(table);
    if (!repo) {
      repo = new Repository(this.#db, table, { cache: this.#hooks.cache, observers: this.#hooks.observers });
      this.#repos.set(table, repo);
    }
    return repo as Repository<T>;
  }
}

export class RootScope<DB> implements Scope<DB> {
  readonly db: Kysely<DB>;
  readonly #repos: RepoCache;
  readonly #hooks: ScopeHooks;

  constructor(db: Kysely<DB>, hooks: ScopeHooks) {
    this.db = db;
    this.#repos = new RepoCache(db, hooks);
    this.#hooks = hooks;
  }

  repo<T extends Table>(table: T): Repository<T> {
    return this.#repos.get(table);
  }

  async transaction<R>(fn: (tx: TransactionScope<DB>) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
    let builder = this.db.startTransaction();
    if (options.isolationLevel) builder = builder.setIsolationLevel(options.isolationLevel);
    const trx = await builder.execute();
    const state: TxState = { pending: [], savepoints: 0 };
    let result: R;
    try {
      result = await fn(new TxScope<DB>(trx, state, this.#hooks));
    } catch (err) {
      await trx
        .rollback()
        .execute()
        .catch(() => {
          // The connection may be gone; the server rolls back on its own then.
        });
      throw err;
    }
    await trx.commit().execute();
    await runHooks(state.pending, this.#hooks);
    return result;
  }

  async afterCommit(fn: AfterCommit): Promise<void> {
    await runHooks([fn], this.#hooks);
  }
}

interface TxState {
  pending: AfterCommit[];
  savepoints: number;
}

class TxScope<DB> implements TransactionScope<DB> {
  readonly db: ControlledTransaction<DB, any>;
  readonly #state: TxState;
  readonly #hooks: ScopeHooks;
  readonly #repos: RepoCache;

  constructor(db: ControlledTransaction<DB, any>, state: TxState, hooks: ScopeHooks) {
    this.db = db;
    this.#state = state;
    this.#hooks = hooks;
    this.#repos = new RepoCache(db as unknown as Kysely<any>, hooks);
  }

  repo<T extends Table>(table: T): Repository<T> {
    return this.#repos.get(table);
  }

  async transaction<R>(fn: (tx: TransactionScope<DB>) => Promise<R>): Promise<R> {
    const name = `ferry_sp_${++this.#state.savepoints}`;
    // Kysely tracks savepoint names in the type; ours are dynamic, so use the untyped view.
    const sp: ControlledTransaction<any, any> = await (this.db as any).savepoint(name).execute();
    // Callbacks registered inside a savepoint that rolls back must not run.
    const mark = this.#state.pending.length;
    try {
      const result = await fn(new TxScope<DB>(sp as ControlledTransaction<DB, any>, this.#state, this.#hooks));
      await sp.releaseSavepoint(name).execute();
      return result;
    } catch (err) {
      await sp.rollbackToSavepoint(name).execute();
      this.#state.pending.length = mark;
      throw err;
    }
  }

  async afterCommit(fn: AfterCommit): Promise<void> {
    this.#state.pending.push(fn);
  }
}

async function runHooks(hooks: AfterCommit[], sink: ScopeHooks): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook();
    } catch (err) {
      sink.onAfterCommitError(err);
    }
  }
}
