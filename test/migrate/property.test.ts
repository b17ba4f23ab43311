/**
 * Property-based round trips of generated migrations, on both backends.
 *
 * A history is 1–6 steps; a step is 1–3 random schema operations (see
 * property-model.ts: tables, columns, types, nullability, defaults, indexes,
 * uniques, checks, foreign keys, renames with hints, enum values) applied to
 * a model, starting from an empty schema. For every step, on a database
 * holding some seeded rows:
 *
 *   target = normalise(shadow, nextIR); from = introspect(db)
 *   plan   = planMigrations(diffSchemas(from, target, hints), 'step')
 *   ups in order      → introspect(db) = target, diffSchemas(introspect(db), target) = [],
 *                       and the rows are what the model predicts (renames, widenings keep data)
 *   downs in reverse  → introspect(db) = from, modulo column order
 *   ups again         → introspect(db) = target, rows as predicted
 *
 * Reproducible by default: a fixed seed, printed. Override with
 * FERRY_PROPERTY_SEED, FERRY_PROPERTY_RUNS, FERRY_PROPERTY_PATH (replay a
 * shrunk case with the seed and path fast-check prints), and
 * FERRY_PROPERTY_GAPS (`all` or names from KNOWN_GAPS: generate shapes the
 * differ is known to mishandle), FERRY_PROPERTY_OPS (a comma list of
 * operation kinds, to hunt in one area).
 */
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import type { RenameHints } from '../../src/migrate/hints.js';
import { introspect } from '../../src/migrate/introspect.js';
import { type PlannedMigration, planMigrations } from '../../src/migrate/plan.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { renderCreateSql } from '../../src/schema/ddl.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { describeEachBackend } from '../support/backends.js';
import { resetPublicSchema as reset, runScript as run } from '../support/schema-reset.js';
import {
  applyOp,
  beginStep,
  describeHints,
  EXTENSION_POOL,
  emptyModel,
  expectedRows,
  gapsFromEnv,
  hintsOf,
  type Model,
  OP_KINDS,
  type Op,
  type OpKind,
  seedRows,
  selectRowsSql,
  settle,
  toIR,
} from './property-model.js';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${raw}`);
  return n;
}

const SEED = envInt('FERRY_PROPERTY_SEED', 20_261_122);
const RUNS = envInt('FERRY_PROPERTY_RUNS', 40);
const PATH = process.env.FERRY_PROPERTY_PATH?.trim() || undefined;
const ALLOW = gapsFromEnv(process.env.FERRY_PROPERTY_GAPS);
/** Generous: a failure shrinks by re-running whole histories. */
const TIMEOUT = envInt('FERRY_PROPERTY_TIMEOUT', 180_000 + RUNS * 4_000);

/** FERRY_PROPERTY_OPS=addTable,renameEnumValue,...: only these operations (to hunt in one area). */
const KINDS: OpKind[] = (() => {
  const raw = process.env.FERRY_PROPERTY_OPS?.trim();
  if (!raw) return [...OP_KINDS];
  const kinds = raw.split(',').map((k) => k.trim());
  for (const k of kinds) if (!OP_KINDS.includes(k as OpKind)) throw new Error(`FERRY_PROPERTY_OPS: unknown op ${k}`);
  return kinds as OpKind[];
})();

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom(...KINDS),
  picks: fc.array(fc.nat({ max: 9_999 }), { minLength: 12, maxLength: 12 }),
});
const historyArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 });

// ------------------------------------------------------------------ database helpers

function byColumnName(ir: SchemaIR): SchemaIR {
  return {
    ...ir,
    tables: ir.tables.map((t) => ({ ...t, columns: [...t.columns].sort((a, b) => (a.name < b.name ? -1 : 1)) })),
  };
}

/** Path and values of the first difference between two JSON values, or null when equal. */
function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (Object.is(a, b)) return null;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const named = (x: unknown) => (x && typeof x === 'object' && 'name' in x ? `(${String(x.name)})` : '');
      const d = firstDifference(a[i], b[i], `${path}[${i}]${named(a[i]) || named(b[i])}`);
      if (d) return d;
    }
    return null;
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

// ------------------------------------------------------------------ one history

class StepFailure extends Error {
  override name = 'StepFailure';
}

interface StepContext {
  index: number;
  count: number;
  labels: string[];
  earlier: string[][];
  hints: RenameHints;
  from: SchemaIR;
  target: SchemaIR | null;
  plan: PlannedMigration[];
  rows: string;
}

function failure(ctx: StepContext, what: string, cause?: unknown): StepFailure {
  const error = cause instanceof Error ? `${cause.message}` : cause === undefined ? '' : String(cause);
  const lines = [
    `step ${ctx.index + 1} of ${ctx.count}: ${what}${error ? `\n  error: ${error}` : ''}`,
    '',
    'history:',
    ...ctx.earlier.map((ops, i) => `  step ${i + 1}: ${ops.join('; ')}`),
    `  step ${ctx.index + 1} (this one): ${ctx.labels.join('; ')}`,
    `hints: ${describeHints(ctx.hints)}`,
    `rows before the step: ${ctx.rows || '(none)'}`,
    '',
    '--- from (introspected, as DDL) ---',
    renderCreateSql(ctx.from).trim() || '(empty)',
    '',
    '--- to (normalised target, as DDL) ---',
    ctx.target ? renderCreateSql(ctx.target).trim() || '(empty)' : '(not normalised)',
    '',
    '--- plan ---',
    ...ctx.plan.flatMap((m) => [
      `== ${m.name} [${m.phase}] up ==`,
      m.up.trim(),
      `== ${m.name} [${m.phase}] down ==`,
      m.down.trim(),
    ]),
  ];
  return new StepFailure(lines.join('\n'), { cause });
}

/** Counts for the summary line: what the generator actually exercised. */
const stats = { histories: 0, steps: 0, ops: new Map<string, number>(), phases: new Map<string, number>() };
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

async function checkRows(db: Kysely<any>, model: Model, ctx: StepContext, when: string) {
  for (const t of model.tables) {
    const { rows } = await sql.raw<Record<string, unknown>>(selectRowsSql(t)).execute(db);
    const actual = rows.map((r) => JSON.stringify(r)).sort();
    const expected = expectedRows(t);
    const d = firstDifference(actual, expected);
    if (d) throw failure(ctx, `${when}: rows of ${t.name} differ from the model (actual vs expected) at ${d}`);
  }
}

async function runHistory(handle: DbHandle, shadow: Shadow, history: Op[][]): Promise<void> {
  const db = handle.db;
  await reset(db);
  let model = emptyModel(ALLOW);
  const done: string[][] = [];
  stats.histories++;
  for (const [index, ops] of history.entries()) {
    // Rows first, so the operations only do what this data allows.
    for (const s of seedRows(model)) await sql.raw(s).execute(db);
    const rows = model.tables.map((t) => `${t.name}(${t.rows.length})`).join(', ');

    const next = beginStep(model);
    const labels: string[] = [];
    for (const op of ops) {
      const applied = applyOp(next, op);
      if (applied === null) continue;
      labels.push(applied.label);
      bump(stats.ops, applied.kind);
    }
    if (labels.length === 0) continue;
    stats.steps++;

    const hints = hintsOf(next);
    const from = await introspect(db);
    const ctx: StepContext = {
      index,
      count: history.length,
      labels,
      earlier: [...done],
      hints,
      from,
      target: null,
      plan: [],
      rows,
    };
    const ir = toIR(next);
    try {
      ctx.target = await normalise(shadow, ir);
    } catch (err) {
      throw failure(ctx, `GENERATOR BUG: the shadow rejected the model's schema\n${renderCreateSql(ir)}`, err);
    }
    const target = ctx.target;
    // A Postgres shadow shares the database's extensions: emptied, so one it created is not
    // what the live database's CREATE EXTENSION IF NOT EXISTS finds (see PostgresShadow).
    await shadow.reset();
    try {
      ctx.plan = planMigrations(diffSchemas(from, target, hints), 'step');
    } catch (err) {
      throw failure(ctx, 'diffSchemas/planMigrations threw', err);
    }
    for (const m of ctx.plan) bump(stats.phases, m.phase);

    const up = async (when: string) => {
      for (const m of ctx.plan) {
        try {
          await run(db, m.up, m.phase === 'concurrent');
        } catch (err) {
          throw failure(ctx, `${when}: up of ${m.name} [${m.phase}] failed`, err);
        }
      }
      const after = await introspect(db);
      const d = firstDifference(after, target);
      if (d) throw failure(ctx, `${when}: after the ups the database differs from the target (db vs target) at ${d}`);
      const again = diffSchemas(after, target);
      if (again.length > 0) {
        throw failure(ctx, `${when}: diff(db, target) is not empty: ${again.map((c) => c.description).join('; ')}`);
      }
      await checkRows(db, next, ctx, when);
    };

    await up('first up');
    for (const m of [...ctx.plan].reverse()) {
      try {
        await run(db, m.down, m.phase === 'concurrent');
      } catch (err) {
        throw failure(ctx, `down of ${m.name} [${m.phase}] failed`, err);
      }
    }
    const back = await introspect(db);
    const d = firstDifference(byColumnName(back), byColumnName(from));
    if (d) throw failure(ctx, `after the downs the database differs from the start (db vs from) at ${d}`);
    await up('second up');

    settle(next);
    model = next;
    done.push(labels);
  }
}

