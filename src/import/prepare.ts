/**
 * Source records → mapped, checked, de-duplicated rows, grouped per table and
 * column set as COPY CSV lines. Shared by the importer and `verify`, so both
 * see exactly the same rows.
 */
import { hash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { maskRecord, sensitiveColumns, sensitiveValues } from '../schema/sensitive.js';
import { type EmittedRow, ImportContext, RecordRejected } from './context.js';
import { CopyLines } from './copy-lines.js';
import type { DefinedImport } from './define.js';
import { checkRow, type FieldEncoder, fieldEncoders, type RowProblem } from './encode.js';
import { E_IMPORT_DEFINITION } from './errors.js';
import type { KeySet } from './key-set.js';
import { type NamedRecord, type NamedSource, readRecords, type SourceFault } from './records.js';
import { RowOrigins } from './row-origins.js';
import type { RejectRow } from './state.js';
import type { Target } from './targets.js';

export interface PrepareOptions {
  definition: DefinedImport;
  sources: NamedSource[];
  signal?: AbortSignal;
  /** `--partial`: a source that cannot be read to its end is noted here and ends there, instead of failing the run. */
  faults?: SourceFault[];
}

export interface Group {
  columns: string[];
  lines: CopyLines;
  /** Where each row came from. (Not the source record: holding every record of a batch until it commits cost ~25 MB of peak RSS on council.) */
  meta: RowOrigins;
}

/** The group with only the rows `keep` says yes to (by index), in order. */
export function keepRows(group: Group, keep: (index: number) => boolean): Group {
  return { columns: group.columns, lines: group.lines.filter(keep), meta: group.meta.filter(keep) };
}

export interface Batch {
  /** Records consumed through this batch (the checkpoint position after it). */
  position: number;
  records: number;
  groups: Map<Target, Map<string, Group>>;
  rejects: RejectRow[];
  duplicates: Map<string, number>;
  /** Size of the CSV lines so far (UTF-8 bytes). */
  bytes: number;
  /** Source bytes read through this batch (0 when the sources do not report it). */
  sourceBytes: number;
}

export async function* prepareBatches(
  o: PrepareOptions,
  targets: Target[],
  keySets: Map<string, KeySet>,
  resumeFrom: number,
  batchSize: number,
): AsyncGenerator<Batch> {
  const byName = new Map(targets.map((t) => [t.name, t]));
  const sensitive = new Set(targets.flatMap((t) => [...sensitiveColumns(t.table)]));
  const last = targets.some((t) => t.duplicates === 'last') ? await lastOccurrences(o, byName) : null;
  let batch = newBatch(0);
  const recent: RecentGroups = new Map();
  let ordinal = 0;
  let slice = performance.now();
  for await (const chunk of readRecords(o.sources, o.signal, o.faults)) {
    for (const rec of chunk) {
      // Let I/O callbacks run now and then: the writer's database round trips
      // complete only when this loop gives the event loop a turn.
      if (performance.now() - slice > SLICE_MS) {
        await yieldToIo();
        slice = performance.now();
      }
      const replay = ordinal < resumeFrom;
      let mapped = mapRecord(o, rec, ordinal);
      if (mapped instanceof Promise) mapped = await mapped;
      prepareRecord(rec, ordinal, byName, sensitive, keySets, last, replay ? null : batch, mapped, recent);
      ordinal++;
      if (!replay) {
        batch.records++;
        batch.position = ordinal;
        batch.sourceBytes = rec.bytes;
        if (batch.records >= batchSize || batch.bytes >= BATCH_BYTES) {
          yield batch;
          batch = newBatch(ordinal);
          recent.clear();
        }
      }
    }
  }
  if (batch.records > 0) yield batch;
}

/**
 * Start preparing the next batch now (mapping runs while the previous batch
 * is in the database); mark its failure handled until it is awaited.
 */
export function prefetch(batches: AsyncGenerator<Batch>): Promise<IteratorResult<Batch>> {
  const next = batches.next();
  next.catch(() => {});
  return next;
}

/**
 * A batch also ends once its CSV reaches this size: records that map to many
 * wide rows (a conversation file with its messages) would otherwise hold
 * hundreds of MB per batch, and two batches are in memory at once.
 */
const BATCH_BYTES = 4 * 1024 * 1024;

/** How long preparation may hold the event loop before letting pending I/O run. */
const SLICE_MS = 1;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

export function newBatch(position: number): Batch {
  return { position, records: 0, groups: new Map(), rejects: [], duplicates: new Map(), bytes: 0, sourceBytes: 0 };
}

type Mapped =
  | { ok: true; rows: { table: string; row: Record<string, unknown> }[] }
  | { ok: false; reject: RecordRejected; headed?: string };

/** Map one record; a promise only when map() returned one. */
function mapRecord(o: PrepareOptions, rec: NamedRecord, ordinal: number): Mapped | null | Promise<Mapped> {
  if (rec.record.kind === 'error') return null;
  const ctx = new ImportContext(rec.record.loc, rec.name, ordinal);
  let out: unknown;
  try {
    out = o.definition.map(rec.record.value, ctx as never);
  } catch (err) {
    return mapFailed(err, ctx);
  }
  if (typeof (out as PromiseLike<unknown> | null)?.then === 'function')
    return settled(out as PromiseLike<unknown>, ctx);
  return mappedRows(ctx, out);
}

/** What an async map() gave, awaited once (not through `.then` closures of ours per record). */
async function settled(out: PromiseLike<unknown>, ctx: ImportContext): Promise<Mapped> {
  try {
    return mappedRows(ctx, await out);
  } catch (err) {
    return mapFailed(err, ctx);
  }
}

function mappedRows(ctx: ImportContext, out: unknown): Mapped {
  const rows = ctx.emitted;
  if (out && typeof out === 'object') {
    for (const table of Object.keys(out)) {
      const value = (out as Record<string, unknown>)[table];
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) for (const row of value) rows.push({ table, row: row as Record<string, unknown> });
      else rows.push({ table, row: value as Record<string, unknown> });
    }
  }
  return { ok: true, rows };
}

