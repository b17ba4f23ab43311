/**
 * Child-process helper for runner-concurrency.test.ts: open argv[2] (a
 * database URL), print `ready <pid>`, wait for a `go` line on stdin (so
 * several children start `up` at the same moment), run `Migrator.up()` on the
 * migrations in argv[3], print one JSON line `{ pid, result }` (or
 * `{ pid, error }`), close and exit (0 when the run was ok).
 *
 *   node --import tsx test/migrate/runner-child.ts <url> <dir> [lockTimeoutMs]
 */
import { createInterface } from 'node:readline';
import { openDatabase } from '../../src/db/open.js';
import { Migrator } from '../../src/migrate/runner.js';

const [url, dir, lockTimeout] = process.argv.slice(2);
if (!url || !dir) {
  process.stderr.write('usage: runner-child.ts <url> <dir> [lockTimeoutMs]\n');
  process.exit(2);
}

const handle = await openDatabase({ url });
process.stdout.write(`ready ${process.pid}\n`);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
lines.close();

let ok = false;
try {
  const migrator = new Migrator(handle.db, {
    dir,
    appliedBy: `child-${process.pid}`,
    ...(lockTimeout ? { lockTimeoutMs: Number(lockTimeout) } : {}),
  });
  const result = await migrator.up();
  ok = result.ok;
  process.stdout.write(`${JSON.stringify({ pid: process.pid, result })}\n`);
} catch (err) {
  const e = err as { code?: string; message?: string };
  process.stdout.write(`${JSON.stringify({ pid: process.pid, error: { code: e.code, message: e.message } })}\n`);
} finally {
  await handle.close();
}
process.exit(ok ? 0 : 1);
