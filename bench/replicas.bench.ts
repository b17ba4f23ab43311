/**
 * Read replicas, in one run against a primary and a streaming replica of the
 * bench's own (test/support/pg-cluster.ts: initdb + pg_basebackup on loopback
 * ports, stopped at the end):
 *
 * 1. Read throughput with 8 workers: a Ferry on the primary alone against a
 *    Ferry on the primary + 1 replica (reads routed there), for a point read
 *    (`repo.get`, bound by the client and round trips) and a scanning read
 *    (`repo.count` of 200k rows, bound by server CPU). Ratio = with / without.
 *    On this 2-core machine the two servers and Node share the same 2 cores:
 *    a replica adds no CPU, so the ratio says what routing costs or saves
 *    here, not what a replica on its own machine would add.
 * 2. Read-your-writes routing overhead per read: `repo.get` through the
 *    routing driver inside a consistency scope whose token the replica has
 *    already replayed (the cached check: a bigint compare), against the same
 *    `repo.get` on a Ferry opened directly on the replica (no routing).
 *    p50 of sequential reads, and Node CPU per read (paired rounds), whose
 *    difference is the routing's cost. Goal: p50 extra <= 50 µs.
 */
import { sql } from 'kysely';
import { connect, type Ferry } from '../src/index.js';
import { integer, serial, table, text } from '../src/schema/index.js';
import { startPgCluster } from '../test/support/pg-cluster.js';
import { compare, overhead, printTable, saveResult } from './lib.js';

const items = table('items', {
  id: serial().primaryKey(),
  name: text().notNull(),
  k: integer().notNull(),
});
const schema = { items };
const ROWS = 200_000;

let n = 0;
const nextId = () => {
  n = (n * 7919 + 1) % ROWS;
  return n + 1;
};

const cluster = await startPgCluster();
const opened: Ferry<any>[] = [];
try {
  const setup = await connect({ url: cluster.primary.url, schema });
  await setup.createSchema();
  await sql`insert into items (name, k) select 'item ' || g, g % 1000 from generate_series(1, ${ROWS}) g`.execute(
    setup.db,
  );
  await sql`analyze items`.execute(setup.db);
  await setup.close();
  await cluster.waitForCatchUp();

  const open = async (options: Parameters<typeof connect>[0]) => {
    const f = await connect({ schema, pool: { max: 10 }, ...options });
    opened.push(f as Ferry<any>);
    return f;
  };
  const alone = await open({ url: cluster.primary.url });
  const routed = await open({ url: cluster.primary.url, replicas: [cluster.replica.url] });
  const direct = await open({ url: cluster.replica.url });
  const served = { replica: 0, primary: 0 };
  routed.observers.current = { onRoute: (info) => served[info.target]++ };

  // ---- 1. throughput, 8 workers
  const rows: Record<string, string | number>[] = [];
  for (const [read, op, samples] of [
    ['repo.get (point read)', (f: typeof alone) => f.repo(items).get(nextId()), 2000],
    ['repo.count (scan of 200k rows)', (f: typeof alone) => f.repo(items).count({ k: nextId() % 1000 }), 100],
  ] as const) {
    const results = await compare(
      [
        { name: 'primary alone', op: () => op(alone) },
        { name: 'primary + 1 replica', op: () => op(routed) },
      ],
      { concurrency: 8, rounds: 5, roundMs: 1000, samples },
    );
    const [a, b] = results;
    rows.push({
      read,
      'primary alone ops/s': Math.round(a!.opsPerSec),
      'primary + replica ops/s': Math.round(b!.opsPerSec),
      ratio: Number((b!.opsPerSec / a!.opsPerSec).toFixed(3)),
    });
  }
  printTable('Read throughput, 8 workers (2-core machine: both servers and Node share the cores)', rows);
  console.log(`routed reads served: replica ${served.replica}, primary ${served.primary}`);

  // ---- 2. read-your-writes routing overhead, token cached
  const token = await routed.consistency(null, async () => {
    await routed.repo(items).update({ id: 1 }, { name: 'written' });
    return routed.token();
  });
  await cluster.waitForCatchUp();
  // One read to move the replica's cached replay position past the token.
  await routed.consistency(token, () => routed.repo(items).get(1));
  served.replica = 0;
  served.primary = 0;
  const viaToken = () => routed.consistency(token, () => routed.repo(items).get(nextId()));
  const straight = () => direct.repo(items).get(nextId());
  const lat = await compare(
    [
      { name: 'direct to the replica (no routing)', op: straight },
      { name: 'routed, read-your-writes token cached', op: viaToken },
    ],
    { concurrency: 1, rounds: 3, roundMs: 1000, samples: 5000 },
  );
  const cpu = await overhead(straight, viaToken, { concurrency: 1 });
  const extraP50 = lat[1]!.p50us - lat[0]!.p50us;
  const overheadRows = [
    {
      'p50 µs direct': Math.round(lat[0]!.p50us),
      'p50 µs routed': Math.round(lat[1]!.p50us),
      'p50 extra µs': Math.round(extraP50),
      'Node CPU µs/read direct': Number(cpu.cpuUsA.toFixed(1)),
      'Node CPU µs/read routed': Number(cpu.cpuUsB.toFixed(1)),
      'CPU extra µs': Number((cpu.cpuUsB - cpu.cpuUsA).toFixed(1)),
      'ops ratio routed/direct': Number(cpu.ratio.toFixed(3)),
      goal: extraP50 <= 50 ? 'pass (≤ 50 µs)' : 'FAIL (≤ 50 µs)',
    },
  ];
  printTable('Read-your-writes routing overhead per read (token cached)', overheadRows);
  console.log(
    `token reads served: replica ${served.replica}, primary ${served.primary} (expected: all on the replica)`,
  );
  saveResult('replicas', { throughput: rows, overhead: overheadRows, served });
} finally {
  for (const f of opened) await f.close().catch(() => {});
  await cluster.stop();
}
