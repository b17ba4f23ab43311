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
 * notices a dead client within about a second).
 *
 * Each transactional migration runs as one transaction: SET LOCAL lock and
 * statement timeouts, the file's statements one by one (so a failure names
 * its statement exactly), the history row, COMMIT. Any failure rolls all of
 * it back and stops the run. A no-transaction migration runs its single
 * statement with session-level timeouts (restored afterwards), then records
 * its history row.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { type Duration, toMs } from '../duration.js';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import {
  E_MIGRATION_CHECKSUM,
  E_MIGRATION_FAILED,
  E_MIGRATION_LOCK_TIMEOUT,
  E_MIGRATION_MISSING,
  E_MIGRATION_NO_DOWN,
  E_MIGRATION_ON_DISK,
  E_MIGRATION_OUT_OF_ORDER,
  E_MIGRATION_UNKNOWN,
} from './errors.js';
import { type MigrationFile, parseSqlFile, readMigrations, refuseEmpty } from './files.js';
import { charOffsetToIndex, lineOfIndex, type SqlStatement } from './sql-split.js';

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

export interface AppliedMigration {
  id: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
}

export type MigrationProblemCode =
  | typeof E_MIGRATION_CHECKSUM
  | typeof E_MIGRATION_MISSING
  | typeof E_MIGRATION_OUT_OF_ORDER;

export interface MigrationProblem {
  code: MigrationProblemCode;
  id: string;
  message: string;
  /** The file concerned (up.sql), when there is one on disk. */
  file?: string;
  /** E_MIGRATION_CHECKSUM: the checksum recorded when it was applied. */
  appliedChecksum?: string;
  /** E_MIGRATION_CHECKSUM: the checksum of the file now. */
  fileChecksum?: string;
}

export interface MigrationStatus {
  /** Highest applied id, or null when nothing is applied. */
  current: string | null;
  /** Applied migrations, by id. */
  applied: AppliedMigration[];
  /** Migrations on disk not applied yet, by id. */
  pending: MigrationFile[];
  /** Reasons `up`/`down` would refuse to run; empty when all is well. */
  problems: MigrationProblem[];
}

export interface MigrationError {
  /** E_MIGRATION_FAILED. */
  code: typeof E_MIGRATION_FAILED;
  /** Path of the up.sql or down.sql that failed. */
  file: string;
  /** The failing statement (or COMMIT, or the history write). */
  statement: string;
  /** 1-based line in `file` (of the server's error position when it gave one, else of the statement); null when the failure is not in the file (COMMIT, history). */
  line: number | null;
  sqlstate?: string;
  /** The server's message. */
  message: string;
  /** The server's detail, when given. */
  detail?: string;
  /** The server's hint, or ours. */
  hint?: string;
}

export interface MigrationResult {
  id: string;
  direction: 'up' | 'down';
  status: 'applied' | 'reverted' | 'failed' | 'skipped' | 'baselined';
  durationMs: number;
  error?: MigrationError;
}

export interface RunResult {
  results: MigrationResult[];
  /** False when a migration failed. */
  ok: boolean;
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

interface HistoryRow {
  id: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
  applied_by: string;
}

function toApplied(r: HistoryRow): AppliedMigration {
  return {
    id: r.id,
    checksum: r.checksum,
    appliedAt: r.applied_at,
    durationMs: r.duration_ms,
    appliedBy: r.applied_by,
  };
}

/** A failure inside a migration, carried to the rollback point. */
class StepFailure {
  constructor(
    readonly cause: unknown,
    readonly statement: string,
    readonly line: number | null,
  ) {}
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
    const byId = new Map(files.map((f) => [f.id, f]));
    const appliedIds = new Set(applied.map((a) => a.id));
    const problems: MigrationProblem[] = [];
    for (const a of applied) {
      const f = byId.get(a.id);
      if (!f) {
        problems.push({
          code: E_MIGRATION_MISSING,
          id: a.id,
          message:
            `${a.id} is applied (${a.appliedAt.toISOString()}, by ${a.appliedBy}) but ${path.join(this.#o.dir, a.id)} ` +
            'does not exist. Restore the folder from version control (or revert the migration with the code that has it).',
        });
      } else if (f.checksum !== a.checksum) {
        const file = path.join(f.dir, 'up.sql');
        problems.push({
          code: E_MIGRATION_CHECKSUM,
          id: a.id,
          file,
          appliedChecksum: a.checksum,
          fileChecksum: f.checksum,
          message:
            `${file} has changed since it was applied (applied checksum ${a.checksum}, file checksum ${f.checksum}). ` +
            'Undo the edit and put the change in a new migration.',
        });
      }
    }
    const pending = files.filter((f) => !appliedIds.has(f.id));
    const current = applied.length > 0 ? applied[applied.length - 1]!.id : null;
    if (!this.#o.allowOutOfOrder && current !== null) {
      for (const f of pending) {
        if (f.id < current) {
          const file = path.join(f.dir, 'up.sql');
          problems.push({
            code: E_MIGRATION_OUT_OF_ORDER,
            id: f.id,
            file,
            message:
              `${f.id} is pending but older than the newest applied migration ${current} (merged late?). ` +
              'Rename it with a newer timestamp, or run with allowOutOfOrder if it does not depend on order.',
          });
        }
      }
    }
    return { current, applied, pending, problems };
  }

