/**
 * `csv(file, options)`: rows of a CSV file, streamed by csv-parse; ragged rows are error records.
 * A fault that stops the parser (a quote never closed: the file was cut short;
 * a stray quote; a bad header) fails the source with E_SOURCE_MALFORMED once
 * the rows before it are out.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type * as CsvParse from 'csv-parse';
import type { CsvError } from 'csv-parse';
import { FerryError } from '../../errors.js';
import { requireOptional } from '../../optional-dependency.js';
import type { Source, SourceOptions, SourceRecord } from '../source.js';
import { assertFile, malformed, optionsError, readError, readText, resolveFile } from './common.js';

export interface CsvOptions extends SourceOptions {
  /** Field separator, default `,` (`;` and `\t` are common). */
  delimiter?: string;
  /** Quote character, default `"`. */
  quote?: string;
  /** The first row names the columns (default true): rows become objects. With false, rows are string arrays unless `columns` names them. */
  header?: boolean;
  /** Column names to use; with `header: true` they replace the header row's names. */
  columns?: readonly string[];
  /** Trim spaces around fields. Default false. */
  trim?: boolean;
}

export type CsvRow = Record<string, string> | string[];

export function csv(file: string, options: CsvOptions = {}): Source<CsvRow> {
  const f = resolveFile(file, options, 'csv');
  const label = `csv(${file})`;
  const header = options.header ?? true;
  const { delimiter = ',', quote = '"', columns } = options;
  // An optional peer: only apps that import CSV install it.
  const { CsvError, parse } = requireOptional<typeof CsvParse>('csv-parse');
  if (typeof delimiter !== 'string' || delimiter === '' || delimiter === '\n' || delimiter === '\r') {
    throw optionsError(`${label}: \`delimiter\` must be a non-empty string other than a newline, e.g. ';'.`);
  }
  if (columns !== undefined) {
    if (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c === '')) {
      throw optionsError(`${label}: \`columns\` must be a non-empty array of column names.`);
    }
    const dup = duplicate(columns);
    if (dup !== undefined) throw optionsError(`${label}: column "${dup}" appears twice in \`columns\`.`);
  }

  return {
    label,
    async *records(opts): AsyncGenerator<SourceRecord<CsvRow>> {
      await assertFile(f, label);
      const input = createReadStream(f.abs);
      let fault: CsvError | undefined;
      const parser = parse({
        delimiter,
        quote,
        bom: true,
        info: true,
        trim: options.trim ?? false,
        skip_empty_lines: true,
        // Ragged rows are reported here, per row, instead of stopping the parse.
        relax_column_count: true,
        // A parse error would destroy the stream and drop rows already parsed before it:
        // note it instead, and stop once the rows before it are out (see `fault` below).
        skip_records_with_error: true,
        on_skip: (err: CsvError | undefined) => {
          if (err && !fault) fault = err;
        },
      });
      const piped = pipeline(input, parser);
      piped.catch(() => {}); // surfaced through the iteration below
      let names: readonly string[] | undefined = header ? undefined : columns;
      let expected = columns?.length;
      let expectedFrom = columns ? '`columns`' : header ? 'the header' : 'the first row';
      const base = { source: label, file: f.shown };
      try {
        for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
          opts?.signal?.throwIfAborted();
          if (fault && faultLine(fault) <= info.lines) break;
          // info.lines is where the row ends; quoted newlines move its start up.
          const line = info.lines - record.reduce((n, field) => n + countNewlines(field), 0);
          const loc = { source: base.source, file: base.file, line }; // a literal: a spread with more properties costs ~2 µs a row (V8)
          if (header && names === undefined) {
            const dup = duplicate(record);
            if (!columns && dup !== undefined) {
              throw malformed(label, f.shown, { line }, `column "${dup}" appears twice in the header`);
            }
            names = columns ?? record;
            if (expected === undefined) expected = record.length;
            else if (record.length !== expected) {
              throw malformed(
                label,
                f.shown,
                { line },
                `the header has ${record.length} columns but \`columns\` names ${expected}`,
              );
            }
            expectedFrom = 'the header';
            continue;
          }
          if (expected === undefined) expected = record.length;
          if (record.length !== expected) {
            yield {
              kind: 'error',
              reason: `row has ${record.length} field${record.length === 1 ? '' : 's'}, expected ${expected} (from ${expectedFrom})`,
              loc,
            };
            continue;
          }
          if (names === undefined) {
            yield { kind: 'record', value: record, loc };
          } else {
            const row: Record<string, string> = {};
            names.forEach((name, i) => {
              row[name] = record[i]!;
            });
            yield { kind: 'record', value: row, loc };
          }
        }
      } catch (err) {
        if (opts?.signal?.aborted) throw err;
        if (err instanceof FerryError) throw err;
        if (!(err instanceof CsvError)) throw readError(label, f.abs, err);
        fault ??= err;
      } finally {
        parser.destroy();
        input.destroy();
      }
      if (fault) throw malformed(label, f.shown, { line: faultLine(fault) || 1 }, `invalid CSV: ${csvReason(fault)}`);
    },
    async check() {
      await assertFile(f, label);
      if (typeof quote !== 'string' || quote === '') return;
      // A file cut inside a quoted field leaves its quote open: with quotes
      // escaped by doubling, a sound file has an even number of them. One
      // indexOf per quote, no parsing: the check costs a read of the file.
      let count = 0;
      let line = 1;
      let openLine = 1;
      for await (const chunk of readText(f.abs, 1 << 20)) {
        let from = 0;
        for (let q = chunk.indexOf(quote); q >= 0; q = chunk.indexOf(quote, q + 1)) {
          count++;
          if (count % 2 === 1) {
            line += countNewlines(chunk.slice(from, q));
            from = q;
            openLine = line;
          }
        }
        line += countNewlines(chunk.slice(from));
      }
      if (count % 2 === 1) {
        throw malformed(
          label,
          f.shown,
          { line: openLine },
          'invalid CSV: the quoted field opened on this line is never closed, so the file was cut short',
        );
      }
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
  };
}

function csvReason(err: CsvError): string {
  // csv-parse messages read "Invalid Closing Quote: got "x" at line 3 instead of ..."; keep the text, drop the line (said already).
  return err.message
    .replace(/ (at|on) line \d+/, '')
    .replace(/^([A-Z][a-z]+(?: [A-Z][a-z]+)*):/, (_, t: string) => `${t.toLowerCase()}:`);
}

function faultLine(err: CsvError): number {
  return (err as CsvError & { lines?: number }).lines ?? 0;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function duplicate(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) return n;
    seen.add(n);
  }
  return undefined;
}
