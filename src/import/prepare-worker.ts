/**
 * The import's worker thread: loads the import file itself (a function cannot
 * be posted to a thread), reads the sources and runs `map`, checks, encodes
 * and de-duplicates (prepare.ts, the same code the main thread would run),
 * and posts each batch's COPY bytes to the main thread, which only writes.
 *
 * Protocol (worker-batches.ts is the other side):
 *   ← { type: 'ready', fingerprint, tables }   after loading; the main thread compares
 *   → 'next'                                    prepare the next batch
 *   ← { type: 'batch', wire } | { type: 'done', faults } | { type: 'error', error }
 *   → 'stop'                                    close the sources and end
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { importModule } from '../config.js';
import { errorToWire, type WireError } from '../worker-thread.js';
import { batchToWire } from './batch-wire.js';
import { isDefinedImport } from './define.js';
import { KeySet } from './key-set.js';
import { prepareBatches } from './prepare.js';
import { fingerprintSources, namedSources, type SourceFault } from './records.js';
import { withImportFileDir } from './sources/common.js';
import { planTargets, resolveSchema } from './targets.js';

/** What the main thread starts the worker with. */
export interface PrepareWorkerData {
  /** The import file (path or file: URL) whose export is the definition. */
  module: string;
  /** The export holding the definition (default: 'default'). */
  exportName?: string;
  resumeFrom: number;
  batchSize: number;
  partial: boolean;
}

export type WorkerMessage =
  | { type: 'ready'; fingerprint: string; tables: string[] }
  | { type: 'batch'; wire: ReturnType<typeof batchToWire>['wire'] }
  | { type: 'done'; faults: SourceFault[] }
  | { type: 'error'; error: WireError };

const port = parentPort;
if (!port) throw new Error('prepare-worker.ts runs only as a worker thread (see worker-batches.ts)');
const data = workerData as PrepareWorkerData;

const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const fail = (err: unknown) => post({ type: 'error', error: errorToWire(err) });

try {
  const file = data.module.startsWith('file:') ? fileURLToPath(data.module) : data.module;
  const mod = await withImportFileDir(dirname(file), () => importModule(file, 'import file'));
  const definition = mod[data.exportName ?? 'default'];
  if (!isDefinedImport(definition)) {
    throw new Error(`${file} does not export defineImport({ … }) as "${data.exportName ?? 'default'}"`);
  }
  const targets = planTargets(resolveSchema(definition.schema), definition.tables as Record<string, never>);
  const sources = namedSources(definition.source);
  post({ type: 'ready', fingerprint: await fingerprintSources(sources), tables: targets.map((t) => t.name) });
  const faults: SourceFault[] | undefined = data.partial ? [] : undefined;
  const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
  const batches = prepareBatches({ definition, sources, faults }, targets, keySets, data.resumeFrom, data.batchSize);
  let failed = false;
  const close = async () => {
    await batches.return(undefined as never).catch(() => {});
    await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));
  };
  port.on('message', (message: unknown) => {
    if (message === 'stop') {
      void close().finally(() => port.close());
      return;
    }
    if (message !== 'next' || failed) return;
    // Requests queue on the generator: each resolves in order.
    batches.next().then(
      (step) => {
        if (step.done) post({ type: 'done', faults: faults ?? [] });
        else {
          const { wire, transfer } = batchToWire(step.value);
          post({ type: 'batch', wire }, transfer);
        }
      },
      (err) => {
        failed = true;
        fail(err);
      },
    );
  });
} catch (err) {
  fail(err);
}
