/**
 * Child-process helper: open the database URL given as argv[2], print
 * `ready <pid>`, keep it open until stdin closes, then close and exit.
 * Run with `node --import tsx test/support/hold-database.ts <url>`.
 */
import { openDatabase } from '../../src/db/open.js';

const handle = await openDatabase({ url: process.argv[2] });
process.stdout.write(`ready ${process.pid}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void handle.close().then(() => process.exit(0));
});
