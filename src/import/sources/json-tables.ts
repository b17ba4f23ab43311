/** Records of a one-object-of-tables JSON file (lowdb, TinyDB), streamed through `TableScanner`. */
import type { SourceLocation, SourceRecord } from '../source.js';
import type { ResolvedFile } from './common.js';
import { malformed, readText } from './common.js';
import { parseJson } from './json-error.js';
import { type ScanEvent, TableScanner, type TableShape } from './table-scanner.js';

export interface TableFileOptions {
  label: string;
  file: ResolvedFile;
  shape: TableShape;
  /** Tables asked for by name: one missing from the file is reported. */
  names?: readonly string[];
  /** Checks a parsed element; returns a reason when it is not a record. */
  check?: (value: unknown, loc: SourceLocation) => string | undefined;
  signal?: AbortSignal;
}

export async function* tableFileRecords<T = unknown>(o: TableFileOptions): AsyncGenerator<SourceRecord<T>> {
  for await (const chunk of tableFileChunks<T>(o)) yield* chunk;
}

/** The file's records, one array per piece of text read. */
export async function* tableFileChunks<T = unknown>(o: TableFileOptions): AsyncGenerator<SourceRecord<T>[]> {
  const asked = o.names ? new Set(o.names) : undefined;
  const seen = new Set<string>();
  const scanner = new TableScanner(o.shape, (table) => {
    seen.add(table);
    return asked ? asked.has(table) : true;
  });
  const base = { source: o.label, file: o.file.shown };
  let fault: Extract<ScanEvent, { type: 'fault' }> | undefined;
  // Bytes read so far (to the end of the current chunk): coarse, but enough for a progress bar.
  let bytes = 0;
  const convert = (events: ReturnType<TableScanner['feed']>): SourceRecord<T>[] => {
    const out: SourceRecord<T>[] = [];
    for (const record of records(events)) {
      record.bytes = bytes;
      out.push(record);
    }
    return out;
  };
  const records = function* (events: ReturnType<TableScanner['feed']>): Generator<SourceRecord<T>> {
    for (const ev of events) {
      if (ev.type === 'fault') {
        // Thrown once the records before it are out (see `fail` below).
        fault = ev;
      } else if (ev.type === 'not-table') {
        const want = o.shape === 'array' ? 'an array of records' : 'an object of documents by id';
        yield {
          kind: 'error',
          reason: `table "${ev.table}" at line ${ev.line} column ${ev.column} is ${ev.found}, not ${want}; it was skipped`,
          loc: { ...base, table: ev.table, line: ev.line },
        };
      } else {
        // Literals, not `{ ...base, table, … }`: V8 (Node 20) spends ~2 µs on a
        // spread followed by more properties, ~0.01 µs on a literal; once per record.
        const loc: SourceLocation =
          ev.key === undefined
            ? { source: base.source, file: base.file, table: ev.table, index: ev.index, line: ev.line }
            : { source: base.source, file: base.file, table: ev.table, index: ev.index, line: ev.line, key: ev.key };
        const parsed = parseJson(ev.text, { line: ev.line, column: ev.column });
        if (!parsed.ok) {
          yield { kind: 'error', reason: parsed.reason, loc };
          continue;
        }
        const problem = o.check?.(parsed.value, loc);
        if (problem) yield { kind: 'error', reason: problem, loc };
        else yield { kind: 'record', value: parsed.value as T, loc };
      }
    }
  };
  const fail = (ev: Extract<ScanEvent, { type: 'fault' }>) =>
    malformed(o.label, o.file.shown, ev, `invalid JSON: ${ev.message}`);
  for await (const chunk of readText(o.file.abs)) {
    o.signal?.throwIfAborted();
    bytes += Buffer.byteLength(chunk);
    const out = convert(scanner.feed(chunk));
    if (out.length > 0) yield out;
    if (fault) throw fail(fault);
  }
  const rest = convert(scanner.end());
  if (rest.length > 0) yield rest;
  if (fault) throw fail(fault);
  if (!asked) return;
  for (const name of asked) {
    if (!seen.has(name)) {
      const there = [...seen].map((t) => `"${t}"`).join(', ') || 'none';
      yield [
        {
          kind: 'error',
          reason: `table "${name}" is not in the file (tables there: ${there})`,
          loc: { ...base, table: name },
        },
      ];
    }
  }
}

/**
 * Walk the whole file's structure without parsing a record (every element is
 * skipped as it is scanned, nothing is kept), and throw E_SOURCE_MALFORMED at
 * the first place the file stops being an object of tables: cut short,
 * garbage, a missing comma between documents. A bad document inside a sound
 * structure is not a fault here; it stays a reject of the real pass.
 *
 * The loader runs this before it commits anything, so a truncated file fails
 * with nothing of it imported while batches still commit one by one (and stay
 * resumable) on a sound file. It costs a read of the file and a scan that
 * jumps from quote to quote: a fraction of the JSON.parse the import does.
 */
export async function skimTableFile(o: Pick<TableFileOptions, 'label' | 'file' | 'shape' | 'signal'>): Promise<void> {
  const scanner = new TableScanner(o.shape, () => false);
  const check = (events: ScanEvent[]) => {
    for (const ev of events) {
      if (ev.type === 'fault') throw malformed(o.label, o.file.shown, ev, `invalid JSON: ${ev.message}`);
    }
  };
  for await (const chunk of readText(o.file.abs, 1 << 20)) {
    o.signal?.throwIfAborted();
    check(scanner.feed(chunk));
  }
  check(scanner.end());
}