function mapFailed(err: unknown, ctx: ImportContext): Mapped {
  // The first table the record had emitted to before it was rejected, if any.
  const headed = ctx.emitted[0]?.table;
  if (err instanceof RecordRejected) return { ok: false, reject: err, headed };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { ok: false, reject: new RecordRejected(`map() failed: ${message}`), headed };
}

/**
 * The table a rejected record was headed for, so the summary counts it there
 * (a `ctx.timestamp` reject belongs to no row): the table the reject names,
 * else the source's table (TinyDB, lowdb, SQLite) when it is a target, else
 * the first table the record emitted to before it failed, else the only
 * target. null: counted in the "not mapped" row.
 */
function headedFor(
  byName: Map<string, Target>,
  loc: { table?: string },
  named: string | undefined,
  emitted: string | undefined,
): string | null {
  if (named !== undefined) return named;
  if (loc.table !== undefined && byName.has(loc.table)) return loc.table;
  if (emitted !== undefined && byName.has(emitted)) return emitted;
  if (byName.size === 1) return byName.keys().next().value as string;
  return null;
}

/**
 * Per target, the last few groups of this batch that rows went to: the next
 * row nearly always has the columns of one of them (council alternates a
 * user message's 5 columns with an answer's 9).
 */
type RecentGroups = Map<Target, Slot[]>;
type Slot = { group: Group; encoders: FieldEncoder[] };
const RECENT_GROUPS = 4;

