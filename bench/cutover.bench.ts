/**
 * A live cutover from Redis to Postgres, per stage, in one run: request
 * p50/p99 of reads and writes through `defineCutover` in every stage, beside
 * the same calls on the old store alone (Redis, `redisStore`) and on the new
 * store alone (Postgres, `repositoryStore`). One sequential client (with a
 * pause between requests, see THINK_MS), the contenders interleaved round by
 * round so machine noise hits them alike.
 *
 * Goals (issue 15), printed with pass/FAIL:
 *   - `shadow` read p99 ≤ 1.2× the primary-only (Redis) read p99: the shadow
 *     read runs beside the answer, never before it;
 *   - `dual-write` write p50 ≤ 1.1× (Redis write p50 + Postgres write p50);
 *   - the backfill import (Redis → Postgres, if-newer) under dual writes ≥
 *     0.7× the records/s of the same import with no traffic.
 * The dual-write goal sits below a physical limit: a crash-safe dual write
 * journals its intent in Postgres BEFORE the first store is written (else a
 * SIGKILL between the two writes loses the second), one more round trip. That
 * intent (the journal's own insert, alone) is measured in the same run, and
 * the floor it sets, (old + new + intent) / (old + new), is printed next to
 * the goal.
 *
 *   npm run bench -- cutover           FERRY_BENCH_SAMPLES (per contender, default 2000)
 *                                      FERRY_BENCH_THINK_MS (pause between requests, default 1)
 *                                      FERRY_BENCH_BACKFILL (records, default 20000)
 * Figures are as measured on whatever else the machine runs at the time.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { advance } from '../src/cutover/advance.js';
import { type Cutover, defineCutover } from '../src/cutover/cutover.js';
import { Journal } from '../src/cutover/journal.js';
import { STAGES, type Stage } from '../src/cutover/stages.js';
import type { CutoverStore } from '../src/cutover/store.js';
import { redisStore } from '../src/cutover/stores/redis.js';
import { repositoryStore } from '../src/cutover/stores/repository.js';
import { ensureTables } from '../src/cutover/tables.js';
import { openDatabase } from '../src/db/open.js';
import { defineImport } from '../src/import/define.js';
import { runImport } from '../src/import/loader.js';
import { redis as redisSource } from '../src/import/sources/redis.js';
import { connect } from '../src/index.js';
import { integer, table, text, timestamptz } from '../src/schema/index.js';
import { printTable, saveResult } from './lib.js';

const SAMPLES = Number(process.env.FERRY_BENCH_SAMPLES ?? 2000);
/**
 * Pause between two requests of the client (ms). An app serving requests is
 * not at 100% CPU: the work a cutover does beside a request (the shadow read
 * it starts once the answer is back, the batched settle of a dual write)
 * runs between requests. With no pause (0) that work lands inside the next
 * request's timing instead: a measure of CPU per request, not of latency.
 */
const THINK_MS = Number(process.env.FERRY_BENCH_THINK_MS ?? 1);
const ROUNDS = 6;
const BACKFILL = Number(process.env.FERRY_BENCH_BACKFILL ?? 20_000);
const KEYS = 1000;
const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB = `ferry_bench_cutover_${process.pid}`;

