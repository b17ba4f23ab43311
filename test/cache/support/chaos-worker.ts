/**
 * One app process of the multi-process chaos suite (chaos-processes.test.ts):
 * a cache with default options on the suite's own redis-server, the truth in
 * a Postgres table (`id`, `version`), reader and writer loops.
 *
 * Driven over stdin/stdout, one JSON object per line each way:
 * { id, op } -> { id, result } | { id, error }. argv[2]: the WorkerConfig as JSON.
 *
 * Times are `performance.timeOrigin + performance.now()`: comparable across
 * the processes of one machine to well under a millisecond.
 */
import { createInterface } from 'node:readline';
import pg from 'pg';
import { createCache } from '../../../src/cache/index.js';

export interface WorkerConfig {
  redisUrl: string;
  namespace: string;
  pgUrl: string;
  table: string;
  keys: number;
  readers: number;
  writers: number;
}

/** What `stop` returns: flat arrays (triples), to keep the line short. */
export interface WorkerLog {
  /** start time, key, version returned — per read. */
  reads: number[];
  /** start time, key — per read that threw. */
  failed: number[];
  /**
   * commit time (the UPDATE's reply), key, version, and when Redis had
   * certainly run the invalidation (its reply; -1 when not confirmed: the
   * breaker was open or the delete failed, and it was remembered for a
   * replay) — per write.
   */
  commits: number[];
  errors: string[];
  stats: unknown;
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const cache = createCache({ redis: config.redisUrl, namespace: config.namespace, logger: false });
const pool = new pg.Pool({ connectionString: config.pgUrl, max: 4 });
const now = () => performance.timeOrigin + performance.now();
const rand = (n: number) => Math.floor(Math.random() * n);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const log: WorkerLog = { reads: [], failed: [], commits: [], errors: [], stats: null };
let running = false;
let loops: Promise<void>[] = [];

const load = (k: number) => async () => {
  const r = await pool.query<{ version: number }>(`select version from ${config.table} where id = $1`, [k]);
  return { k, v: r.rows[0]!.version };
};

async function reader(): Promise<void> {
  while (running) {
    const k = rand(config.keys);
    const t = now();
    try {
      const row = await cache.getOrSet(`row:${k}`, load(k));
      log.reads.push(t, k, row.v);
    } catch (err) {
      log.failed.push(t, k);
      if (log.errors.length < 10) log.errors.push(`read: ${String(err)}`);
    }
    await sleep(1 + rand(3));
  }
}

async function writer(): Promise<void> {
  while (running) {
    const k = rand(config.keys);
    try {
      const r = await pool.query<{ version: number }>(
        `update ${config.table} set version = version + 1 where id = $1 returning version`,
        [k],
      );
      // Committed (autocommit): the invalidation leaves in this same tick.
      const t = now();
      await cache.delete(`row:${k}`);
      // Nothing remembered for a replay: this delete's script ran on Redis before its reply.
      const ran = cache.stats().pendingInvalidations === 0 ? now() : -1;
      log.commits.push(t, k, r.rows[0]!.version, ran);
    } catch (err) {
      if (log.errors.length < 10) log.errors.push(`write: ${String(err)}`);
    }
    await sleep(5 + rand(15));
  }
}

async function handle(op: string): Promise<unknown> {
  switch (op) {
    case 'ready':
      return cache.ready(10_000);
    case 'start':
      running = true;
      loops = [...Array.from({ length: config.readers }, reader), ...Array.from({ length: config.writers }, writer)];
      return true;
    case 'stop':
      running = false;
      await Promise.all(loops);
      log.stats = cache.stats();
      return log;
    case 'check': {
      // What this process would serve now for every key (L1, else Redis): version or null.
      const out: (number | null)[] = [];
      for (let k = 0; k < config.keys; k++) out.push((await cache.get<{ v: number }>(`row:${k}`))?.v ?? null);
      return out;
    }
    case 'exit':
      await cache.close();
      await pool.end();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown op ${op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { id: number; op: string };
  handle(m.op).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: m.id, result: result ?? null })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id: m.id, error: err.message })}\n`),
  );
});
// The parent went away (the test failed or was interrupted): do not linger.
process.stdin.on('end', () => process.exit(0));
