/**
 * Repository `get` by primary key against the same lookup done by hand, in
 * one run: raw `pg` on an identical pool (Postgres) and raw `PGlite.query`
 * on an identical table (embedded). Goal: repo.get >= 0.9x raw throughput.
 *
 * Also repo.get with ferry/ops metrics on (the query observer timing every
 * call into a histogram) against the same repo.get with them off, on the
 * same handle: each op sets the handle's observer slot (on or off) before
 * its call, so the two differ only by the observer. Goal: >= 0.97x, judged by `overhead()`: paired
 * rounds whose ratios cancel drift, plus Node CPU per op.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import pg from 'pg';
import * as schema from '../examples/hello-bot/schema.js';
import type { QueryObserver } from '../src/db/observer.js';
import { connect, type Ferry } from '../src/index.js';
import { createMetrics } from '../src/ops/metrics.js';
import { createStatements } from '../src/schema/ddl.js';
import { defineSchema } from '../src/schema/schema.js';
import { compare, type Overhead, overhead, printTable, saveResult, type Throughput } from './lib.js';

const ROWS = 10_000;
const ddl = createStatements(defineSchema(schema).toIR());
const seedSql = `insert into users (telegram_id, username, first_name, language_code)
  select 5000000 + g, 'user_' || g, 'First ' || g, 'en' from generate_series(1, ${ROWS}) g`;
const raw = 'select * from users where id = $1 limit 1';

let n = 0;
const nextId = () => {
  n = (n * 7919 + 1) % ROWS;
  return n + 1;
};

async function seed(ferry: Ferry<unknown>) {
  await ferry.createSchema();
  await sql.raw(seedSql).execute(ferry.db);
}

/** Metrics on `ferry` for the bench; `on`/`off` switch its observer for the next call. */
function metricsSwitch(ferry: Ferry<unknown>) {
  const metrics = createMetrics(ferry, { sampleInterval: 0 });
  const observer = ferry.observers.current as QueryObserver;
  return {
    observer,
    on: () => {
      ferry.observers.current = observer;
    },
    off: () => {
      ferry.observers.current = undefined;
    },
    close: () => {
      ferry.observers.current = observer;
      metrics.close();
    },
  };
}

function rows(backend: string, concurrency: number, results: Throughput[], baseline: string) {
  const base = results.find((r) => r.name === baseline)!;
  const off = results.find((r) => r.name === 'ferry repo.get')!;
  return results.map((r) => ({
    backend,
    concurrency,
    contender: r.name,
    'ops/s': Math.round(r.opsPerSec),
    'p50 µs': Math.round(r.p50us),
    'p99 µs': Math.round(r.p99us),
    'vs raw': Number((r.opsPerSec / base.opsPerSec).toFixed(3)),
    'vs metrics off': r.name === 'ferry repo.get + metrics' ? Number((r.opsPerSec / off.opsPerSec).toFixed(3)) : '',
  }));
}

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Client({ connectionString: adminUrl });
const table: Record<string, string | number>[] = [];
const overheads: Record<string, string | number>[] = [];

/**
 * What metrics add to one repo.get, measured on its own (no I/O, so machine
 * noise barely moves it): the checkout and the query observation, each with
 * its two clock reads and its info object, as the pool and the repository
 * make them. The throughput ratio above is the goal's own measure; this says
 * how much of any difference the observer can account for.
 */
function observerCost(observer: QueryObserver): number {
  const N = 200_000;
  const once = () => {
    const a = performance.now();
    observer.onAcquire?.({ ms: performance.now() - a, timedOut: false });
    const q = performance.now();
    observer.onQuery?.({ operation: 'get', table: 'users', ms: performance.now() - q });
  };
  for (let i = 0; i < 20_000; i++) once();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const cpu = process.cpuUsage();
    for (let i = 0; i < N; i++) once();
    const used = process.cpuUsage(cpu);
    best = Math.min(best, (used.user + used.system) / N);
  }
  return best;
}

