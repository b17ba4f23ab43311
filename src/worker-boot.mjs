// A worker thread's first module when Ferry runs from its TypeScript sources
// (see startWorker in worker-thread.ts): tsx compiles the entry given as the
// worker's argument, and what it imports.
import { tsImport } from 'tsx/esm/api';

const entry = process.argv[2];
await tsImport(entry, entry);
