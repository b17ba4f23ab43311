/**
 * CSV and NDJSON export, streamed with bounded memory on both backends.
 *
 *   const summary = await exportTo(db, { table: 'prices', where: "day >= '2026-01-01'" }, 'prices.csv');
 *   // { rows: 120000, bytes: 8123456, ms: 412, file: '/abs/prices.csv' }
 *
 * - CSV on Postgres: one `COPY (SELECT …) TO STDOUT (FORMAT csv, HEADER)`
 *   through pg-copy-streams, each piece written before the next is read: the
 *   bytes are the server's own, identical to `psql \copy (…) TO … CSV HEADER`.
 * - CSV on PGlite: `COPY … TO '/dev/blob'` hands back its whole output at
 *   once, so a table with a primary key is exported in pages of `chunkRows`
 *   rows ordered by the key (keyset pagination: each page starts after the
 *   last key of the previous one), the header on the first page only; the
 *   bytes equal one COPY of the same SELECT with `ORDER BY <key>`. What is held
 *   at a time is one page. A query, or a table without a primary key, has no
 *   key to page on: it is read through a cursor, `chunkRows` rows per FETCH as
 *   text, and written as COPY writes CSV (export-csv.ts), the same bytes.
 * - NDJSON on both: a cursor, `chunkRows` rows per FETCH, values as Ferry's
 *   repositories read them (see export-json.ts).
 *
 * Everything runs in one REPEATABLE READ, READ ONLY transaction: the pages see
 * one snapshot, and a `where` or `query` cannot write.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import type { DbHandle } from '../db/open.js';
import type { RawSession } from '../db/session.js';
import { type Duration, toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import { csvLine } from './export-csv.js';
import { E_EXPORT_OPTIONS, E_EXPORT_OUTPUT, E_EXPORT_QUERY } from './export-errors.js';
import { ndjsonLine } from './export-json.js';
import { type ExportSource, type KeyColumn, type ResolvedSource, resolveSource } from './export-source.js';

export type { ExportSource } from './export-source.js';

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportOptions extends ExportSource {
  /** Default 'csv' (with a header line). */
  format?: ExportFormat;
  /** Rows per page (PGlite CSV) or per FETCH (NDJSON); default 10,000. Bounds what is held at once. */
  chunkRows?: number;
  /**
   * `statement_timeout` for the export (ms or e.g. '30m'; default 0 = none).
   * Not the pool's 30 s: one COPY of a big table runs as long as the whole
   * export, and a slow destination makes it longer still.
   */
  statementTimeout?: Duration;
  /** Called after each piece written: rows so far (CSV on Postgres: lines so far, exact at the end) and bytes. */
  onProgress?: (progress: { rows: number; bytes: number }) => void;
}

export interface ExportSummary {
  rows: number;
  bytes: number;
  /** Wall time of the export. */
  ms: number;
  /** The file written (absolute), or null for a stream. */
  file: string | null;
}

/** `exportRows`' stream: read it like any Readable; `summary` settles when the export is done. */
export type ExportStream = PassThrough & { summary: Promise<ExportSummary> };

export const DEFAULT_CHUNK_ROWS = 10_000;

/**
 * Bytes a file being written may buffer before the export waits for the
 * disk: with the default 16 KB, every 64 KB piece of a COPY waited for its
 * own write, and reading from the server stalled behind each one.
 */
const FILE_BUFFER = 1 << 20;

/**
 * Export to `destination`: a Writable (left open: the caller ends it), or a
 * file path, written to a temporary file in the same folder and renamed over
 * `destination` only once complete, so a failed export never leaves a
 * half-written file behind.
 */
export async function exportTo(
  db: DbHandle,
  options: ExportOptions,
  destination: Writable | string,
): Promise<ExportSummary> {
  if (typeof destination === 'string') return exportToFile(db, options, destination);
  const start = performance.now();
  const { rows, bytes } = await run(db, options, destination);
  return { rows, bytes, ms: performance.now() - start, file: null };
}

/** A Readable of the export's bytes, with backpressure; `summary` settles when it is done. */
export function exportRows(db: DbHandle, options: ExportOptions): ExportStream {
  const out = new PassThrough();
  const summary = exportTo(db, options, out).then(
    (s) => {
      out.end();
      return s;
    },
    (err: unknown) => {
      out.destroy(err as Error);
      throw err;
    },
  );
  // The error reaches the reader through the stream; `summary` is there for those who want it.
  summary.catch(() => {});
  return Object.assign(out, { summary });
}

