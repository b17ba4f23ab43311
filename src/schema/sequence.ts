/**
 * `sequence('order_no', { as: 'integer', start: 1000, ownedBy: 'orders.no' })`:
 * a standalone sequence (`CREATE SEQUENCE`), as real dumps have them
 * (`CREATE SEQUENCE … AS integer START WITH 1 … CACHE 1` plus `ALTER SEQUENCE
 * … OWNED BY t.c`). A sequence that a serial or identity column owns is the
 * column's, not one of these.
 *
 * Numeric options are kept as decimal strings (bigint range) and are null
 * when they equal what Postgres would pick, so the DSL and introspection spell
 * equal sequences equally (`normaliseSequence`).
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { SequenceIR, SequenceOptionsIR, SequenceType } from './ir.js';

export type SequenceNumber = number | bigint | string;

export interface SequenceOptions {
  /** `AS smallint | integer | bigint`; default bigint, as in Postgres. */
  as?: SequenceType;
  start?: SequenceNumber;
  increment?: SequenceNumber;
  min?: SequenceNumber;
  max?: SequenceNumber;
  cache?: SequenceNumber;
  cycle?: boolean;
  /** `'table.column'`: the sequence is dropped with the column (`ALTER SEQUENCE … OWNED BY`). */
  ownedBy?: string;
  /** `COMMENT ON SEQUENCE`. */
  comment?: string;
}

export interface Sequence extends SequenceIR {
  readonly kind: 'sequence';
  toIR(): SequenceIR;
}

const RANGES: Record<SequenceType, [bigint, bigint]> = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
};

function toBig(value: SequenceNumber, what: string): bigint {
  try {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error('not an integer');
    return BigInt(value);
  } catch {
    throw new FerryError(E_SCHEMA, `${what} must be an integer, got ${String(value)}.`);
  }
}

/** Effective values of every option, Postgres's defaults filled in. */
export interface EffectiveSequence {
  type: SequenceType;
  start: bigint;
  increment: bigint;
  min: bigint;
  max: bigint;
  cache: bigint;
  cycle: boolean;
}

export function effectiveSequence(type: SequenceType, o: SequenceOptionsIR): EffectiveSequence {
  const [lo, hi] = RANGES[type];
  const increment = o.increment === null ? 1n : BigInt(o.increment);
  const min = o.min !== null ? BigInt(o.min) : increment > 0n ? 1n : lo;
  const max = o.max !== null ? BigInt(o.max) : increment > 0n ? hi : -1n;
  const start = o.start !== null ? BigInt(o.start) : increment > 0n ? min : max;
  return { type, start, increment, min, max, cache: o.cache === null ? 1n : BigInt(o.cache), cycle: o.cycle };
}

/** The options with every value Postgres would pick by default replaced by null. */
export function normaliseSequence(type: SequenceType, e: Omit<EffectiveSequence, 'type'>): SequenceOptionsIR {
  const [lo, hi] = RANGES[type];
  const up = e.increment > 0n;
  const min = e.min === (up ? 1n : lo) ? null : e.min.toString();
  const max = e.max === (up ? hi : -1n) ? null : e.max.toString();
  return {
    start: e.start === (up ? e.min : e.max) ? null : e.start.toString(),
    increment: e.increment === 1n ? null : e.increment.toString(),
    min,
    max,
    cache: e.cache === 1n ? null : e.cache.toString(),
    cycle: e.cycle,
  };
}

