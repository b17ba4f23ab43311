import path from 'node:path';
import { E_QUERY, FerryError } from '../errors.js';
import { DISTRIBUTION_MARKER, distributionFromMigrations, withDistribution } from '../schema/citus.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { SchemaIR } from '../schema/ir.js';
import { rawFromMigrations, withRaw } from '../schema/raw.js';
import type { Schema } from '../schema/schema.js';
import { type Change, diffSchemas } from './diff.js';
import { E_MIGRATION_LINT } from './errors.js';
import {
  checksumOf,
  EMPTY_DIRECTIVE,
  type MigrationFile,
  migrationId,
  parseSqlFile,
  readMigrations,
  writeMigration,
} from './files.js';
import { renameHints } from './hints.js';
import { type CitusFinding, lintCitus } from './lint/citus.js';
import { type LintFinding, lintMigrations } from './lint.js';
import { type PlannedMigration, planMigrations } from './plan.js';
import { fixedPoint, normalise, type Shadow } from './shadow.js';
import { splitStatements } from './sql-split.js';

/** The schema the migrations in `dir` (all, or up to and including `upTo`) produce, replayed into the shadow. */
export async function replayMigrations(shadow: Shadow, dir: string, upTo?: string): Promise<SchemaIR> {
  await shadow.reset();
  for (const m of readMigrations(dir)) {
    await shadow.apply([m.up]);
    if (m.id === upTo) break;
  }
  return shadow.introspect();
}

export interface Pending {
  /**
   * Migrations as they stand on disk, replayed: what a database those
   * migrations ran on reports (compare it with `introspect()` of one).
   */
  current: SchemaIR;
  /** The DSL, as Postgres reports it (normalised to a fixed point). */
  target: SchemaIR;
  /** From `current` to `target`, both normalised to a fixed point. */
  changes: Change[];
}

/**
 * What the DSL has that the migrations do not: both sides go through the same
 * shadow database, so defaults and expressions are spelled by Postgres alike,
 * and both are taken to a fixed point (see shadow.ts `fixedPoint`): a
 * migration holds the text the DSL normalised to, and Postgres may print that
 * text, parsed again, differently.
 */
export async function pendingChanges(shadow: Shadow, schema: Schema, dir: string): Promise<Pending> {
  const current = await replayMigrations(shadow, dir);
  // What raw() SQL the migrations applied, and which tables they distributed (Citus), from their markers.
  const ups = readMigrations(dir).map((m) => m.up);
  const applied = rawFromMigrations(ups);
  const from = await settled(shadow, withDistribution(withRaw(current, applied), distributionFromMigrations(ups)));
  const target = await normalise(shadow, schema.toIR());
  return { current, target, changes: diffSchemas(from, target, renameHints(schema)) };
}

/**
 * `current` at its fixed point. Re-creating it from its IR alone fails when
 * it depends on what the IR does not carry (a function or extension a
 * migration created, gone after the shadow's reset): then it is compared as
 * replayed, as it always was.
 */
async function settled(shadow: Shadow, current: SchemaIR): Promise<SchemaIR> {
  try {
    return await fixedPoint(shadow, current);
  } catch (err) {
    if (err instanceof FerryError && err.code === E_QUERY) return current;
    throw err;
  }
}

export interface GenerateResult {
  changes: Change[];
  planned: PlannedMigration[];
  written: MigrationFile[];
  /** What the linter says about the written up.sql files (warnings; errors too with `force`). */
  lint: LintFinding[];
}

/**
 * The blank templates of `--empty`. They hold comments only and deliberately
 * no `-- ferry:empty`: the runner refuses an empty file (files.ts
 * `refuseEmpty`), so a template nobody filled in cannot be recorded as
 * applied, after which its checksum would forbid filling it in. The comment
 * says how to get past the refusal when doing nothing really is intended.
 */
const EMPTY_UP =
  '-- Write the change here (a data migration, say).\n' +
  '-- ferry migrate up refuses this file while it holds no SQL; if the migration is meant to do\n' +
  `-- nothing, add a line that says only: ${EMPTY_DIRECTIVE}\n`;
const EMPTY_DOWN =
  '-- Write how to undo it here.\n' +
  '-- ferry migrate down refuses this file while it holds no SQL; if undoing needs nothing,\n' +
  `-- add a line that says only: ${EMPTY_DIRECTIVE}\n`;

/**
 * `ferry migrate new`: write the migrations (up and down) that bring the
 * migrations folder level with the DSL, or blank files with `empty`.
 * Writes nothing when there is nothing to do.
 *
 * The up.sql files are linted (in the context of every earlier migration)
 * before anything is written: when the linter reports an error, e.g. a NOT
 * NULL column without a default on a table an earlier migration created, it
 * throws E_MIGRATION_LINT and writes nothing, unless `force`.
 */
