/**
 * Child process of the JSON file store's crash test: puts ever new versions
 * of one big value through jsonFileStore, printing each version number once
 * its put resolved, until killed.
 *   node --import tsx json-writer.ts <file>
 */
import { jsonFileStore } from '../../../src/cutover/stores/json-file.js';

const file = process.argv[2] as string;
const store = jsonFileStore<{ id: string; v: string; n: number }>(file);
const filler = 'x'.repeat(2_000_000);
for (let n = 1; ; n++) {
  await store.put('big', { id: 'big', v: filler, n });
  process.stdout.write(`${n}\n`);
}
