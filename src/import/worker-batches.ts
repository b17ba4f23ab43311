/**
 * Batches prepared in a worker thread (prepare-worker.ts), for the importer.
 *
 * Why: on a first import the main thread's CPU was the bound. Reading,
 * parsing, `map`, checking and encoding took ~60% of its time per record and
 * writing the rest, while the database ran on the other core; in one thread
 * both halves queue behind each other. With preparation in a worker, the
 * main thread only writes (and the embedded PGlite, which runs on the main
 * thread, gets that thread to itself).
 *
 * The worker loads the import file itself: `map` is a function and cannot be
 * posted. To make sure it reads what the caller's definition would read, the
 * two sides' source fingerprints (files, sizes, mtimes) must be equal, and the
 * worker's targets the caller's, before the first batch is asked for.
 */
import type { Worker } from 'node:worker_threads';
import { E_OUT_OF_MEMORY, FerryError } from '../errors.js';
import { errorFromWire, startWorker } from '../worker-thread.js';
import { type BatchWire, batchFromWire } from './batch-wire.js';
import { E_IMPORT_DEFINITION } from './errors.js';
import type { Batch } from './prepare.js';
import type { PrepareWorkerData, WorkerMessage } from './prepare-worker.js';
import type { SourceFault } from './records.js';
import type { Target } from './targets.js';

/** Where the worker finds the definition: the import file and its export. */
export interface ImportWorker {
  /** Path or file: URL of the module that exports the definition (an import file as `ferry import` takes). */
  module: string;
  /** The export (default: 'default'). */
  exportName?: string;
  /** The worker's V8 old-generation cap in MB (default: FERRY_MAX_HEAP_MB, else 128; 0 = none). */
  maxHeapMb?: number;
}

export interface WorkerBatchesOptions {
  worker: ImportWorker;
  targets: Target[];
  /** The caller's source fingerprint: the worker's must equal it. */
  fingerprint: string;
  resumeFrom: number;
  batchSize: number;
  /** `--partial`: the worker's faults are added here at the end. */
  faults?: SourceFault[];
  signal?: AbortSignal;
}

/** Batches the worker may have prepared (or be preparing) that nobody asked for yet. */
const WORKER_AHEAD = 3;

type Reply = Exclude<WorkerMessage, { type: 'ready' }>;

export async function* workerBatches(o: WorkerBatchesOptions): AsyncGenerator<Batch> {
  const byName = new Map(o.targets.map((t) => [t.name, t]));
  const maxHeapMb = o.worker.maxHeapMb ?? heapCapFromEnv();
  const data: PrepareWorkerData = {
    module: o.worker.module,
    exportName: o.worker.exportName,
    resumeFrom: o.resumeFrom,
    batchSize: o.batchSize,
    partial: o.faults !== undefined,
  };
  const worker = startWorker(new URL('./prepare-worker.ts', import.meta.url), {
    workerData: data,
    // A 16 MB young generation (V8's default is larger): with PGlite beside it, 485 MB peak against 508 at chatcore 200k.
    resourceLimits: maxHeapMb > 0 ? { maxOldGenerationSizeMb: maxHeapMb, maxYoungGenerationSizeMb: 16 } : undefined,
  });
  const replies = new Replies(worker, maxHeapMb);
  const onAbort = () => replies.fail(o.signal?.reason ?? new Error('aborted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const ready = await replies.ready;
    if (ready.fingerprint !== o.fingerprint || ready.tables.join(',') !== o.targets.map((t) => t.name).join(',')) {
      throw new FerryError(
        E_IMPORT_DEFINITION,
        `The import file ${o.worker.module}, loaded again in the import's worker thread, reads other files or ` +
          'writes other tables than the definition this run was given. Pass the module that exports this ' +
          'definition (and nothing that depends on the caller’s state), or prepare on the main thread ' +
          '(`ferry import --worker off`; no `worker` option).',
      );
    }
    // Keep the worker busy: it prepares up to WORKER_AHEAD batches beyond the
    // ones this generator was asked for, instead of one per request (the
    // worker sat idle ~18% of a chatcore import between requests).
    let requested = 0;
    for (;;) {
      for (; requested < WORKER_AHEAD; requested++) worker.postMessage('next');
      const reply = await replies.next();
      requested--;
      if (reply.type === 'done') {
        o.faults?.push(...reply.faults);
        return;
      }
      if (reply.type === 'error') throw errorFromWire(reply.error);
      if (reply.type === 'batch') yield batchFromWire(reply.wire as BatchWire, byName);
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await replies.stop();
  }
}

function heapCapFromEnv(): number {
  const raw = process.env.FERRY_MAX_HEAP_MB;
  const n = raw === undefined || raw === '' ? 128 : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : 128;
}

/** The worker's replies in order; its death (an error, out of memory, exit) fails whoever waits. */
class Replies {
  readonly ready: Promise<Extract<WorkerMessage, { type: 'ready' }>>;
  #waiting: { resolve: (r: Reply) => void; reject: (e: unknown) => void }[] = [];
  #queued: Reply[] = [];
  #failure: unknown = null;
  #isReady = false;
  #readyWaiter!: { resolve: (r: Extract<WorkerMessage, { type: 'ready' }>) => void; reject: (e: unknown) => void };
  #exited: Promise<void>;

  constructor(
    readonly worker: Worker,
    readonly maxHeapMb: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.#readyWaiter = { resolve, reject };
    });
    this.ready.catch(() => {});
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        this.#isReady = true;
        this.#readyWaiter.resolve(m);
      } else if (m.type === 'error' && !this.#isReady) this.#readyWaiter.reject(errorFromWire(m.error));
      else this.#deliver(m);
    });
    worker.on('error', (err) => this.fail(this.#asFerry(err)));
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.once('exit', (code) => {
      if (this.#failure === null)
        this.fail(new Error(`the import's worker thread ended unexpectedly (exit code ${code})`));
    });
  }

  next(): Promise<Reply> {
    const queued = this.#queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  fail(err: unknown): void {
    if (this.#failure !== null) return;
    this.#failure = err;
    this.#readyWaiter.reject(err);
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }

  /** Ask the worker to close its sources and end; terminate it if it does not within a few seconds. */
  async stop(): Promise<void> {
    if (this.#failure === null) this.#failure = new Error('stopped');
    try {
      this.worker.postMessage('stop');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #deliver(m: Reply): void {
    const w = this.#waiting.shift();
    if (w) w.resolve(m);
    else this.#queued.push(m);
  }

  #asFerry(err: Error): Error {
    if ((err as { code?: string }).code !== 'ERR_WORKER_OUT_OF_MEMORY') return err;
    return new FerryError(
      E_OUT_OF_MEMORY,
      `The import's worker thread ran out of its ${this.maxHeapMb} MB heap (reading and mapping records). ` +
        `Run it again with more: FERRY_MAX_HEAP_MB=${this.maxHeapMb * 4} (or FERRY_MAX_HEAP_MB=0 for no cap); ` +
        'a map() that keeps data across records needs room for it. The import resumes where it stopped.',
      { cause: err },
    );
  }
}
