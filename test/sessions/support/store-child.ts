/**
 * A session store in another process, driven over stdin/stdout (one JSON
 * object per line each way): { id, op, ... } -> { id, result } | { id, error }.
 * argv: Postgres URL, Redis URL, key prefix, outboxPollMs.
 */
import { createInterface } from 'node:readline';
import { openDatabase } from '../../../src/db/open.js';
import { createSessionStore } from '../../../src/sessions/index.js';

const [pgUrl, redisUrl, prefix, pollMs] = process.argv.slice(2) as [string, string, string, string];
const handle = await openDatabase({ url: pgUrl });
const store = createSessionStore<{ n: number }>({
  redis: redisUrl,
  ttl: '60s',
  prefix,
  persist: { db: handle.db, outboxPollMs: Number(pollMs) },
  onError: () => {}, // the cut-off instance's Redis errors are expected
});

type Msg = { id: number; op: string; userId?: string; ref?: string; data?: { n: number } };

async function run(m: Msg): Promise<unknown> {
  switch (m.op) {
    case 'create':
      return store.create(m.userId!, m.data!);
    case 'get':
    case 'touch': {
      // The poll count is read before the call: a read that starts after a given poll must honour it.
      const pollsBefore = store.stats().outboxPolls;
      const got = await (m.op === 'get' ? store.get(m.ref!) : store.touch(m.ref!));
      return { live: got !== null, pollsBefore };
    }
    case 'revoke':
      return store.revoke(m.ref!);
    case 'stats':
      return store.stats();
    case 'exit':
      await store.close();
      await handle.close();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as Msg;
  run(m).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: m.id, result: result ?? null })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id: m.id, error: err.message })}\n`),
  );
});
process.stdout.write(`${JSON.stringify({ id: 0, result: 'ready' })}\n`);