/** The metrics goal's row: paired rounds of repo.get with metrics off (A) and on (B). */
async function metricsOverhead(
  backend: string,
  concurrency: number,
  repo: { get(id: number): Promise<unknown> },
  metrics: { on(): void; off(): void; observer: QueryObserver },
) {
  const [off, on] = repoGets(repo, metrics);
  const o: Overhead = await overhead(off!.op, on!.op, { concurrency });
  const observerUs = observerCost(metrics.observer);
  overheads.push({
    backend,
    concurrency,
    'on/off (median of 15 pairs)': Number(o.ratio.toFixed(3)),
    'pairs min–max': `${Math.min(...o.ratios).toFixed(3)}–${Math.max(...o.ratios).toFixed(3)}`,
    'Node CPU µs/op off': Number(o.cpuUsA.toFixed(1)),
    'Node CPU µs/op on': Number(o.cpuUsB.toFixed(1)),
    'CPU added': `${(((o.cpuUsB - o.cpuUsA) / o.cpuUsA) * 100).toFixed(1)}%`,
    'observer µs/op': Number(observerUs.toFixed(2)),
    'observer share of CPU/op': `${((observerUs / o.cpuUsA) * 100).toFixed(2)}%`,
    goal: o.ratio >= 0.97 ? 'pass (≥ 0.97)' : 'FAIL (≥ 0.97)',
  });
}

// ---- Postgres
let pgAvailable = true;
try {
  await admin.connect();
  await admin.query('drop database if exists ferry_bench with (force)');
  await admin.query('create database ferry_bench');
} catch (err) {
  pgAvailable = false;
  console.log(`postgres unavailable, skipping: ${(err as Error).message}`);
}
if (pgAvailable) {
  const url = new URL(adminUrl);
  url.pathname = '/ferry_bench';
  const ferry = await connect({ schema, url: url.href, pool: { max: 10 } });
  await seed(ferry as Ferry<unknown>);
  const pool = new pg.Pool({ connectionString: url.href, max: 10 });
  // A client still closing when the database is dropped (with force) errors on the pool: not the bench's result.
  pool.on('error', () => {});
  const repo = ferry.repo(schema.users);
  const metrics = metricsSwitch(ferry as Ferry<unknown>);
  for (const concurrency of [1, 8]) {
    const results = await compare(
      [
        { name: 'raw pg', op: () => pool.query(raw, [nextId()]) },
        ...repoGets(repo, metrics),
        {
          name: 'kysely builder',
          op: () => ferry.db.selectFrom('users').selectAll().where('id', '=', nextId()).executeTakeFirst(),
        },
      ],
      { concurrency },
    );
    table.push(...rows('postgres', concurrency, results, 'raw pg'));
    await metricsOverhead('postgres', concurrency, repo, metrics);
  }
  metrics.close();
  await pool.end();
  await ferry.close();
  await admin.query('drop database if exists ferry_bench with (force)');
}
await admin.end().catch(() => {});

// ---- PGlite: same table and rows in two embedded databases
const dirA = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
const dirB = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
try {
  const ferry = await connect({ schema, url: `pglite:${dirA}` });
  await seed(ferry as Ferry<unknown>);
  const lite = await PGlite.create(dirB);
  for (const statement of ddl) await lite.exec(statement);
  await lite.exec(seedSql);
  const repo = ferry.repo(schema.users);
  const metrics = metricsSwitch(ferry as Ferry<unknown>);
  const results = await compare([
    { name: 'raw PGlite.query', op: () => lite.query(raw, [nextId()]) },
    ...repoGets(repo, metrics),
    {
      name: 'kysely builder',
      op: () => ferry.db.selectFrom('users').selectAll().where('id', '=', nextId()).executeTakeFirst(),
    },
  ]);
  table.push(...rows('pglite', 1, results, 'raw PGlite.query'));
  await metricsOverhead('pglite', 1, repo, metrics);
  metrics.close();
  await lite.close();
  await ferry.close();
} finally {
  rmSync(dirA, { recursive: true, force: true });
  rmSync(dirB, { recursive: true, force: true });
}

printTable('repo.get by primary key vs raw driver (median of 5 interleaved 1 s rounds)', table);
printTable('metrics overhead on repo.get: on vs off in back-to-back 1 s round pairs', overheads);
saveResult('repo-get', { table, overheads });

/** `repo.get` with metrics off and on, the same handle switched per call (the ratio between them is the overhead). */
function repoGets(repo: { get(id: number): Promise<unknown> }, metrics: { on(): void; off(): void }) {
  return [
    {
      name: 'ferry repo.get',
      op: () => {
        metrics.off();
        return repo.get(nextId());
      },
    },
    {
      name: 'ferry repo.get + metrics',
      op: () => {
        metrics.on();
        return repo.get(nextId());
      },
    },
  ];
}