export async function generateMigration(options: {
  shadow: Shadow;
  schema: Schema;
  dir: string;
  name: string;
  empty?: boolean;
  force?: boolean;
  now?: Date;
}): Promise<GenerateResult> {
  const now = options.now ?? new Date();
  if (options.empty) {
    const written = writeMigration(options.dir, { name: options.name, up: EMPTY_UP, down: EMPTY_DOWN, now });
    return { changes: [], planned: [], written: [written], lint: [] };
  }
  const { changes, target } = await pendingChanges(options.shadow, options.schema, options.dir);
  const planned = planMigrations(changes, options.name);
  // One second apart, so the folders sort in the order they must run.
  const at = (i: number) => new Date(now.getTime() + i * 1000);
  const drafts = draftsOf(options.dir, planned, at);
  const lint = [...lintPlanned(options.dir, drafts), ...placeCitusFindings(lintCitus(target), drafts)];
  const errors = lint.filter((f) => f.severity === 'error');
  if (errors.length > 0 && !options.force) {
    throw new FerryError(
      E_MIGRATION_LINT,
      `migrate new: the migration for ${changes.length} change${changes.length === 1 ? '' : 's'} would not run safely; ` +
        `the linter reports ${errors.length} error${errors.length === 1 ? '' : 's'}:\n` +
        errors.map((f) => `  - ${f.rule} ${f.file}:${f.line}: ${f.message}\n    fix: ${f.hint}`).join('\n') +
        '\nNothing was written. Change the schema (a DEFAULT for a NOT NULL column, say), or write the steps by hand ' +
        'with --empty, or pass --force (force: true) to write it anyway.',
      {
        details: {
          findings: lint,
          changes: changes.map((c) => ({
            phase: c.phase,
            description: c.description,
            destructive: c.destructive,
            warning: c.warning ?? null,
          })),
        },
      },
    );
  }
  const written = planned.map((m, i) =>
    writeMigration(options.dir, { name: m.name, up: m.up, down: m.down, now: at(i) }),
  );
  return { changes, planned, written, lint };
}

/** The migration files `planned` would write. */
function draftsOf(dir: string, planned: PlannedMigration[], at: (i: number) => Date): MigrationFile[] {
  const root = path.resolve(dir);
  return planned.map((m, i) => {
    const id = migrationId(m.name, at(i));
    const folder = path.join(root, id);
    const up = parseSqlFile(path.join(folder, 'up.sql'), m.up);
    return {
      id,
      timestamp: id.slice(0, 14),
      name: id.slice(15),
      dir: folder,
      up: up.text,
      down: m.down,
      upNoTransaction: up.noTransaction,
      downNoTransaction: false,
      checksum: checksumOf(up.text),
    };
  });
}

/** Lint the up.sql files of `drafts`, after every migration already in `dir`. */
function lintPlanned(dir: string, drafts: MigrationFile[]): LintFinding[] {
  const files = new Set(drafts.map((d) => path.join(d.dir, 'up.sql')));
  return lintMigrations([...readMigrations(dir), ...drafts]).filter((f) => f.file !== undefined && files.has(f.file));
}

/**
 * The Citus findings on the target schema (lint/citus.ts) placed at the line
 * of the new migration that adds the offending key, foreign key or
 * distribution; a finding none of them touches was there before this
 * migration and is left out, as the SQL rules leave earlier files alone.
 */
function placeCitusFindings(findings: CitusFinding[], drafts: MigrationFile[]): LintFinding[] {
  const out: LintFinding[] = [];
  for (const f of findings) {
    const at = locate(f.anchors, drafts);
    if (!at) continue;
    const { anchors: _, table: __, ...rest } = f;
    out.push({ ...rest, file: at.file, line: at.line, statement: at.statement });
  }
  return out;
}

function locate(anchors: string[], drafts: MigrationFile[]): { file: string; line: number; statement: string } | null {
  for (const anchor of anchors) {
    const isMarker = anchor.startsWith('"table":');
    const name = new RegExp(`\\b(?:CONSTRAINT|INDEX)(?: CONCURRENTLY)? ${escapeRegExp(quoteIdent(anchor))}(?:\\s|$)`);
    for (const d of drafts) {
      const lines = d.up.split('\n');
      const i = lines.findIndex((l) =>
        isMarker ? l.startsWith(DISTRIBUTION_MARKER) && l.includes(`{${anchor},`) : name.test(l),
      );
      if (i < 0) continue;
      const line = i + 1;
      const statements = splitStatements(d.up);
      const s =
        statements.find((x) => x.line <= line && line <= x.line + x.text.split('\n').length - 1) ??
        statements.find((x) => x.line > line);
      return { file: path.join(d.dir, 'up.sql'), line, statement: s?.text ?? lines[i]! };
    }
  }
  return null;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