function prepareRecord(
  rec: NamedRecord,
  ordinal: number,
  byName: Map<string, Target>,
  sensitive: ReadonlySet<string>,
  keySets: Map<string, KeySet>,
  last: LastOccurrences | null,
  batch: Batch | null,
  mapped: Mapped | null,
  recent: RecentGroups,
): void {
  const loc = { ...rec.record.loc } as Record<string, unknown>;
  // Made on the first rejected row (a closure per record cost more: tsx names each one).
  let rejects: Rejects | undefined;
  if (rec.record.kind === 'error') {
    if (batch)
      new Rejects(rec, ordinal, loc, byName, sensitive, mapped).record(
        batch,
        rec.record.reason,
        headedFor(byName, rec.record.loc, undefined, undefined),
      );
    return;
  }
  if (!mapped) return;
  if (!mapped.ok) {
    if (!batch) return;
    const r = mapped.reject;
    new Rejects(rec, ordinal, loc, byName, sensitive, mapped).record(
      batch,
      r.message,
      headedFor(byName, rec.record.loc, r.table, mapped.headed),
      r.column ?? null,
    );
    return;
  }

  // Check every row first: a rejected row takes its children from the same record with it.
  // (Indexed loops and no per-record closures: this runs for every row of an import.)
  const rows = mapped.rows;
  let rejectedTables: Set<string> | undefined;
  let problems: (RowProblem | null)[] | undefined;
  for (let rowIndex = 0; rowIndex < rows.length; rowIndex++) {
    const { table, row } = rows[rowIndex] as EmittedRow;
    const target = byName.get(table);
    if (!target) {
      throw new FerryError(
        E_IMPORT_DEFINITION,
        `map() returned rows for table "${table}", which is not listed in the import's \`tables\` ` +
          `(listed: ${[...byName.keys()].join(', ')}). Add it with its key.`,
      );
    }
    const problem = checkRow(target, row);
    if (problem) {
      rejectedTables ??= new Set();
      rejectedTables.add(table);
      problems ??= new Array(rows.length).fill(null);
      problems[rowIndex] = problem;
    }
  }
  for (let rowIndex = 0; rowIndex < rows.length; rowIndex++) {
    const { table, row } = rows[rowIndex] as EmittedRow;
    const target = byName.get(table) as Target;
    const problem = problems?.[rowIndex] ?? null;
    const parent = problem || !rejectedTables ? undefined : firstOf(target.parents, rejectedTables);
    if (problem || parent) {
      if (!batch) continue;
      rejects ??= new Rejects(rec, ordinal, loc, byName, sensitive, mapped);
      rejects.row(
        batch,
        rowIndex,
        table,
        problem?.column ?? null,
        problem ? problem.reason : `its ${parent} row in the same record was rejected`,
      );
      continue;
    }
    // Fields are quoted and escaped: joined like a CSV line, two keys never collide.
    const key = keyText(target, row);
    const lastOf = target.duplicates === 'last' ? last?.get(table) : undefined;
    const duplicate = lastOf
      ? lastOf.get(fingerprint(key)) !== occurrence(ordinal, rowIndex)
      : !(keySets.get(table) as KeySet).add(key);
    if (duplicate) {
      if (batch) batch.duplicates.set(table, (batch.duplicates.get(table) ?? 0) + 1);
      continue;
    }
    if (!batch) continue;
    const { group, encoders } = recentGroup(recent, batch, target, row);
    batch.bytes += group.lines.push(joinFields(encoders, group.columns, row));
    group.meta.push(ordinal, rowIndex, loc);
  }
}

function recentGroup(recent: RecentGroups, batch: Batch, target: Target, row: Record<string, unknown>): Slot {
  let slots = recent.get(target);
  if (!slots) {
    slots = [];
    recent.set(target, slots);
  }
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i] as Slot;
    if (sameColumns(slot.group.columns, row)) return slot;
  }
  const slot = groupOf(batch, target, row);
  if (slots.length >= RECENT_GROUPS) slots.shift();
  slots.push(slot);
  return slot;
}

/**
 * Whether `row` has exactly `columns` as its keys, in that order, none of them
 * undefined. A for-in walk, not Object.keys: no array per row. (It also
 * walks inherited enumerable keys; any extra key answers false, and the
 * caller then works the group out the long way.)
 */
function sameColumns(columns: string[], row: Record<string, unknown>): boolean {
  let i = 0;
  for (const name in row) {
    if (name !== columns[i] || row[name] === undefined) return false;
    i++;
  }
  return i === columns.length;
}

/** The batch's group for the row's columns (created when new). */
function groupOf(
  batch: Batch,
  target: Target,
  row: Record<string, unknown>,
): { group: Group; encoders: FieldEncoder[] } {
  // Grouped by the keys in the order map() wrote them (the same every time, in practice).
  let columns = Object.keys(row);
  if (columns.some((c) => row[c] === undefined)) columns = columns.filter((c) => row[c] !== undefined);
  const signature = columns.join(',');
  let groups = batch.groups.get(target);
  if (!groups) {
    groups = new Map();
    batch.groups.set(target, groups);
  }
  let group = groups.get(signature);
  if (!group) {
    for (const c of columns) if (!target.writable.has(c)) throw unwritable(target, c);
    group = { columns, lines: new CopyLines(), meta: new RowOrigins() };
    groups.set(signature, group);
  }
  return { group, encoders: fieldEncoders(target, group.columns) };
}

/**
 * A record's rejects. The record as a reject shows it (`.sensitive()` values
 * masked: fields named like such a column, and values a mapped row put in
 * one) is worked out once, and only when something is rejected.
 */
class Rejects {
  #shown: string | null | undefined;
  constructor(
    readonly rec: NamedRecord,
    readonly ordinal: number,
    readonly loc: Record<string, unknown>,
    readonly byName: Map<string, Target>,
    readonly sensitive: ReadonlySet<string>,
    readonly mapped: Mapped | null,
  ) {}

