/**
 * GET api/migrations: the history table against the migrations folder
 * (checksums compared), what is pending, the linter's findings, and drift
 * computed by `ferry migrate check`'s own code (src/migrate/check.ts). The
 * drift check replays every migration in a shadow, which takes seconds, so
 * its answer is kept for a short while.
 */
import { existsSync } from 'node:fs';
import { FerryError } from '../errors.js';
import { checkDrift } from '../migrate/check.js';
import { type MigrationFile, readMigrations } from '../migrate/files.js';
import { readHistory } from '../migrate/history.js';
import { lintMigrations } from '../migrate/lint.js';
import type { MigrationsResponse } from './api.js';
import type { StudioContext } from './context.js';

const DRIFT_TTL_MS = 30_000;
const drifts = new WeakMap<StudioContext, { at: number; drift: Promise<MigrationsResponse['drift']> }>();

const nameOf = (id: string) => /^\d{14}_(.+)$/.exec(id)?.[1] ?? id;

export async function migrations(ctx: StudioContext): Promise<MigrationsResponse> {
  const dir = ctx.migrationsDir;
  const files: MigrationFile[] = dir !== null && existsSync(dir) ? readMigrations(dir) : [];
  const byId = new Map(files.map((f) => [f.id, f]));
  const history = await readHistory(ctx.handle.db, '"ferry_migrations"');
  const appliedIds = new Set(history.map((h) => h.id));
  return {
    directory: dir,
    applied: history.map((h) => {
      const file = byId.get(h.id);
      return {
        id: h.id,
        name: nameOf(h.id),
        checksum: h.checksum,
        appliedAt: h.appliedAt.toISOString(),
        checksumMatches: file ? file.checksum === h.checksum : null,
      };
    }),
    pending: files.filter((f) => !appliedIds.has(f.id)).map((f) => ({ id: f.id, name: f.name, checksum: f.checksum })),
    lint: lintMigrations(files).map((f) => ({
      migration: migrationOf(f.file, files),
      rule: f.rule,
      severity: f.severity,
      message: `${f.message} Fix: ${f.hint}`,
    })),
    drift: await drift(ctx),
  };
}

/** The migration id a finding's file belongs to. */
function migrationOf(file: string | undefined, files: MigrationFile[]): string {
  if (file === undefined) return '';
  return files.find((f) => file.startsWith(f.dir))?.id ?? file;
}

function drift(ctx: StudioContext): Promise<MigrationsResponse['drift']> {
  if (ctx.schema === null || ctx.migrationsDir === null) {
    return Promise.resolve({
      status: 'unknown',
      differences: [],
      message: 'Drift needs the schema module and the migrations folder (ferry studio reads them from ferry.config).',
    });
  }
  const hit = drifts.get(ctx);
  if (hit && performance.now() - hit.at < DRIFT_TTL_MS) return hit.drift;
  const schema = ctx.schema;
  const dir = ctx.migrationsDir;
  const result = checkDrift(ctx.handle, schema, dir).then(
    (differences): MigrationsResponse['drift'] => ({
      status: differences.length === 0 ? 'clean' : 'drift',
      differences,
    }),
    (err: unknown): MigrationsResponse['drift'] => ({
      status: 'unknown',
      differences: [],
      message: `The drift check failed: ${err instanceof FerryError ? err.message : err instanceof Error ? err.message : String(err)}`,
    }),
  );
  drifts.set(ctx, { at: performance.now(), drift: result });
  return result;
}
