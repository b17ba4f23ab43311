/**
 * The migration runner: applies and reverts the folders of files.ts against
 * one database, recording each in a history table.
 *
 * Concurrency: every run (up, down, baseline) takes a session-level advisory
 * lock, polled with `pg_try_advisory_lock` (never a blocking call, never
 * inside a transaction) on one dedicated connection that is then used for all
 * of the run's work and released at the end. Because the lock is held by a
 * session, not by a transaction, it survives each migration's COMMIT, and a
 * `CREATE INDEX CONCURRENTLY` on the same connection has no transaction of
 * ours to wait for. If the process dies, the server ends the session and the
 * lock goes with it (on PostgreSQL 14+ the run sets
 * `client_connection_check_interval` so a backend busy in a long statement
 * notices a dead client within about a second). Behind PgBouncer in
 * transaction mode (`pgbouncer=true`) a session lock would stay on whichever
 * server connection took it, so that connection is one of the direct URL
 * (DIRECT_DATABASE_URL), and without one a run is refused (lock.ts).
 *
 * Each migration runs as one transaction, or alone with session-level
 * timeouts when it is marked no-transaction (execute.ts).
 *
 * The pieces: history.ts (the history table), lock.ts (the advisory lock),
 * status.ts (applied/pending and the guards that refuse a run), execute.ts
 * (running a plan). This file holds the Migrator: options and the commands.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { type Duration, toMs } from '../duration.js';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import { E_MIGRATION_NO_DOWN, E_MIGRATION_ON_DISK, E_MIGRATION_OUT_OF_ORDER, E_MIGRATION_UNKNOWN } from './errors.js';
import { type RunResult, runPlan } from './execute.js';
import { type MigrationFile, readMigrations, refuseEmpty } from './files.js';
import {
  type AppliedMigration,
  ensureTable,
  type HistoryRow,
  insertHistory,
  readHistory,
  toApplied,
} from './history.js';
import { lockKeyFor, withLock } from './lock.js';
import { computeStatus, type MigrationProblem, type MigrationStatus, refuseProblems } from './status.js';

export type { MigrationError, MigrationResult, RunResult } from './execute.js';
export type { AppliedMigration } from './history.js';
export { lockKeyFor } from './lock.js';
export type { MigrationProblem, MigrationProblemCode, MigrationStatus } from './status.js';

export interface MigratorOptions {
  /** The migrations directory (see files.ts for the layout). */
  dir: string;
  /** History table, optionally schema-qualified (default 'ferry_migrations'). */
  table?: string;
  /** How long to wait for another run's lock before E_MIGRATION_LOCK_TIMEOUT (default 60 000 ms, or e.g. '1m'). */
  lockTimeoutMs?: Duration;
  /** `lock_timeout` while a migration runs (default 5 000 ms, or e.g. '5s'; 0 = none). */
  statementLockTimeoutMs?: Duration;
  /** `statement_timeout` while a migration runs (default 600 000 ms, or e.g. '10m'; 0 = none). */
  statementTimeoutMs?: Duration;
  /** Apply pending migrations older than the newest applied one instead of refusing (default false). */
  allowOutOfOrder?: boolean;
  /** Recorded in the history (default `user@host`). */
  appliedBy?: string;
}

const DEFAULTS = {
  table: 'ferry_migrations',
  lockTimeoutMs: 60_000,
  statementLockTimeoutMs: 5_000,
  statementTimeoutMs: 600_000,
};

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$/;

interface Resolved {
  dir: string;
  table: string;
  lockTimeoutMs: number;
  statementLockTimeoutMs: number;
  statementTimeoutMs: number;
  allowOutOfOrder: boolean;
  appliedBy: string;
}

export class Migrator {
  readonly #db: Kysely<any>;
  readonly #o: Resolved;
  /** `"schema"."table"` / `"table"`, for SQL text. */
  readonly #tableSql: string;
  readonly #lockKey: bigint;

