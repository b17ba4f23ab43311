/** Shared by the source tests: temp dirs with real files, and draining a source. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Source, SourceRecord } from '../../../src/import/source.js';

export interface TempDir {
  /** Set once the suite's beforeAll ran. */
  dir: string;
  /** Write a file under `dir` (creating folders); returns its absolute path. */
  write(rel: string, text: string | Buffer): Promise<string>;
}

/** A temp dir for the enclosing suite (call at collection time), removed after it. */
export function useTempDir(): TempDir {
  const t: TempDir = {
    dir: '',
    async write(rel, text) {
      const abs = path.join(t.dir, rel);
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, text);
      return abs;
    },
  };
  beforeAll(async () => {
    t.dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-sources-'));
  });
  afterAll(() => rm(t.dir, { recursive: true, force: true }));
  return t;
}

/** All records, without the progress-only `bytes` field (see `collectBytes`). */
export async function collect<T>(source: Source<T>, signal?: AbortSignal): Promise<SourceRecord<T>[]> {
  const out: SourceRecord<T>[] = [];
  for await (const { bytes: _progress, ...r } of source.records(signal ? { signal } : undefined)) {
    out.push(r as SourceRecord<T>);
  }
  return out;
}

/** The `bytes` progress figure of every record, in order. */
export async function collectBytes(source: Source): Promise<(number | undefined)[]> {
  const out: (number | undefined)[] = [];
  for await (const r of source.records()) out.push(r.bytes);
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
  for await (const { bytes: _progress, ...r } of source.records()) {
    out.push(r as SourceRecord<T>);
    if (out.length === n) break;
  }
  return out;
}

/** The records yielded before the stream threw, and what it threw (undefined when it ended normally). */
export async function collectUntilThrow<T>(source: Source<T>): Promise<{ records: SourceRecord<T>[]; error: unknown }> {
  const records: SourceRecord<T>[] = [];
  try {
    for await (const { bytes: _progress, ...r } of source.records()) records.push(r as SourceRecord<T>);
  } catch (error) {
    return { records, error };
  }
  return { records, error: undefined };
}
