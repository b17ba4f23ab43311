/**
 * Gauges that cost a query each: database and table sizes, migration state,
 * active sessions. They are refreshed on an interval (default 60 s), never
 * per scrape: a Prometheus scraping every 5 s must not add a catalog scan
 * every 5 s, and on PGlite every query holds the only connection.
 *
 * Between samples the gauges keep their last values. Before the first one
 * the unlabelled gauges read 0 (prom-client always exports them) and the
 * labelled ones are absent; `metrics_last_sample_timestamp_seconds` is 0
 * until a sample succeeded. `sample()` refreshes now (tests, or an app that wants
 * fresh numbers at start).
 */
import { type Kysely, sql } from 'kysely';
import { Migrator } from '../migrate/runner.js';
import type { Prom } from './metrics-registry.js';

export interface MigrationsToWatch {
  /** The migrations directory (as for `ferry migrate`). */
  dir: string;
  /** History table (default 'ferry_migrations'). */
  table?: string;
}

export interface SamplerOptions {
  /** Report migration state (applied, pending, drift) for this directory. */
  migrations?: MigrationsToWatch;
  /** Count active sessions in this table (a `sessionTables()` sessions table); skipped while it does not exist. */
  sessionsTable?: string;
  /** A sample failed (the gauges keep their last values). */
  onError?: (err: unknown) => void;
}

export interface Sampler {
  /** Refresh every sampled gauge now; resolves when done (never rejects: failures are counted). */
  sample(): Promise<void>;
  /** No more samples: one in flight stops before its next query. */
  stop(): void;
}

interface TableSize {
  schema: string;
  name: string;
  bytes: number | bigint | string;
}

/**
 * Every ordinary and partitioned table outside the system schemas.
 *   select n.nspname, c.relname, pg_total_relation_size(c.oid) ... where c.relkind in ('r', 'p')
 * Total relation size: heap, indexes and TOAST, what the table costs on disk.
 */
const TABLE_SIZES = sql<TableSize>`
  select n.nspname as schema, c.relname as name, pg_total_relation_size(c.oid) as bytes
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;

export function createSampler(prom: Prom, db: Kysely<any>, options: SamplerOptions): Sampler {
  const dbSize = prom.gauge({
    name: 'db_size_bytes',
    help: 'Size of the current database on disk (pg_database_size), sampled every sampleInterval.',
  });
  const tableSize = prom.gauge({
    name: 'db_table_size_bytes',
    help: 'Size of each table with its indexes and TOAST (pg_total_relation_size), sampled; table is schema-qualified outside public.',
    labelNames: ['table'],
  });
  const migration = options.migrations
    ? {
        migrator: new Migrator(db, { dir: options.migrations.dir, table: options.migrations.table }),
        applied: prom.gauge({ name: 'migrations_applied', help: 'Migrations applied to the database, sampled.' }),
        pending: prom.gauge({
          name: 'migrations_pending',
          help: 'Migrations in the migrations directory not applied yet, sampled.',
        }),
        drift: prom.gauge({
          name: 'migrations_drift',
          help: 'Problems that make `ferry migrate` refuse to run (checksum changed, applied file missing, out of order), by code; sampled.',
          labelNames: ['code'],
        }),
      }
    : undefined;
  const activeSessions =
    options.sessionsTable !== undefined
      ? prom.gauge({
          name: 'sessions_active',
          help: `Sessions in ${options.sessionsTable} neither revoked nor expired, sampled.`,
        })
      : undefined;
  const lastSample = prom.gauge({
    name: 'metrics_last_sample_timestamp_seconds',
    help: 'When the sampled gauges (sizes, migrations, sessions) were last refreshed, in Unix seconds.',
  });
  const sampleErrors = prom.counter({
    name: 'metrics_sample_errors_total',
    help: 'Samples of the sampled gauges that failed (they keep their previous values).',
  });
  sampleErrors.inc(0);

  async function sampleSizes(): Promise<void> {
    const { rows } = await sql<{
      bytes: number | bigint | string;
    }>`select pg_database_size(current_database()) as bytes`.execute(db);
    dbSize.set(Number(rows[0]?.bytes ?? 0));
    const tables = await TABLE_SIZES.execute(db);
    // Tables dropped since the last sample must disappear, not keep their old size.
    tableSize.reset();
    for (const t of tables.rows) {
      tableSize.set({ table: t.schema === 'public' ? t.name : `${t.schema}.${t.name}` }, Number(t.bytes));
    }
  }

  async function sampleMigrations(): Promise<void> {
    if (!migration) return;
    const status = await migration.migrator.status();
    migration.applied.set(status.applied.length);
    migration.pending.set(status.pending.length);
    migration.drift.reset();
    for (const code of ['E_MIGRATION_CHECKSUM', 'E_MIGRATION_MISSING', 'E_MIGRATION_OUT_OF_ORDER']) {
      migration.drift.set({ code }, status.problems.filter((p) => p.code === code).length);
    }
  }

  async function sampleSessions(): Promise<void> {
    if (!activeSessions || options.sessionsTable === undefined) return;
    const name = options.sessionsTable;
    const { rows } = await sql<{ present: boolean }>`select to_regclass(${name}) is not null as present`.execute(db);
    if (!rows[0]?.present) return;
    const count = await sql<{ n: number | bigint | string }>`
      select count(*) as n from ${sql.table(name)} where not revoked and expires_at > now()`.execute(db);
    activeSessions.set(Number(count.rows[0]?.n ?? 0));
  }

  let running: Promise<void> | undefined;
  let stopped = false;
  return {
    stop() {
      stopped = true;
    },
    sample() {
      if (stopped) return Promise.resolve();
      // One sample at a time: a slow database must not pile them up.
      running ??= (async () => {
        try {
          for (const step of [sampleSizes, sampleMigrations, sampleSessions]) {
            if (stopped) return;
            await step();
          }
          lastSample.set(Date.now() / 1000);
        } catch (err) {
          sampleErrors.inc();
          options.onError?.(err);
        } finally {
          running = undefined;
        }
      })();
      return running;
    },
  };
}