  #refuseProblems(problems: MigrationProblem[], what: string): void {
    if (problems.length === 0) return;
    const list = problems.map((p) => `  - ${p.code}: ${p.message}`).join('\n');
    throw new FerryError(
      problems[0]!.code,
      `${what}: refusing to run, ${problems.length} problem${problems.length === 1 ? '' : 's'} with the migrations ` +
        `in ${this.#o.dir} against ${this.#o.table}; nothing was run:\n${list}`,
      { details: { problems } },
    );
  }

  async #readHistory(db: Kysely<any>): Promise<AppliedMigration[]> {
    const exists = await sql<{
      present: boolean;
    }>`select to_regclass(${this.#tableSql}) is not null as present`.execute(db);
    if (!exists.rows[0]?.present) return [];
    const { rows } = await sql<HistoryRow>`
      select id, checksum, applied_at, duration_ms, applied_by
      from ${sql.raw(this.#tableSql)} order by id`.execute(db);
    return rows.map(toApplied);
  }

  async #ensureTable(conn: Kysely<any>): Promise<void> {
    // Under the lock, so concurrent first runs cannot race on the catalog.
    await sql
      .raw(
        `create table if not exists ${this.#tableSql} (
          id text primary key,
          checksum text not null,
          applied_at timestamptz not null default now(),
          duration_ms integer not null,
          applied_by text not null
        )`,
      )
      .execute(conn);
  }

  #insertHistory(conn: Kysely<any>, f: MigrationFile, durationMs: number) {
    return sql`insert into ${sql.raw(this.#tableSql)} (id, checksum, duration_ms, applied_by)
      values (${f.id}, ${f.checksum}, ${Math.round(durationMs)}, ${this.#o.appliedBy})`.execute(conn);
  }

  #deleteHistory(conn: Kysely<any>, f: MigrationFile) {
    return sql`delete from ${sql.raw(this.#tableSql)} where id = ${f.id}`.execute(conn);
  }

  /** Take the lock on a dedicated connection, create the history table, run `fn` there, unlock. */
  #locked<T>(fn: (conn: Kysely<any>) => Promise<T>): Promise<T> {
    return this.#db.connection().execute(async (conn) => {
      await this.#acquireLock(conn);
      let restoreCheck: string | null = null;
      try {
        restoreCheck = await watchClient(conn);
        await this.#ensureTable(conn);
        return await fn(conn);
      } finally {
        // The session may be dead (then the server has dropped the lock already): never mask the real outcome.
        if (restoreCheck !== null) {
          await sql`select set_config('client_connection_check_interval', ${restoreCheck}, false)`
            .execute(conn)
            .catch(() => {});
        }
        await sql`select pg_advisory_unlock(${String(this.#lockKey)}::bigint)`.execute(conn).catch(() => {});
      }
    });
  }

  async #acquireLock(conn: Kysely<any>): Promise<void> {
    const key = String(this.#lockKey);
    const started = Date.now();
    const deadline = started + this.#o.lockTimeoutMs;
    for (;;) {
      // Autocommit, non-blocking: no transaction stays open while we wait.
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(
        conn,
      );
      if (rows[0]?.locked) return;
      const now = Date.now();
      if (now >= deadline) break;
      const pause = Math.min(100 + Math.random() * 150, deadline - now);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    const holder = await this.#lockHolder(conn).catch(() => null);
    const who = holder
      ? ` It is held by server process ${holder.pid}` +
        (holder.application_name ? ` (application_name ${holder.application_name})` : '') +
        (holder.client_addr ? ` from ${holder.client_addr}` : '') +
        (holder.backend_start ? `, connected since ${new Date(holder.backend_start).toISOString()}` : '') +
        '.'
      : '';
    throw new FerryError(
      E_MIGRATION_LOCK_TIMEOUT,
      `Another migration run held the lock on ${this.#o.table} for more than ${this.#o.lockTimeoutMs} ms; nothing was run.` +
        `${who} Wait for it to finish, or raise lockTimeoutMs.`,
      {
        details: { table: this.#o.table, lockKey: key, waitedMs: Date.now() - started, holderPid: holder?.pid ?? null },
      },
    );
  }

  async #lockHolder(conn: Kysely<any>): Promise<{
    pid: number;
    application_name: string | null;
    client_addr: string | null;
    backend_start: Date | null;
  } | null> {
    const k = BigInt.asUintN(64, this.#lockKey);
    const hi = String(k >> 32n);
    const lo = String(k & 0xffffffffn);
    const { rows } = await sql<{
      pid: number;
      application_name: string | null;
      client_addr: string | null;
      backend_start: Date | null;
    }>`select l.pid, a.application_name, a.client_addr::text as client_addr, a.backend_start
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
       where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
         and l.classid = ${hi}::bigint::oid and l.objid = ${lo}::bigint::oid and l.objsubid = 1
       limit 1`.execute(conn);
    return rows[0] ?? null;
  }

  async #runPlan(conn: Kysely<any>, plan: MigrationFile[], direction: 'up' | 'down'): Promise<RunResult> {
    const results: MigrationResult[] = [];
    let failed = false;
    for (const f of plan) {
      if (failed) {
        results.push({ id: f.id, direction, status: 'skipped', durationMs: 0 });
        continue;
      }
      const result = await this.#runOne(conn, f, direction);
      results.push(result);
      if (result.status === 'failed') failed = true;
    }
    return { results, ok: !failed };
  }

  async #runOne(conn: Kysely<any>, f: MigrationFile, direction: 'up' | 'down'): Promise<MigrationResult> {
    const file = path.join(f.dir, direction === 'up' ? 'up.sql' : 'down.sql');
    const text = direction === 'up' ? f.up : f.down!;
    // Parsed again (cheap) for the statements; readMigrations already validated it.
    const { statements, noTransaction } = parseSqlFile(file, text);
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const record = async () => {
      if (direction === 'up') await this.#insertHistory(conn, f, elapsed());
      else await this.#deleteHistory(conn, f);
    };
    const done = (): MigrationResult => ({
      id: f.id,
      direction,
      status: direction === 'up' ? 'applied' : 'reverted',
      durationMs: Math.round(elapsed()),
    });
    const failedResult = (failure: StepFailure): MigrationResult => ({
      id: f.id,
      direction,
      status: 'failed',
      durationMs: Math.round(elapsed()),
      error: describeFailure(failure, file, noTransaction),
    });

    if (noTransaction) {
      let saved: { lt: string; st: string } | undefined;
      try {
        const { rows } = await sql<{ lt: string; st: string }>`
          select current_setting('lock_timeout') as lt, current_setting('statement_timeout') as st`.execute(conn);
        saved = rows[0];
        await sql.raw(this.#timeoutSql(false)).execute(conn);
        const stmt = statements[0]!;
        await runStatement(conn, stmt);
      } catch (err) {
        return failedResult(toFailure(err));
      } finally {
        if (saved) {
          await sql`select set_config('lock_timeout', ${saved.lt}, false), set_config('statement_timeout', ${saved.st}, false)`
            .execute(conn)
            .catch(() => {});
        }
      }
      try {
        await record();
      } catch (err) {
        return failedResult(
          new StepFailure(err, `(recording ${f.id} in ${this.#o.table}; the statement itself did run)`, null),
        );
      }
      return done();
    }

    try {
      await sql.raw('begin').execute(conn);
    } catch (err) {
      return failedResult(new StepFailure(err, 'BEGIN', null));
    }
    try {
      await sql.raw(this.#timeoutSql(true)).execute(conn);
      for (const stmt of statements) await runStatement(conn, stmt);
      try {
        await record();
      } catch (err) {
        throw new StepFailure(err, `(recording ${f.id} in ${this.#o.table})`, null);
      }
      try {
        await sql.raw('commit').execute(conn);
      } catch (err) {
        throw new StepFailure(err, 'COMMIT', null);
      }
      return done();
    } catch (err) {
      await sql
        .raw('rollback')
        .execute(conn)
        .catch(() => {});
      return failedResult(toFailure(err));
    }
  }

  #timeoutSql(local: boolean): string {
    const scope = local ? 'set local' : 'set';
    return (
      `${scope} lock_timeout = ${this.#o.statementLockTimeoutMs}; ` +
      `${scope} statement_timeout = ${this.#o.statementTimeoutMs}`
    );
  }
}

