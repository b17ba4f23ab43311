/**
 * `raw(upSql, downSql)`: SQL for what Ferry does not model (C-language
 * functions, text search configurations and parsers, operators, casts...).
 * `migrate new` runs `upSql` once, when the raw appears in the schema, and
 * `downSql` in its down migration or when it goes away; a raw whose SQL
 * changes is undone (old `down`) and done again (new `up`).
 *
 * Ferry cannot read such objects back from the catalog (except those it can
 * print: see RawIR), so each generated migration records the raws it
 * applies in a marker comment (`-- raw() applied: {...}`), and later
 * `migrate new` runs learn from those markers what is already there.
 */
import { createHash } from 'node:crypto';
import { E_SCHEMA, FerryError } from '../errors.js';
import type { RawIR, SchemaIR } from './ir.js';

export interface RawOptions {
  /** What identifies it between migrations; default derived from `up`. Rename only with care: a new name is a new raw. */
  name?: string;
  /** Run after the tables, functions and triggers are created (and undone before they go); default before them. */
  last?: boolean;
}

export interface Raw {
  readonly kind: 'raw';
  readonly name: string;
  toIR(): RawIR;
}

/** Without trailing semicolons and blank space: migrations add one after each statement. */
const tidy = (text: string) => text.replace(/[\s;]+$/, '').trim();

/**
 * SQL Ferry runs as written.
 *
 * ```ts
 * export const english = raw(
 *   "CREATE TEXT SEARCH CONFIGURATION my_english (COPY = pg_catalog.english)",
 *   'DROP TEXT SEARCH CONFIGURATION my_english',
 * );
 * ```
 */
export function raw(up: string, down: string, options: RawOptions = {}): Raw {
  if (tidy(up) === '') throw new FerryError(E_SCHEMA, 'raw(): upSql is empty.');
  if (tidy(down) === '') {
    throw new FerryError(
      E_SCHEMA,
      `raw(): downSql is empty for ${JSON.stringify(tidy(up).slice(0, 60))}; say how to undo it.`,
    );
  }
  const name = options.name ?? `raw ${createHash('sha256').update(tidy(up)).digest('hex').slice(0, 12)}`;
  const ir: RawIR = { name, up: tidy(up), down: tidy(down), ...(options.last ? { last: true as const } : {}) };
  return Object.freeze({ kind: 'raw' as const, name, toIR: () => ({ ...ir }) });
}

export function isRaw(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && (value as Partial<Raw>).kind === 'raw';
}

export const RAW_MARKER = '-- raw() applied: ';
export const UNRAW_MARKER = '-- raw() undone: ';

/**
 * `declared` with each entry introspection also reports (same name) taken
 * as introspection printed it; raw objects introspection reports under no
 * declared name are left out (a raw of another name, or hand-written SQL,
 * made them).
 */
export function resolveRaw(
  introspected: readonly RawIR[] | undefined,
  declared: readonly RawIR[] | undefined,
): RawIR[] {
  const seen = new Map((introspected ?? []).map((r) => [r.name, r]));
  return (declared ?? []).map((d) => seen.get(d.name) ?? d);
}

/** The raws the migrations' up files (in order) leave applied, from their markers. */
export function rawFromMigrations(ups: readonly string[]): RawIR[] {
  const applied = new Map<string, RawIR>();
  for (const text of ups) {
    for (const line of text.split('\n')) {
      const payload = (marker: string) => JSON.parse(line.slice(marker.length).replace(/;\s*$/, ''));
      try {
        if (line.startsWith(RAW_MARKER)) {
          const r = payload(RAW_MARKER) as RawIR;
          applied.set(r.name, r);
        } else if (line.startsWith(UNRAW_MARKER)) {
          applied.delete(payload(UNRAW_MARKER) as string);
        }
      } catch {
        // A marker edited by hand beyond parsing: ignored (the raw then reads as not applied).
      }
    }
  }
  return [...applied.values()];
}

/** `ir` with its raw entries resolved against `declared` (see `resolveRaw`); no `raw` field when none. */
export function withRaw(ir: SchemaIR, declared: readonly RawIR[] | undefined): SchemaIR {
  const { raw: introspected, ...rest } = ir;
  const raw = resolveRaw(introspected, declared);
  return raw.length > 0 ? { ...rest, raw } : rest;
}