const items = table('bench_items', {
  id: text().primaryKey(),
  body: text().notNull(),
  n: integer().notNull(),
  updated_at: timestamptz().notNull(),
});
const backfilled = table('bench_backfill', {
  id: text().primaryKey(),
  body: text().notNull(),
  n: integer().notNull(),
  updated_at: timestamptz().notNull(),
});
const schema = { items, backfilled };
type Item = { id: string; body: string; n: number; updated_at: string | Date };

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${DB} with (force)`);
await admin.query(`create database ${DB}`);
const url = new URL(adminUrl);
url.pathname = `/${DB}`;
const ferry = await connect({ url: url.toString(), schema });
const handle = await openDatabase({ url: url.toString() });
const client = new Redis(redisUrl);
const prefix = `bench:cutover:${randomBytes(3).toString('hex')}:`;
const opened: Cutover<Item>[] = [];

let version = Date.now();
let n = 0;
const item = (id: string): Item => ({
  id,
  body: 'x'.repeat(64),
  n: ++n,
  updated_at: new Date(++version).toISOString(),
});
let k = 0;
const nextKey = () => {
  k = (k * 7919 + 1) % KEYS;
  return `k${k}`;
};

try {
  await ferry.createSchema();
  await ensureTables(ferry);
  const old = redisStore<Item>(client, { prefix, type: 'json' });
  const neu = repositoryStore(ferry.repo(items)) as CutoverStore<Item>;
  for (let i = 0; i < KEYS; i++) {
    await old.put(`k${i}`, item(`k${i}`));
    await neu.put(`k${i}`, item(`k${i}`));
  }
  const journal = new Journal({ db: ferry, name: 'bench-intent', instanceId: 'bench', stores: { old, new: neu } });

  // ---- latency per contender -------------------------------------------------------------------------
  const cutovers = new Map<Stage, Cutover<Item>>();
  for (const stage of STAGES) {
    const c = defineCutover<Item>({
      name: `bench-${stage}`,
      old,
      new: neu,
      db: ferry,
      initialStage: stage,
      poll: '1s',
    });
    await c.ready();
    cutovers.set(stage, c);
    opened.push(c);
  }
  type Op = () => Promise<unknown>;
  const contenders: { name: string; kind: 'read' | 'write'; op: Op }[] = [
    { name: 'redis alone', kind: 'read', op: () => old.get(nextKey()) },
    { name: 'redis alone', kind: 'write', op: () => old.put(nextKey(), item(`k${k}`)) },
    { name: 'postgres alone', kind: 'read', op: () => neu.get(nextKey()) },
    { name: 'postgres alone', kind: 'write', op: () => neu.put(nextKey(), item(`k${k}`)) },
    {
      name: 'journal intent alone',
      kind: 'write',
      op: () => journal.intend(nextKey(), 'put', item(`k${k}`), 'old', 'new'),
    },
  ];
  for (const [stage, c] of cutovers) {
    contenders.push({ name: `cutover ${stage}`, kind: 'read', op: () => c.read(nextKey()) });
    contenders.push({ name: `cutover ${stage}`, kind: 'write', op: () => c.write(nextKey(), item(`k${k}`)) });
  }
  const samples = new Map(contenders.map((c) => [`${c.name}/${c.kind}`, [] as number[]]));
  for (const c of contenders) for (let i = 0; i < 200; i++) await c.op(); // warm up
  const perRound = Math.ceil(SAMPLES / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      const out = samples.get(`${c.name}/${c.kind}`)!;
      for (let i = 0; i < perRound; i++) {
        const t = performance.now();
        await c.op();
        out.push((performance.now() - t) * 1000);
        if (THINK_MS > 0) await new Promise((resolve) => setTimeout(resolve, THINK_MS));
      }
    }
    // Shadow comparisons and journal rows pile up: flush between rounds, outside the timed calls.
    for (const c of cutovers.values()) await c.flush();
  }
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
  };
  const stat = (name: string, kind: 'read' | 'write') => {
    const xs = samples.get(`${name}/${kind}`)!;
    return { p50: pct(xs, 0.5), p99: pct(xs, 0.99) };
  };
  const latency = contenders.map((c) => {
    const s = stat(c.name, c.kind);
    return { contender: c.name, op: c.kind, 'p50 µs': Math.round(s.p50), 'p99 µs': Math.round(s.p99) };
  });
  printTable(
    `latency, one sequential client pausing ${THINK_MS} ms between requests, ${perRound * ROUNDS} samples each (Redis → Postgres)`,
    latency,
  );

  // ---- backfill with and without traffic ----------------------------------------------------------------
  const sourcePrefix = `${prefix}src:`;
  const pipe = client.pipeline();
  for (let i = 0; i < BACKFILL; i++) pipe.set(`${sourcePrefix}b${i}`, JSON.stringify(item(`b${i}`)));
  await pipe.exec();
  const definition = defineImport({
    name: 'bench-backfill',
    schema: { bench_backfill: backfilled },
    source: redisSource({ url: redisUrl, match: `${sourcePrefix}*`, type: 'json' }),
    tables: { bench_backfill: { key: ['id'], onConflict: { update: 'if-newer', by: 'updated_at' } } },
    map: (r: { value: unknown }) => ({ bench_backfill: r.value as never }),
  } as never);
  const backfill = async () => {
    await ferry.db.deleteFrom('bench_backfill' as never).execute();
    const t = performance.now();
    await runImport({ db: handle, definition, mode: 'restart' });
    return BACKFILL / ((performance.now() - t) / 1000);
  };
  const live = defineCutover<Item>({
    name: 'bench-backfill',
    old: redisStore<Item>(client, { prefix: sourcePrefix, type: 'json' }),
    new: repositoryStore(ferry.repo(backfilled)) as CutoverStore<Item>,
    db: ferry,
    poll: '1s',
  });
  opened.push(live);
  await live.ready();
  await advance(ferry, 'bench-backfill', { wait: '10s' });
  await live.refresh();
  const quiet: number[] = [];
  const busy: number[] = [];
  let trafficWrites = 0;
  const trafficRates: number[] = [];
  for (let r = 0; r < 3; r++) {
    quiet.push(await backfill());
    let running = true;
    // 4 app clients writing through the cutover (dual-write) for the whole import, pausing as above.
    const traffic = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; running; i++) {
        const id = `b${(i * 4 + w) % BACKFILL}`;
        await live.write(id, item(id));
        trafficWrites++;
        if (THINK_MS > 0) await new Promise((resolve) => setTimeout(resolve, THINK_MS));
      }
    });
    const started = performance.now();
    const before = trafficWrites;
    busy.push(await backfill());
    trafficRates.push((trafficWrites - before) / ((performance.now() - started) / 1000));
    running = false;
    await Promise.all(traffic);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  printTable(`backfill of ${BACKFILL} Redis keys (if-newer), median of 3`, [
    { run: 'no traffic', 'records/s': Math.round(med(quiet)), 'app writes/s': 0 },
    {
      run: `under dual writes (4 clients, ${THINK_MS} ms pauses)`,
      'records/s': Math.round(med(busy)),
      'app writes/s': Math.round(med(trafficRates)),
    },
  ]);

  // ---- goals ----------------------------------------------------------------------------------------------
  const redisRead = stat('redis alone', 'read');
  const redisWrite = stat('redis alone', 'write');
  const pgWrite = stat('postgres alone', 'write');
  const intent = stat('journal intent alone', 'write');
  const shadow = stat('cutover shadow', 'read');
  const dual = stat('cutover dual-write', 'write');
  const sum = redisWrite.p50 + pgWrite.p50;
  const goals = [
    {
      goal: 'shadow read p99 ≤ 1.2× primary-only (redis) p99',
      measured: `${(shadow.p99 / redisRead.p99).toFixed(2)}×`,
      limit: '',
      result: shadow.p99 <= 1.2 * redisRead.p99 ? 'pass' : 'FAIL',
    },
    {
      goal: 'dual-write p50 ≤ 1.1× (redis write + postgres write)',
      measured: `${(dual.p50 / sum).toFixed(2)}×`,
      limit: `${((sum + intent.p50) / sum).toFixed(2)}× (journal intent ${Math.round(intent.p50)} µs)`,
      result: dual.p50 <= 1.1 * sum ? 'pass' : 'FAIL',
    },
    {
      goal: 'backfill under dual writes ≥ 0.7× without traffic',
      measured: `${(med(busy) / med(quiet)).toFixed(2)}×`,
      limit: '',
      result: med(busy) >= 0.7 * med(quiet) ? 'pass' : 'FAIL',
    },
  ];
  printTable('goals (limit: the floor a crash-safe dual write cannot go below, measured in this run)', goals);
  saveResult('cutover', { latency, backfill: { quiet, busy, trafficRates }, goals });
} finally {
  for (const c of opened) await c.close().catch(() => {});
  const keys = await client.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 1000) await client.del(...keys.slice(i, i + 1000));
  client.disconnect();
  await handle.close();
  await ferry.close();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.end();
}
