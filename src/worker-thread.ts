/**
 * Starting one of Ferry's own modules as a worker thread, and errors across
 * the thread boundary.
 *
 * From a checkout Ferry runs as TypeScript through tsx, whose loader a worker
 * does not inherit when it was registered scoped (`tsImport`, as bin/ferry.mjs
 * does): the worker then starts on worker-boot.mjs, which loads tsx and,
 * through it, the entry. From dist the entry is plain JavaScript.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { FerryError, type FerryErrorCode } from './errors.js';

/**
 * A worker on `entry`, given as the URL of its .ts file beside the caller
 * (`new URL('./x-worker.ts', import.meta.url)`); from dist, the .js beside it.
 */
export function startWorker(entry: URL, options: WorkerOptions): Worker {
  // By path: under tsx's scoped loader import.meta.url ends in `?tsx-namespace=…`.
  const checkout = new URL(import.meta.url).pathname.endsWith('.ts');
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  if (!checkout) return new Worker(new URL(entry.href.replace(/\.ts$/, '.js')), options);
  return new Worker(new URL('./worker-boot.mjs', import.meta.url), { ...options, argv: [entry.href] });
}

/** An error as posted between threads (an Error's own fields are not cloned with their class). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  details?: unknown;
  stack?: string;
}

export function errorToWire(err: unknown): WireError {
  const e = (err ?? {}) as { name?: string; message?: string; code?: unknown; details?: unknown; stack?: string };
  let details: unknown;
  try {
    details = e.details === undefined ? undefined : JSON.parse(JSON.stringify(e.details));
  } catch {
    details = undefined;
  }
  return {
    name: String(e.name ?? 'Error'),
    message: String(e.message ?? err),
    code: typeof e.code === 'string' ? e.code : undefined,
    details,
    stack: e.stack,
  };
}

/** The error again: a FerryError when it had an E_ code, else a plain Error with the same name, message and stack. */
export function errorFromWire(e: WireError): Error {
  const err = e.code?.startsWith('E_')
    ? new FerryError(e.code as FerryErrorCode, e.message, { details: e.details as never })
    : Object.assign(new Error(e.message), { name: e.name });
  if (e.stack) err.stack = e.stack;
  return err;
}