  shown(): string | null {
    if (this.#shown !== undefined) return this.#shown;
    const values = new Set<string>();
    if (this.mapped?.ok) {
      for (const { table, row } of this.mapped.rows) {
        const target = this.byName.get(table);
        if (target) sensitiveValues(target.table, row, values);
      }
    }
    const raw = this.rec.record.kind === 'record' ? this.rec.record.value : undefined;
    this.#shown = snippet(maskRecord(raw, this.sensitive, values));
    return this.#shown;
  }

  /** The whole record rejected (not read, or map() refused it). */
  record(batch: Batch, reason: string, table: string | null = null, column: string | null = null): void {
    this.row(batch, null, table, column, reason);
  }

  /** One row of the record rejected (rowIndex null: the whole record). */
  row(batch: Batch, rowIndex: number | null, table: string | null, column: string | null, reason: string): void {
    batch.rejects.push({
      ordinal: this.ordinal,
      rowIndex,
      location: this.loc,
      table,
      column,
      reason,
      sqlstate: null,
      record: this.shown(),
    });
  }
}

const keyEncoders = new WeakMap<Target, FieldEncoder[]>();

const keyText = (target: Target, row: Record<string, unknown>) => {
  let encoders = keyEncoders.get(target);
  if (!encoders) {
    encoders = fieldEncoders(target, target.key);
    keyEncoders.set(target, encoders);
  }
  return joinFields(encoders, target.key, row);
};

const fields: string[] = [];

/**
 * The row's fields joined by commas, through one reused array: a flat string
 * (lines are kept until their batch is written; a chain of `+=` pieces kept
 * a rope of small strings alive instead).
 */
function joinFields(encoders: FieldEncoder[], columns: readonly string[], row: Record<string, unknown>): string {
  fields.length = columns.length;
  for (let i = 0; i < columns.length; i++) fields[i] = (encoders[i] as FieldEncoder)(row[columns[i] as string]);
  return fields.join(',');
}
const fingerprint = (key: string) => hash('sha1', key, 'base64');
/** One number per row of the run: record ordinal and row index (a record maps to fewer than 2^21 rows). */
const occurrence = (ordinal: number, rowIndex: number) => ordinal * 2 ** 21 + rowIndex;

/** Per `duplicates: 'last'` table: key fingerprint → occurrence of the last valid row with that key. */
type LastOccurrences = Map<string, Map<string, number>>;

/**
 * For `duplicates: 'last'` tables, which row of each key is the last one:
 * a first pass over the whole source, mapping every record. Writing the
 * first row and overwriting it later would not do: a rerun would "update"
 * the row back and forth, and the policy only costs imports that ask for it.
 */
async function lastOccurrences(o: PrepareOptions, byName: Map<string, Target>): Promise<LastOccurrences> {
  const last: LastOccurrences = new Map();
  for (const t of byName.values()) if (t.duplicates === 'last') last.set(t.name, new Map());
  let ordinal = 0;
  // A partial run notes its faults in the main pass; here they only end the reading.
  for await (const chunk of readRecords(o.sources, o.signal, o.faults ? [] : undefined)) {
    for (const rec of chunk) {
      let mapped = mapRecord(o, rec, ordinal);
      if (mapped instanceof Promise) mapped = await mapped;
      if (mapped?.ok) {
        // As prepareRecord: a bad row, or a row whose parent in the same record is bad, is not written.
        const rejected = new Set<string>();
        const bad = mapped.rows.map(({ table, row }) => {
          const target = byName.get(table);
          const problem = target ? checkRow(target, row) : null;
          if (problem) rejected.add(table);
          return problem !== null;
        });
        mapped.rows.forEach(({ table, row }, rowIndex) => {
          const seen = last.get(table);
          const target = byName.get(table);
          if (!seen || !target || bad[rowIndex] || firstOf(target.parents, rejected)) return;
          seen.set(fingerprint(keyText(target, row)), occurrence(ordinal, rowIndex));
        });
      }
      ordinal++;
    }
  }
  return last;
}

function firstOf(candidates: Set<string>, wanted: Set<string>): string | undefined {
  for (const c of candidates) if (wanted.has(c)) return c;
  return undefined;
}

function unwritable(target: Target, column: string): FerryError {
  return new FerryError(
    E_IMPORT_DEFINITION,
    `map() writes ${target.name}.${column}, which the database generates; leave it out of the mapped row.`,
  );
}

export function snippet(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
  } catch {
    return String(value);
  }
}