async function exportToFile(db: DbHandle, options: ExportOptions, file: string): Promise<ExportSummary> {
  const target = path.resolve(file);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const start = performance.now();
  const out = createWriteStream(temp, { flags: 'wx', highWaterMark: FILE_BUFFER });
  try {
    await once(out, 'open').catch((err: unknown) => {
      throw outputError(target, err);
    });
    const { rows, bytes } = await run(db, options, out);
    out.end();
    await once(out, 'close');
    await rename(temp, target).catch((err: unknown) => {
      throw outputError(target, err);
    });
    return { rows, bytes, ms: performance.now() - start, file: target };
  } catch (err) {
    out.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}

function outputError(file: string, err: unknown): FerryError {
  return new FerryError(
    E_EXPORT_OUTPUT,
    `Cannot write the export to ${file}: ${(err as Error)?.message ?? String(err)}. Check that its folder exists and is writable.`,
    { cause: err, details: { file } },
  );
}

interface Counts {
  rows: number;
  bytes: number;
  /** Someone wants progress: only then are a COPY's newlines counted (a pass over every byte). */
  progress: boolean;
  /**
   * Postgres: the destination failed mid-COPY. The server is still sending
   * rows nobody reads, so no ROLLBACK can be sent on that connection (it
   * would wait forever): the session drops the connection instead, which
   * ends the transaction.
   */
  abandoned?: boolean;
}

async function run(db: DbHandle, options: ExportOptions, out: Writable): Promise<Counts> {
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'ndjson') {
    throw new FerryError(E_EXPORT_OPTIONS, `Unknown export format "${String(format)}": use csv or ndjson.`);
  }
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1) {
    throw new FerryError(E_EXPORT_OPTIONS, `chunkRows must be a whole number of rows >= 1, not ${chunkRows}.`);
  }
  const timeoutMs = toMs(options.statementTimeout ?? 0, 'export option statementTimeout', E_EXPORT_OPTIONS);
  return db.session(async (session) => {
    const source = await resolveSource(session, options);
    const counts: Counts = { rows: 0, bytes: 0, progress: options.onProgress !== undefined };
    const write = writer(out, counts, options.onProgress);
    // The session's own settings (types.ts) make the CSV's timestamps UTC ISO, as psql with TimeZone=UTC prints them.
    await session.query('begin isolation level repeatable read, read only');
    try {
      // LOCAL: back to the pool's setting when the transaction ends. (PGlite does not enforce it.)
      await session.query(`set local statement_timeout = ${timeoutMs}`);
      if (format === 'ndjson') await ndjson(session, source, chunkRows, write);
      else if (session.backend === 'postgres') {
        counts.rows = await copy(
          session,
          source,
          `copy (${source.select}) to stdout with (format csv, header)`,
          write,
          counts,
        );
      } else if (source.keyed !== null) await csvPages(session, source, source.keyed, chunkRows, write, counts);
      else await csvCursor(session, source, chunkRows, write);
      await session.query('commit');
    } catch (err) {
      if (!counts.abandoned) await session.query('rollback').catch(() => {});
      throw err;
    }
    options.onProgress?.({ rows: counts.rows, bytes: counts.bytes });
    return counts;
  });
}

type Write = (chunk: Buffer | string, rows?: number) => Promise<void>;

/**
 * Write with backpressure: once `out` is full, wait for it to drain, so the
 * database is read no faster than the destination takes the bytes.
 */
function writer(out: Writable, counts: Counts, onProgress: ExportOptions['onProgress']): Write {
  return async (chunk, rows) => {
    counts.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (rows !== undefined) counts.rows += rows;
    if (onProgress) onProgress({ rows: counts.rows, bytes: counts.bytes });
    if (out.destroyed) throw out.errored ?? new Error('The export destination was closed before the export finished.');
    if (!out.write(chunk)) await drained(out);
  };
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('error', done);
      out.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('The export destination was closed before the export finished.'));
    out.on('drain', onDrain);
    out.on('error', done);
    out.on('close', onClose);
  });
}

async function copy(
  session: RawSession,
  source: ResolvedSource,
  sql: string,
  write: Write,
  counts: Counts,
): Promise<number> {
  try {
    // On Postgres the rows so far are only known from the bytes (the server's count comes at the end).
    let header = /\bheader\)$/.test(sql) ? 1 : 0;
    return await session.copyOut(sql, async (chunk) => {
      if (session.backend !== 'postgres') return write(chunk, 0);
      const rows = counts.progress ? lines(chunk) - header : 0;
      header = 0;
      try {
        await write(chunk, rows);
      } catch (err) {
        counts.abandoned = true;
        throw err;
      }
    });
  } catch (err) {
    throw queryError(source, sql, err);
  }
}

/** Newlines in a piece: a progress figure only (a quoted value may hold newlines); the server's count is final. */
function lines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * PGlite CSV in pages of `chunkRows` rows by primary key. Each page first asks
 * for its last key (the `chunkRows`-th key after the previous page's, or none:
 * the last page), then COPYs exactly the rows in between. Keys go back into
 * the SQL as literals cast to the key's type: COPY takes no parameters.
 */
