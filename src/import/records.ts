/** Several sources read as one stream, and the fingerprint that tells a resumed run its input is unchanged. */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Source, SourceRecord } from './source.js';

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

/** Every source's records in order, several at a time (a source's `chunks()` when it has one). */
export async function* readRecords(sources: NamedSource[], signal?: AbortSignal): AsyncGenerator<NamedRecord[]> {
  let before = 0;
  for (const { name, source } of sources) {
    let last = 0;
    const chunks = source.chunks ? source.chunks({ signal }) : single(source.records({ signal }));
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
    before += last;
  }
}

async function* single<T>(records: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const record of records) yield [record];
}

export async function fingerprintSources(sources: NamedSource[]): Promise<string> {
  const hash = createHash('sha256');
  for (const { name, source } of sources) {
    hash.update(`${name}\u0000${source.label}\u0000`);
    for (const file of await source.files()) {
      const s = await stat(file);
      hash.update(`${file}\u0000${s.size}\u0000${s.mtimeMs}\u0000`);
    }
  }
  return hash.digest('hex');
}
