/** Several sources read as one stream, and the fingerprint that tells a resumed run its input is unchanged. */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import type { Source, SourceRecord } from './source.js';
import { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND } from './sources/errors.js';

export interface NamedSource {
  name: string;
  source: Source;
}

export interface NamedRecord {
  name: string;
  record: SourceRecord;
  /** Bytes read across all sources so far, when the sources report it. */
  bytes: number;
}

export function namedSources(source: Source | Record<string, Source>): NamedSource[] {
  if (isSource(source)) return [{ name: source.label, source }];
  return Object.entries(source).map(([name, s]) => ({ name, source: s }));
}

function isSource(value: unknown): value is Source {
  return typeof (value as Source)?.records === 'function';
}

/** A source that could not be read to its end, in a `--partial` run: what was read of it was imported. */
export interface SourceFault {
  /** The source's name (its label when it is the only one). */
  source: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

/**
 * Every source's records in order, several at a time (a source's `chunks()`
 * when it has one). With `faults`, a source that turns out not to be readable
 * to its end (E_SOURCE_MALFORMED) ends there: the fault is noted and the next
 * source is read (`--partial`); without it, the error propagates.
 */
export async function* readRecords(
  sources: NamedSource[],
  signal?: AbortSignal,
  faults?: SourceFault[],
): AsyncGenerator<NamedRecord[]> {
  let before = 0;
  for (const { name, source } of sources) {
    let last = 0;
    const chunks = source.chunks ? source.chunks({ signal }) : single(source.records({ signal }));
    try {
      for await (const chunk of chunks) {
        signal?.throwIfAborted();
        const out: NamedRecord[] = new Array(chunk.length);
        for (let i = 0; i < chunk.length; i++) {
          const record = chunk[i] as SourceRecord;
          if (record.bytes !== undefined) last = record.bytes;
          out[i] = { name, record, bytes: before + last };
        }
        yield out;
      }
    } catch (err) {
      // By code, not instanceof: the import file may hold a second copy of Ferry's modules.
      const e = err as { code?: unknown; message?: string; details?: Record<string, unknown> };
      if (!faults || e?.code !== E_SOURCE_MALFORMED) throw err;
      const d = (e.details ?? {}) as { file?: string; line?: number; column?: number };
      faults.push({ source: name, message: String(e.message), file: d.file, line: d.line, column: d.column });
    }
    before += last;
  }
}

/**
 * Run every source's `check()` (the ones that have one), in order: the
 * first that cannot be read to its end throws.
 */
export async function checkSources(sources: NamedSource[], signal?: AbortSignal): Promise<void> {
  for (const { source } of sources) await source.check?.({ signal });
}

async function* single<T>(records: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const record of records) yield [record];
}

export async function fingerprintSources(sources: NamedSource[]): Promise<string> {
  const hash = createHash('sha256');
  for (const { name, source } of sources) {
    hash.update(`${name}\u0000${source.label}\u0000`);
    for (const file of await source.files()) {
      let s: Awaited<ReturnType<typeof stat>>;
      try {
        s = await stat(file);
      } catch (err) {
        // The source's own check names a missing file the same way; this runs first.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (source.live) {
          hash.update(`${file}\u0000gone\u0000`);
          continue;
        }
        throw new FerryError(
          E_SOURCE_NOT_FOUND,
          `${source.label}: file ${file} does not exist. Check the path (relative paths resolve against the source's \`cwd\` option, else the import file's directory).`,
          { cause: err, details: { file } },
        );
      }
      hash.update(`${file}\u0000${s.size}\u0000${s.mtimeMs}\u0000`);
    }
  }
  return hash.digest('hex');
}