async function csvPages(
  session: RawSession,
  source: ResolvedSource,
  keyed: NonNullable<ResolvedSource['keyed']>,
  chunkRows: number,
  write: Write,
  counts: Counts,
): Promise<void> {
  const keyList = keyed.key.map((k) => k.sql).join(', ');
  const rowOf = (values: readonly string[]) =>
    `(${keyed.key.map((k, i) => literal(values[i] as string, k)).join(', ')})`;
  // String literals below rely on standard_conforming_strings (the default since 9.1); make sure.
  await session.query('set local standard_conforming_strings = on');
  let after: string[] | null = null;
  for (let page = 0; ; page++) {
    const conditions: string[] = [];
    if (keyed.where !== null) conditions.push(`(${keyed.where})`);
    if (after !== null) conditions.push(`(${keyList}) > ${rowOf(after)}`);
    // Aliased: a bare `id::text` would be output column "id", and ORDER BY id would then sort by
    // the text ("10" < "9"), as a seq scan and a sort of the whole table per page, in pages of any size.
    const boundarySql = `select ${keyed.key.map((k, i) => `${k.sql}::text as ferry_key_${i}`).join(', ')} from ${keyed.from}${
      conditions.length ? ` where ${conditions.join(' and ')}` : ''
    } order by ${keyList} offset ${chunkRows - 1} limit 1`;
    let last: string[] | null;
    try {
      const { rows } = await session.query<Record<string, string>>(boundarySql);
      last = rows[0] ? Object.values(rows[0]) : null;
    } catch (err) {
      throw queryError(source, boundarySql, err);
    }
    if (last !== null) conditions.push(`(${keyList}) <= ${rowOf(last)}`);
    const select = `select ${keyed.list} from ${keyed.from}${conditions.length ? ` where ${conditions.join(' and ')}` : ''} order by ${keyList}`;
    const header = page === 0 ? ', header' : '';
    counts.rows += await copy(session, source, `copy (${select}) to stdout with (format csv${header})`, write, counts);
    if (last === null) return;
    after = last;
  }
}

function literal(text: string, key: KeyColumn): string {
  return `'${text.replaceAll("'", "''")}'::${key.type}`;
}

/**
 * PGlite CSV of a query or of a table without a primary key: no key to page
 * on, so a cursor is read `chunkRows` rows per FETCH as the server's text and
 * written as COPY would write it (export-csv.ts). One FETCH is held at a time.
 */
async function csvCursor(session: RawSession, source: ResolvedSource, chunkRows: number, write: Write): Promise<void> {
  await declareCursor(session, source);
  const fetch = `fetch forward ${chunkRows} from ferry_export`;
  for (let first = true; ; first = false) {
    const { columns, rows } = await session.queryText(fetch).catch((err: unknown) => {
      throw queryError(source, source.select, err);
    });
    let text = first ? csvLine(columns) : '';
    for (const row of rows) text += csvLine(row);
    if (text !== '') await write(text, rows.length);
    if (rows.length < chunkRows) break;
  }
  await session.query('close ferry_export');
}

async function declareCursor(session: RawSession, source: ResolvedSource): Promise<void> {
  const declare = `declare ferry_export no scroll cursor for ${source.select}`;
  try {
    await session.query(declare);
  } catch (err) {
    throw queryError(source, declare, err);
  }
}

/** NDJSON through a cursor: `chunkRows` rows per FETCH, one write per FETCH. */
async function ndjson(session: RawSession, source: ResolvedSource, chunkRows: number, write: Write): Promise<void> {
  await declareCursor(session, source);
  const fetch = `fetch forward ${chunkRows} from ferry_export`;
  for (;;) {
    // The query runs as rows are fetched: its errors (a division by zero in row 10,001) come from here.
    const { rows } = await session.query(fetch).catch((err: unknown) => {
      throw queryError(source, source.select, err);
    });
    if (rows.length === 0) break;
    let text = '';
    for (const row of rows) text += ndjsonLine(row);
    await write(text, rows.length);
    if (rows.length < chunkRows) break;
  }
  await session.query('close ferry_export');
}

function queryError(source: ResolvedSource, sql: string, err: unknown): unknown {
  const e = err as { code?: string; message?: string; position?: string } | null;
  // Only the server's refusals of the SQL (a SQLSTATE outside connection failures); anything else passes through.
  if (err instanceof FerryError || !e || typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return err;
  if (e.code.startsWith('08') || e.code.startsWith('57P')) return err; // the connection, not the SQL
  return new FerryError(
    E_EXPORT_QUERY,
    e.code === '57014'
      ? `Export of ${source.label} was cancelled by the database (${e.message}): for a long export raise --statement-timeout (statementTimeout; 0 = none).`
      : `Export of ${source.label} failed: the database said: ${e.message}. Check the --where/--query SQL (it runs as: ${sql}).`,
    { cause: err, details: { sql, sqlstate: e.code } },
  );
}
