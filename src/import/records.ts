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

export async function* readRecords(sources: NamedSource[], signal?: AbortSignal): AsyncGenerator<NamedRecord> {
  let before = 0;
  for (const { name, source } of sources) {
    let last = 0;
    for await (const record of source.records({ signal })) {
      signal?.throwIfAborted();
      if (record.bytes !== undefined) last = record.bytes;
      yield { name, record, bytes: before + last };
    }
    before += last;
  }
}

/** SHA-256 over every source's label and its files' paths, sizes and modification times. */
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
