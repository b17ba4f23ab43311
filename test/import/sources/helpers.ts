/** Shared by the source tests: temp dirs with real files, and draining a source. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { Source, SourceRecord } from '../../../src/import/source.js';

/** A temp dir removed after the file's tests; `write` puts files in it (creating folders). */
export async function tempDir(): Promise<{ dir: string; write(rel: string, text: string | Buffer): Promise<string> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-sources-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return {
    dir,
    async write(rel, text) {
      const abs = path.join(dir, rel);
      await import('node:fs/promises').then((fs) => fs.mkdir(path.dirname(abs), { recursive: true }));
      await writeFile(abs, text);
      return abs;
    },
  };
}

export async function collect<T>(source: Source<T>, signal?: AbortSignal): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const r of source.records(signal ? { signal } : undefined)) out.push(r);
  return out;
}

export function values<T>(records: SourceRecord<T>[]): T[] {
  return records.flatMap((r) => (r.kind === 'record' ? [r.value] : []));
}

export function errors(records: SourceRecord[]): Extract<SourceRecord, { kind: 'error' }>[] {
  return records.filter((r) => r.kind === 'error') as Extract<SourceRecord, { kind: 'error' }>[];
}

/** Restartable: a fresh `records()` after reading part of the stream starts from the top. */
export async function readFirst<T>(source: Source<T>, n: number): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const r of source.records()) {
    out.push(r);
    if (out.length === n) break;
  }
  return out;
}
