/**
 * Child process of the backfill-kill test (live-move.test.ts): the backfill
 * import of Redis keys under `prefix` into `table`, with the if-newer guard,
 * reporting each committed batch over IPC so the test can SIGKILL it mid-way.
 *   node --import tsx backfill-child.ts '{"url":…,"redisUrl":…,"prefix":…,"table":…}'
 */
import { openDatabase } from '../../../src/db/open.js';
import { runImport } from '../../../src/import/loader.js';
import { backfillDefinition } from './items.js';

const config = JSON.parse(process.argv[2]!) as { url: string; redisUrl: string; prefix: string; table: string };
const db = await openDatabase({ url: config.url });
await runImport({
  db,
  definition: backfillDefinition(config),
  batchSize: 100,
  onProgress: (p) => process.send!({ cmd: 'progress', records: p.records }),
});
process.send!({ cmd: 'done' });
await db.close();
