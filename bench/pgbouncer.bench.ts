/**
 * What PgBouncer in transaction pooling mode costs Ferry, in one run: the
 * same repository calls on one database, straight to PostgreSQL and through
 * a PgBouncer of the bench's own (test/support/pgbouncer.ts, 10 server
 * connections, as many as the Ferry pool), as ratios "through PgBouncer /
 * direct". Two workloads: `repo.get` by primary key (one autocommit
 * statement) and a transaction of an insert and a read (BEGIN … COMMIT, the
 * unit PgBouncer hands a server connection for).
 *
 *   npm run bench -- pgbouncer
 */
import { sql } from 'kysely';
import pg from 'pg';
import * as schema from '../examples/hello-bot/schema.js';
import { connect } from '../src/index.js';
import { startPgbouncer } from '../test/support/pgbouncer.js';
import { compare, printTable, saveResult } from './lib.js';

const ROWS = 10_000;
const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB = 'ferry_bench_pgbouncer';

let n = 0;
const nextId = () => {
  n = (n * 7919 + 1) % ROWS;
  return n + 1;
};
let telegram = 9_000_000;

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${DB} with (force)`);
await admin.query(`create database ${DB}`);
const bouncer = await startPgbouncer({ poolSize: 10 });
const table: Record<string, string | number>[] = [];
try {
  const url = new URL(adminUrl);
  url.pathname = `/${DB}`;
  const direct = await connect({ schema, url: url.href, pool: { max: 10 } });
  const bounced = await connect({ schema, url: bouncer.url(DB), pool: { max: 10 } });
  await direct.createSchema();
  await sql
    .raw(`insert into users (telegram_id, username, first_name, language_code)
      select 5000000 + g, 'user_' || g, 'First ' || g, 'en' from generate_series(1, ${ROWS}) g`)
    .execute(direct.db);

  const get = (ferry: typeof direct) => () => ferry.repo(schema.users).get(nextId());
  const tx = (ferry: typeof direct) => () =>
    ferry.transaction(async (t) => {
      const row = await t.repo(schema.users).insert({ telegram_id: telegram++, username: 'b' });
      return t.repo(schema.users).get(row.id);
    });

  for (const [workload, op] of [
    ['repo.get', get],
    ['transaction (insert + get)', tx],
  ] as const) {
    for (const concurrency of [1, 8]) {
      const results = await compare(
        [
          { name: 'direct', op: op(direct) },
          { name: 'through PgBouncer', op: op(bounced) },
        ],
        { concurrency, samples: 1000 },
      );
      const base = results.find((r) => r.name === 'direct')!;
      for (const r of results) {
        table.push({
          workload,
          concurrency,
          path: r.name,
          'ops/s': Math.round(r.opsPerSec),
          'p50 µs': Math.round(r.p50us),
          'p99 µs': Math.round(r.p99us),
          'vs direct': Number((r.opsPerSec / base.opsPerSec).toFixed(3)),
        });
      }
    }
  }
  await bounced.close();
  await direct.close();
} finally {
  await bouncer.stop();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.end();
}

printTable('PgBouncer (transaction mode) vs direct PostgreSQL (median of 5 interleaved 1 s rounds)', table);
saveResult('pgbouncer', { table });