  constructor(db: Kysely<any>, options: MigratorOptions) {
    if (!options || typeof options.dir !== 'string' || options.dir === '') {
      throw new FerryError(E_BAD_ARGUMENT, 'Migrator needs options.dir, the migrations directory.');
    }
    const table = options.table ?? DEFAULTS.table;
    if (!TABLE_NAME.test(table)) {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `Invalid history table name ${JSON.stringify(table)}: use [schema.]name with letters, digits and _.`,
      );
    }
    // A Duration, parsed by duration.ts; a bare number (ms) must be whole, as before Durations.
    const ms = (name: keyof typeof DEFAULTS & `${string}Ms`): number => {
      const value = options[name] ?? DEFAULTS[name];
      if (typeof value === 'number' && !Number.isInteger(value)) {
        throw new FerryError(E_BAD_ARGUMENT, `Migrator option ${name} must be a whole number of ms, got ${value}.`);
      }
      return toMs(value, `Migrator option ${name}`, E_BAD_ARGUMENT);
    };
    this.#db = db;
    this.#o = {
      dir: path.resolve(options.dir),
      table,
      lockTimeoutMs: ms('lockTimeoutMs'),
      statementLockTimeoutMs: ms('statementLockTimeoutMs'),
      statementTimeoutMs: ms('statementTimeoutMs'),
      allowOutOfOrder: options.allowOutOfOrder ?? false,
      appliedBy: options.appliedBy ?? defaultAppliedBy(),
    };
    this.#tableSql = table
      .split('.')
      .map((part) => `"${part}"`)
      .join('.');
    this.#lockKey = lockKeyFor(table);
  }

  /** The advisory-lock key runs on this history table use (`pg_try_advisory_lock(key)`). */
  get lockKey(): bigint {
    return this.#lockKey;
  }

  /** Applied, pending and problems. Reads without taking the lock; does not create the history table. */
  async status(): Promise<MigrationStatus> {
    const files = readMigrations(this.#o.dir);
    return this.#computeStatus(files, await this.#readHistory(this.#db));
  }

  /** The history table's rows, by id ([] when it does not exist yet). */
  history(): Promise<AppliedMigration[]> {
    return this.#readHistory(this.#db);
  }

  /** Apply pending migrations in id order, up to and including `to` (default: all). */
  async up(options: { to?: string } = {}): Promise<RunResult> {
    const files = readMigrations(this.#o.dir);
    if (options.to !== undefined && !files.some((f) => f.id === options.to)) {
      throw new FerryError(E_MIGRATION_UNKNOWN, `up: there is no migration ${options.to} in ${this.#o.dir}.`, {
        details: { to: options.to },
      });
    }
    return this.#locked(async (conn) => {
      const status = this.#computeStatus(files, await this.#readHistory(conn));
      this.#refuseProblems(status.problems, 'up');
      const plan = status.pending.filter((f) => options.to === undefined || f.id <= options.to);
      refuseEmpty(plan, 'up', 'up');
      return this.#runPlan(conn, plan, 'up');
    });
  }

  /**
   * Revert applied migrations, newest (highest id) first: one by default,
   * `steps` of them, all of them (`all`), or down to `to` (which stays applied).
   */
  async down(options: { steps?: number; to?: string; all?: boolean } = {}): Promise<RunResult> {
    const chosen = [options.steps !== undefined, options.to !== undefined, options.all === true].filter(Boolean);
    if (chosen.length > 1) throw new FerryError(E_BAD_ARGUMENT, 'down: give at most one of steps, to and all.');
    if (options.steps !== undefined && (!Number.isInteger(options.steps) || options.steps < 1)) {
      throw new FerryError(E_BAD_ARGUMENT, `down: steps must be a positive integer, got ${options.steps}.`);
    }
    const files = readMigrations(this.#o.dir);
    return this.#locked(async (conn) => {
      const status = this.#computeStatus(files, await this.#readHistory(conn));
      this.#refuseProblems(status.problems, 'down');
      const newestFirst = [...status.applied].reverse();
      let targets: AppliedMigration[];
      if (options.all) {
        targets = newestFirst;
      } else if (options.to !== undefined) {
        const to = options.to;
        if (!status.applied.some((a) => a.id === to)) {
          throw new FerryError(
            E_MIGRATION_UNKNOWN,
            `down: ${to} is not applied, so it cannot be the migration to stop at` +
              ` (applied: ${status.applied.map((a) => a.id).join(', ') || 'none'}).`,
            { details: { to } },
          );
        }
        targets = newestFirst.filter((a) => a.id > to);
      } else {
        targets = newestFirst.slice(0, options.steps ?? 1);
      }
      const byId = new Map(files.map((f) => [f.id, f]));
      const plan = targets.map((a) => byId.get(a.id)!);
      const noDown = plan.filter((f) => f.down === null);
      if (noDown.length > 0) {
        throw new FerryError(
          E_MIGRATION_NO_DOWN,
          `down: cannot revert ${noDown.map((f) => path.join(f.dir, 'down.sql')).join(', ')}: no such file. ` +
            'Write the down.sql (it is not part of the checksum), or stop before this migration. Nothing was reverted.',
          { details: { ids: noDown.map((f) => f.id) } },
        );
      }
      refuseEmpty(plan, 'down', 'down');
      return this.#runPlan(conn, plan, 'down');
    });
  }

  /**
   * Record pending migrations up to `to` (default: all) as applied without
   * running them, for a database whose schema already matches them. Refuses
   * while an applied file is edited or missing; pending migrations older than
   * the newest applied one are baselined too (that is usually the point).
   */
  async baseline(options: { to?: string } = {}): Promise<RunResult> {
    const files = readMigrations(this.#o.dir);
    if (options.to !== undefined && !files.some((f) => f.id === options.to)) {
      throw new FerryError(E_MIGRATION_UNKNOWN, `baseline: there is no migration ${options.to} in ${this.#o.dir}.`, {
        details: { to: options.to },
      });
    }
    return this.#locked(async (conn) => {
      const status = this.#computeStatus(files, await this.#readHistory(conn));
      this.#refuseProblems(
        status.problems.filter((p) => p.code !== E_MIGRATION_OUT_OF_ORDER),
        'baseline',
      );
      const plan = status.pending.filter((f) => options.to === undefined || f.id <= options.to);
      if (plan.length === 0) return { results: [], ok: true };
      await sql.raw('begin').execute(conn);
      try {
        for (const f of plan) await this.#insertHistory(conn, f, 0);
        await sql.raw('commit').execute(conn);
      } catch (err) {
        await sql
          .raw('rollback')
          .execute(conn)
          .catch(() => {});
        throw err;
      }
      return {
        results: plan.map((f) => ({ id: f.id, direction: 'up' as const, status: 'baselined' as const, durationMs: 0 })),
        ok: true,
      };
    });
  }

  /**
   * Remove `id`'s row from the history without running anything: the way out
   * when a migration's folder is gone for good (every run refuses with
   * E_MIGRATION_MISSING until then). Refuses (E_MIGRATION_ON_DISK) while the
   * folder still exists, unless `force`: then reverting it, or leaving the row
   * alone, is almost always what is meant, and forgetting it would make the
   * next `up` run it again. Returns the removed row.
   */
  async forget(id: string, options: { force?: boolean } = {}): Promise<AppliedMigration> {
    const folder = path.join(this.#o.dir, id);
    if (!options.force && existsSync(folder)) {
      throw new FerryError(
        E_MIGRATION_ON_DISK,
        `forget: ${folder} still exists, so ${id} is not a lost migration; nothing was removed. ` +
          'Revert it with down, or pass force to drop its history row anyway (the next up would then run it again).',
        { details: { id, path: folder } },
      );
    }
    return this.#locked(async (conn) => {
      const { rows } = await sql<HistoryRow>`delete from ${sql.raw(this.#tableSql)} where id = ${id}
        returning id, checksum, applied_at, duration_ms, applied_by`.execute(conn);
      const row = rows[0];
      if (!row) {
        const applied = (await this.#readHistory(conn)).map((a) => a.id);
        throw new FerryError(
          E_MIGRATION_UNKNOWN,
          `forget: ${id} is not in ${this.#o.table}, so there is nothing to forget` +
            ` (applied: ${applied.join(', ') || 'none'}).`,
          { details: { id } },
        );
      }
      return toApplied(row);
    });
  }

  // ---------------------------------------------------------------- internals

  #computeStatus(files: MigrationFile[], applied: AppliedMigration[]): MigrationStatus {
    return computeStatus(files, applied, this.#o.dir, this.#o.allowOutOfOrder);
  }

  #refuseProblems(problems: MigrationProblem[], what: string): void {
    refuseProblems(problems, what, this.#o.dir, this.#o.table);
  }

  #readHistory(db: Kysely<any>): Promise<AppliedMigration[]> {
    return readHistory(db, this.#tableSql);
  }

  #insertHistory(conn: Kysely<any>, f: MigrationFile, durationMs: number) {
    return insertHistory(conn, this.#tableSql, f, durationMs, this.#o.appliedBy);
  }

  /** Take the lock on a dedicated connection, create the history table, run `fn` there, unlock. */
  #locked<T>(fn: (conn: Kysely<any>) => Promise<T>): Promise<T> {
    const lock = { key: this.#lockKey, table: this.#o.table, lockTimeoutMs: this.#o.lockTimeoutMs };
    return withLock(this.#db, lock, async (conn) => {
      await ensureTable(conn, this.#tableSql);
      return await fn(conn);
    });
  }

  #runPlan(conn: Kysely<any>, plan: MigrationFile[], direction: 'up' | 'down'): Promise<RunResult> {
    return runPlan(conn, plan, direction, { ...this.#o, tableSql: this.#tableSql });
  }
}

function defaultAppliedBy(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
  return `${user}@${os.hostname()}`;
}
