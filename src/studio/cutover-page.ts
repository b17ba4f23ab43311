/**
 * GET api/cutover: each cutover's stage, read share, journal size and
 * mismatch rate, with its recent mismatches side by side, read from the
 * tables src/cutover/tables.ts defines. Read-only: unlike the cutover's own
 * `status()`, this never creates the tables, so a database without a
 * cutover answers `available: false` and stays untouched.
 */
import { sql } from 'kysely';
import { BEHAVIOUR, isStage } from '../cutover/stages.js';
import { CONTROL_TABLE, JOURNAL_TABLE, MISMATCHES_TABLE } from '../cutover/tables.js';
import type { CutoverResponse } from './api.js';
import type { StudioContext } from './context.js';
import { existing } from './meta.js';

const RECENT = 20;

export async function cutoverPage(ctx: StudioContext): Promise<CutoverResponse> {
  const found = await existing(ctx, [CONTROL_TABLE, JOURNAL_TABLE, MISMATCHES_TABLE]);
  if (!found.has(CONTROL_TABLE)) return { available: false };
  const db = ctx.handle.db;
  const { rows } = await sql<{
    name: string;
    stage: string;
    ramp: number | null;
    comparisons: number | string;
    mismatches: number | string;
  }>`select name, stage, ramp, comparisons, mismatches from ${sql.table(CONTROL_TABLE)} order by name`.execute(db);
  const cutovers: NonNullable<CutoverResponse['cutovers']> = [];
  for (const r of rows) {
    const journal = found.has(JOURNAL_TABLE)
      ? Number(
          (
            await sql<{
              n: number | string;
            }>`select count(*) as n from ${sql.table(JOURNAL_TABLE)} where name = ${r.name} and state <> 'done'`.execute(
              db,
            )
          ).rows[0]?.n ?? 0,
        )
      : 0;
    const recent = found.has(MISMATCHES_TABLE)
      ? (
          await sql<{ key: string; old_value: unknown; new_value: unknown; at: Date }>`
            select key, old_value, new_value, at from ${sql.table(MISMATCHES_TABLE)}
            where name = ${r.name} order by id desc limit ${sql.lit(RECENT)}`.execute(db)
        ).rows
      : [];
    const comparisons = Number(r.comparisons);
    const mismatches = Number(r.mismatches);
    const readsNew = isStage(r.stage) && BEHAVIOUR[r.stage].reads === 'new';
    cutovers.push({
      name: r.name,
      stage: r.stage,
      readShare: r.ramp !== null ? r.ramp / 100 : readsNew ? 1 : 0,
      journalSize: journal,
      comparisons,
      mismatches,
      mismatchRate: comparisons === 0 ? null : mismatches / comparisons,
      recentMismatches: recent.map((m) => ({
        key: m.key,
        table: null,
        legacy: m.old_value,
        postgres: m.new_value,
        at: m.at.toISOString(),
      })),
    });
  }
  return { available: true, cutovers };
}