async function runStatement(conn: Kysely<any>, stmt: SqlStatement): Promise<void> {
  try {
    await sql.raw(stmt.text).execute(conn);
  } catch (err) {
    const pos = Number((err as { position?: unknown })?.position);
    let line = stmt.line;
    if (Number.isInteger(pos) && pos >= 1) {
      const index = charOffsetToIndex(stmt.text, pos - 1);
      line = stmt.line + lineOfIndex(stmt.text, index) - 1;
    }
    throw new StepFailure(err, stmt.text, line);
  }
}

function toFailure(err: unknown): StepFailure {
  return err instanceof StepFailure ? err : new StepFailure(err, '(setting up the migration)', null);
}

function describeFailure(failure: StepFailure, file: string, noTransaction: boolean): MigrationError {
  const e = failure.cause as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown } | undefined;
  const sqlstate = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const error: MigrationError = {
    code: E_MIGRATION_FAILED,
    file,
    statement: failure.statement,
    line: failure.line,
    message: typeof e?.message === 'string' ? e.message : String(failure.cause),
  };
  if (sqlstate) error.sqlstate = sqlstate;
  if (typeof e?.detail === 'string' && e.detail) error.detail = e.detail;
  let hint = typeof e?.hint === 'string' && e.hint ? e.hint : undefined;
  if (sqlstate === '25001' && !noTransaction) {
    hint = `This statement cannot run in a transaction: put it alone in a migration whose first line is "-- ferry:no-transaction".`;
  } else if (sqlstate === '55P03') {
    hint =
      'A lock could not be taken within statementLockTimeoutMs; something holds a conflicting lock. Retry, or raise the option.';
  } else if (sqlstate === '57014') {
    hint ??= 'Canceled, probably by statementTimeoutMs; raise it for slow migrations.';
  }
  if (noTransaction) {
    const partial =
      'The migration ran without a transaction, so check for partial effects (e.g. an INVALID index left by CREATE INDEX CONCURRENTLY: drop it before retrying).';
    hint = hint ? `${hint} ${partial}` : partial;
  }
  if (hint) error.hint = hint;
  return error;
}

/**
 * PostgreSQL 14+: have the backend check every second that we are still
 * connected while a long statement runs, so a killed runner's lock is freed
 * within about a second instead of when the statement ends. Returns the value
 * to restore, or null when the server lacks the setting (or the platform
 * refuses it).
 */
async function watchClient(conn: Kysely<any>): Promise<string | null> {
  try {
    const { rows } = await sql<{ v: string | null }>`
      select current_setting('client_connection_check_interval', true) as v`.execute(conn);
    const previous = rows[0]?.v;
    if (previous === null || previous === undefined) return null;
    await sql`select set_config('client_connection_check_interval', '1000', false)`.execute(conn);
    return previous;
  } catch {
    return null;
  }
}

/** A stable signed 64-bit key from the table name (same for every process and version of Ferry). */
export function lockKeyFor(table: string): bigint {
  const digest = createHash('sha256').update(`ferry:migrate:${table}`).digest();
  return digest.readBigInt64BE(0);
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
