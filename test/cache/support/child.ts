/**
 * A cache in another process, driven over stdin/stdout (one JSON object per
 * line each way): { id, op, ... } -> { id, result } | { id, error }.
 * argv: redis URL, namespace.
 */
import { createInterface } from 'node:readline';
import { createCache } from '../../../src/cache/index.js';

const [url, namespace] = process.argv.slice(2) as [string, string];
const cache = createCache({ redis: url, namespace, logger: false });
let loaderCalls = 0;

type Msg = { id: number; op: string; key?: string; value?: unknown; n?: number; delayMs?: number };

async function handle(m: Msg): Promise<unknown> {
  switch (m.op) {
    case 'ready':
      return cache.ready();
    case 'get':
      return cache.get(m.key!);
    case 'set':
      return cache.set(m.key!, m.value);
    case 'delete':
      return cache.delete(m.key!);
    case 'deleteIn':
      // Answer now, invalidate `delayMs` later (while the parent may be busy).
      setTimeout(() => void cache.delete(m.key!), m.delayMs ?? 0);
      return true;
    case 'stampede': {
      const before = loaderCalls;
      const values = await Promise.all(
        Array.from({ length: m.n! }, () =>
          cache.getOrSet(m.key!, async () => {
            loaderCalls++;
            await new Promise((r) => setTimeout(r, m.delayMs ?? 50));
            return m.value;
          }),
        ),
      );
      return { calls: loaderCalls - before, distinct: [...new Set(values.map((v) => JSON.stringify(v)))] };
    }
    case 'stats':
      return cache.stats();
    case 'exit':
      await cache.close();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = JSON.parse(line) as Msg;
  handle(m).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: m.id, result: result ?? null })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id: m.id, error: err.message })}\n`),
  );
});