/** Options of a sequence given in the DSL, checked and normalised. */
export function sequenceOptionsIR(
  type: SequenceType,
  options: Omit<SequenceOptions, 'as' | 'ownedBy' | 'comment'>,
  what: string,
): SequenceOptionsIR {
  const num = (v: SequenceNumber | undefined, name: string) => (v === undefined ? null : toBig(v, `${what}: ${name}`));
  const given = {
    start: num(options.start, 'start'),
    increment: num(options.increment, 'increment'),
    min: num(options.min, 'min'),
    max: num(options.max, 'max'),
    cache: num(options.cache, 'cache'),
  };
  if (given.increment === 0n) throw new FerryError(E_SCHEMA, `${what}: increment must not be 0.`);
  if (given.cache !== null && given.cache < 1n) throw new FerryError(E_SCHEMA, `${what}: cache must be at least 1.`);
  const e = effectiveSequence(type, {
    start: given.start?.toString() ?? null,
    increment: given.increment?.toString() ?? null,
    min: given.min?.toString() ?? null,
    max: given.max?.toString() ?? null,
    cache: given.cache?.toString() ?? null,
    cycle: options.cycle ?? false,
  });
  const [lo, hi] = RANGES[type];
  if (e.min < lo || e.max > hi || e.min >= e.max) {
    throw new FerryError(E_SCHEMA, `${what}: min ${e.min} and max ${e.max} do not fit ${type} (or min >= max).`);
  }
  if (e.start < e.min || e.start > e.max) {
    throw new FerryError(E_SCHEMA, `${what}: start ${e.start} is outside ${e.min}..${e.max}.`);
  }
  return normaliseSequence(type, e);
}

export function sequence(name: string, options: SequenceOptions = {}): Sequence {
  assertIdentifier(name, 'Sequence');
  const type = options.as ?? 'bigint';
  if (!(type in RANGES)) throw new FerryError(E_SCHEMA, `Sequence ${name}: as must be smallint, integer or bigint.`);
  let ownedBy: SequenceIR['ownedBy'] = null;
  if (options.ownedBy !== undefined) {
    const parts = options.ownedBy.split('.');
    if (parts.length !== 2) {
      throw new FerryError(E_SCHEMA, `Sequence ${name}: ownedBy must be 'table.column', got '${options.ownedBy}'.`);
    }
    const [table, column] = parts as [string, string];
    assertIdentifier(table, `Table of sequence ${name}'s owner`);
    assertIdentifier(column, `Column of sequence ${name}'s owner`);
    ownedBy = { table, column };
  }
  const ir: SequenceIR = {
    name,
    type,
    ...sequenceOptionsIR(type, options, `Sequence ${name}`),
    ownedBy,
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
  };
  return Object.freeze({ kind: 'sequence' as const, ...ir, toIR: () => structuredClone(ir) });
}

export function isSequence(value: unknown): value is Sequence {
  return typeof value === 'object' && value !== null && (value as Partial<Sequence>).kind === 'sequence';
}

/** Code-unit order, as introspection sorts them. */
export function sortSequences(list: readonly SequenceIR[]): SequenceIR[] {
  return [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Every option spelled out, defaults included (`NO MINVALUE` for a default bound), so the statement sets exactly these. */
export function sequenceOptionsSql(type: SequenceType | null, o: SequenceOptionsIR): string {
  const parts: string[] = [];
  if (type !== null) parts.push(`AS ${type}`);
  const e = effectiveSequence(type ?? 'bigint', o);
  parts.push(`INCREMENT BY ${e.increment}`);
  parts.push(o.min === null ? 'NO MINVALUE' : `MINVALUE ${o.min}`);
  parts.push(o.max === null ? 'NO MAXVALUE' : `MAXVALUE ${o.max}`);
  parts.push(`START WITH ${e.start}`);
  parts.push(`CACHE ${e.cache}`);
  parts.push(o.cycle ? 'CYCLE' : 'NO CYCLE');
  return parts.join(' ');
}

/** Without OWNED BY: the owning table may not exist yet (see `ownSequence`). A new sequence starts at START WITH. */
export function createSequence(s: SequenceIR): string {
  return `CREATE SEQUENCE ${q(s.name)} ${sequenceOptionsSql(s.type, s)}`;
}

/** Sets the options; the current value stays (`START WITH` only records the start), so live ids never repeat. */
export function alterSequence(s: SequenceIR): string {
  return `ALTER SEQUENCE ${q(s.name)} ${sequenceOptionsSql(s.type, s)}`;
}

export function ownSequence(name: string, owner: SequenceIR['ownedBy']): string {
  return `ALTER SEQUENCE ${q(name)} OWNED BY ${owner === null ? 'NONE' : `${q(owner.table)}.${q(owner.column)}`}`;
}

export function dropSequence(s: SequenceIR): string {
  // IF EXISTS: a sequence owned by a table dropped before it went with that table.
  return `DROP SEQUENCE IF EXISTS ${q(s.name)}`;
}