// ------------------------------------------------------------------ the property

describeEachBackend('property: generated migrations go up, down and up again', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  beforeAll(async () => {
    // Its own handle: on PGlite, CREATE EXTENSION finds only the bundles loaded at open.
    handle = await openDatabase({ url: t.url(), extensions: EXTENSION_POOL });
    shadow = await openShadow({ like: handle, url: t.url() });
  });
  afterAll(async () => {
    await shadow?.close();
    await handle?.close();
  });

  it(
    `random schema histories round-trip (seed ${SEED}, ${RUNS} runs)`,
    async () => {
      const started = performance.now();
      stats.histories = 0;
      stats.steps = 0;
      stats.ops.clear();
      stats.phases.clear();
      console.log(
        `[property ${t.backend}] seed=${SEED} runs=${RUNS}${PATH ? ` path=${PATH}` : ''}` +
          `${ALLOW.size ? ` gaps=${[...ALLOW].join(',')}` : ''} (FERRY_PROPERTY_SEED / _RUNS / _PATH / _GAPS to change)`,
      );
      try {
        await fc.assert(
          fc.asyncProperty(historyArb, (history) => runHistory(handle, shadow, history)),
          { seed: SEED, numRuns: RUNS, ...(PATH ? { path: PATH } : {}) },
        );
      } finally {
        const ops = [...stats.ops].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`);
        const phases = [...stats.phases].map(([k, n]) => `${k}=${n}`);
        console.log(
          `[property ${t.backend}] ${stats.histories} histories, ${stats.steps} migrated steps in ` +
            `${Math.round(performance.now() - started)} ms; ops: ${ops.join(' ')}; migrations: ${phases.join(' ')}`,
        );
      }
    },
    TIMEOUT,
  );
});
