/**
 * The live cutover of Kuya Comps, end to end, in under a minute, on a fresh
 * clone with no server at all, or on PostgreSQL and Redis:
 *
 *   npx tsx examples/comps/demo.ts [--stage-ms 4000] [--concurrency 8]
 *
 * (defaults on PGlite, which answers one query at a time: 3000 ms and 4)
 * Backends, printed at the start and in the summary (`backends`):
 * - the database: a scratch database on the server of `DATABASE_URL`,
 *   created and dropped by the run; without `DATABASE_URL`, an embedded
 *   PGlite in a temp folder, removed at the end;
 * - the old app's store: Redis (`REDIS_URL`, else 127.0.0.1:6379, probed
 *   with a 1-second timeout), keys under a prefix of the run's own, deleted
 *   at the end; when no Redis answers, the same results in a JSON file in
 *   the temp folder (`jsonSearchStore`: Ferry's `jsonFileStore` with the
 *   same TTLs), and the backfill reads that file instead of the keys.
 *
 * 1. Seeds the old app's state: search results in its store (Redis keys
 *    `<prefix>:sold:<card>|…`, `<prefix>:active:…`, or the file), written by
 *    the old app itself (legacy.ts).
 * 2. Starts the service (serve.ts) on loopback with the `comps-searches`
 *    cutover as its results store (cutover.ts), in stage `off`.
 * 3. Runs the bounded load generator (loadgen.ts) without a break while it
 *    moves the cutover through every stage with `advance()`:
 *    off → dual-write → (the backfill, backfill.ts, imports the old data
 *    while the load goes on) → shadow → live → rampdown → complete. The
 *    searches keep meeting cards nobody searched yet, so every stage writes.
 *    `shadow` → `live` passes the gate: the newest comparisons of shadow
 *    reads must hold no mismatch.
 * 4. Prints one JSON summary: requests, failed, lost writes (every result
 *    the service answered as fetched, hence wrote, and every result the old
 *    app had cached, must be in the database at the end, equal), mismatches,
 *    journal depth, p50/p99 per stage. Exit code 1 unless it ended in
 *    `complete` with nothing failed, lost or mismatched.
 *
 * `runCutoverDemo` is the run itself, on a database you give it (the tests
 * call it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import pg from 'pg';
import {
  advance,
  type CutoverStore,
  journalDepth,
  STAGES,
  type Stage,
  status,
  type VerifyReport,
  verifyCutover,
} from '../../src/cutover/index.js';
import { openDatabase } from '../../src/db/open.js';
import { runImport } from '../../src/import/index.js';
import { defineSchema, Ferry, redactUrl } from '../../src/index.js';
import { createRedisClient } from '../../src/redis/connection.js';
import { withTimeout } from '../../src/redis/health.js';
import { compsBackfill } from './backfill.js';
import { COMPS_CUTOVER, searchResultComparator } from './cutover.js';
import { createLegacyComps } from './legacy.js';
import { DEFAULT_CARDS, type LatencySummary, latencySummary, type RequestOutcome, runLoad } from './loadgen.js';
import { serveComps } from './serve.js';
import {
  compsSchema,
  type DB,
  jsonSearchStore,
  postgresSearchStore,
  redisSearchStore,
  type SearchResult,
} from './store.js';
import { createUpstream, type SearchKind } from './upstream.js';

export interface CutoverDemoOptions {
  /**
   * The database to run in (migrated by the service): a Postgres URL or `pglite:<dir>`; the demo's main
   * creates a scratch one.
   */
  url: string;
  /**
   * Redis of the old app's keys and of the cutover's pub/sub (default `REDIS_URL`, else 127.0.0.1:6379);
   * `null`: no Redis, the old app's results are in `legacyFile` and the instances poll the stage.
   */
  redisUrl?: string | null;
  /** Prefix of the old app's keys (default a fresh `kuyademo<hex>`); deleted at the end. */
  prefix?: string;
  /**
   * Without Redis: the JSON file of the old app's results (`jsonSearchStore`); default one in a temp folder
   * of the run's own. Removed at the end either way.
   */
  legacyFile?: string;
  /** Least time held in each stage, ms (default 4000). */
  stageMs?: number;
  /** Requests in flight (default 8). */
  concurrency?: number;
  /** Cards the old app has results of (default 12; the first six are loadgen's). */
  legacyCards?: number;
  /** Cards never searched before that each load slice adds (default 2): the writes of every stage. */
  freshCards?: number;
  /** Length of one load slice, ms (default 500): the load never stops, its cards change per slice. */
  sliceMs?: number;
  /** Shadow comparisons the gate looks at (default 100); all must be clean. */
  gateWindow?: number;
  /** Latency of the stand-in upstream, ms (default 20). */
  upstreamDelayMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface StageSummary extends Omit<LatencySummary, 'max'> {}

export interface CutoverDemoSummary {
  cutover: string;
  /** Where it ran: the database's backend and the old app's store. */
  backends: { database: 'postgres' | 'pglite'; legacy: 'redis' | 'json-file' };
  finalStage: Stage;
  requests: number;
  failed: number;
  /** Results written (by the service, or cached by the old app) that the database does not hold, equal, at the end. */
  lostWrites: number;
  /** Results the service answered as fetched from the upstream: each was written through the cutover first. */
  writesAcknowledged: number;
  /** Results the old app had in its store before the move (the backfill's to bring). */
  legacyResults: number;
  comparisons: number;
  mismatches: number;
  /** Writes of the second store that failed and waited in the journal, and the journal left at the end. */
  journaled: number;
  journalDepth: number;
  backfill: { records: number; searches: TableCounts; listing_cache: TableCounts; ms: number };
  /**
   * `verifyCutover` before shadow → live (the gate requires it clean): the last of `runs` (up to 3, again
   * only when differences were found: writes caught between their two stores settle), its rows and time.
   */
  verify: { clean: boolean; runs: number; rows: { old: number; new: number }; differences: number; ms: number };
  stages: Record<Stage, StageSummary>;
  /** The first failures and lost keys, for the log. */
  errors: string[];
  seconds: number;
}

interface TableCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Loadgen's six cards, then more of the same shape (deterministic). */
function cardNames(n: number): string[] {
  const players = [
    'Juan Soto',
    'Ronald Acuna Jr',
    'Wander Franco',
    'Julio Rodriguez',
    'Bobby Witt Jr',
    'Elly De La Cruz',
  ];
  const out: string[] = [...DEFAULT_CARDS].slice(0, n);
  for (let i = out.length; i < n; i++) out.push(`${2015 + (i % 9)} Topps Chrome ${players[i % players.length]} #${i}`);
  return out;
}

/**
 * Run the cutover demo on `url` (see the module comment); resolves with the summary, leaves no Redis key
 * (or legacy file) behind.
 */
export async function runCutoverDemo(options: CutoverDemoOptions): Promise<CutoverDemoSummary> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const redisUrl =
    options.redisUrl === null
      ? null
      : (options.redisUrl ?? (process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379'));
  const prefix = options.prefix ?? `kuyademo${randomBytes(4).toString('hex')}`;
  const stageMs = options.stageMs ?? 4_000;
  const sliceMs = options.sliceMs ?? 500;
  const gateWindow = options.gateWindow ?? 100;
  const legacyCards = cardNames(options.legacyCards ?? 12);
  const freshCards = options.freshCards ?? 2;
  const redis: Redis | null = redisUrl
    ? createRedisClient(redisUrl, { mode: 'queue', what: 'comps cutover demo' })
    : null;
  // Without Redis, the old app's results live in a JSON file (in a temp folder of the run's own unless given).
  const tempDir = redis || options.legacyFile ? null : await mkdtemp(path.join(os.tmpdir(), 'ferry-comps-legacy-'));
  const legacyFile = redis ? null : (options.legacyFile ?? path.join(tempDir as string, 'legacy-results.json'));
  /** The old app's store, as the old app, the cutover and verify each see it (each its own view of it). */
  const oldStore = (now?: () => Date): CutoverStore<SearchResult> =>
    redis ? redisSearchStore(redis, { prefix, now }) : jsonSearchStore(legacyFile as string, { now });
  // One handle for the service and the backfill: an embedded PGlite has one connection, and one process only.
  const handle = await openDatabase({ url: options.url }).catch(async (err: unknown) => {
    redis?.disconnect();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    throw err;
  });
  const ferry = new Ferry<DB>(handle, defineSchema(compsSchema), {});
  const backends: CutoverDemoSummary['backends'] = {
    database: handle.backend,
    legacy: redis ? 'redis' : 'json-file',
  };
  log(
    `database: ${handle.redactedUrl}; old app's store: ${redis ? `Redis ${redactUrl(redisUrl as string)}, keys ${prefix}:*` : `JSON file ${legacyFile}`}`,
  );
  let service: Awaited<ReturnType<typeof serveComps>> | undefined;
  try {
    // 1. The old app's state: its own searches, cached a minute ago (well inside even the 5-minute TTL).
    const seededAt = () => new Date(Date.now() - 60_000);
    const legacy = createLegacyComps({
      store: oldStore(seededAt),
      upstream: createUpstream({ delayMs: 0 }),
      now: seededAt,
    });
    const legacyResults: SearchResult[] = [];
    for (const card of legacyCards) {
      for (const kind of ['sold', 'active'] as const) {
        for (const filters of [{}, { raw_only: true }]) {
          legacyResults.push((await legacy.search(kind, card, filters)).result);
        }
      }
    }
    log(`seeded ${legacyResults.length} results the old app cached (${legacy.store.label})`);

    // 2. The service, with the cutover as its results store. Its own cache tier (Ferry's, in Redis) is off:
    // the Redis keys being moved *are* the old app's cache, and a second cache in front would answer nearly
    // every search before the cutover saw it, leaving the shadow reads nothing to compare.
    const fetched: SearchResult[] = [];
    service = await serveComps({
      ferry,
      redis: null,
      upstream: createUpstream({ delayMs: options.upstreamDelayMs ?? 20 }),
      cutover: redisUrl ? { redisUrl, prefix, poll: 200 } : { old: oldStore(), poll: 200 },
      onSearch: (_kind: SearchKind, source, result) => {
        if (source === 'upstream') fetched.push(result);
      },
    });
    const cutover = service.cutover;
    if (!cutover) throw new Error('the service started without its cutover');
    log(`service on ${service.ops.url}, cutover ${COMPS_CUTOVER} at ${cutover.stage}`);

    // 3. The load, without a break: slices of `sliceMs`, each with a couple of cards never searched before.
    const outcomes = Object.fromEntries(STAGES.map((s) => [s, [] as RequestOutcome[]])) as Record<
      Stage,
      RequestOutcome[]
    >;
    let stopping = false;
    const driver = (async () => {
      for (let slice = 0; !stopping; slice++) {
        const fresh = Array.from({ length: freshCards }, (_, j) => `2024 Prizm Demo Rookie ${slice}-${j}`);
        await runLoad({
          baseUrl: service.ops.url,
          concurrency: options.concurrency ?? 8,
          durationMs: sliceMs,
          cards: [...legacyCards, ...fresh],
          seed: slice + 1,
          onResult: (o) => outcomes[cutover.stage].push(o),
        });
      }
    })();

    /** Replay what the journal holds until it is empty (at most ~2 s: a write still failing stays for the summary). */
    const drainJournal = async () => {
      for (let i = 0; i < 20; i++) {
        const depth = await journalDepth(ferry, COMPS_CUTOVER);
        if (depth.pending + depth.inflight === 0) return;
        await cutover.drain();
        await sleep(100);
      }
    };

    const step = async (to: Stage) => {
      await advance(ferry, COMPS_CUTOVER, {
        to,
        // With Redis the instances follow at once (pub/sub); without, at their next poll (200 ms here).
        ...(redisUrl ? { redis: redisUrl } : {}),
        by: 'comps demo',
        // shadow → live also needs the clean verify recorded just before (as `ferry cutover verify` records it).
        gate: { window: gateWindow, maxMismatchRate: 0, requireVerify: true },
      });
      await cutover.refresh();
      log(`→ ${cutover.stage}`);
    };

    let backfill: CutoverDemoSummary['backfill'];
    let verify: CutoverDemoSummary['verify'] | undefined;
    try {
      await sleep(stageMs);
      await step('dual-write');
      // Dual writes run: whatever the app writes from now on reaches the database, so the old store's data
      // is all that is missing. The backfill brings it, beside the load.
      const definition = compsBackfill(redisUrl ? { redisUrl, prefix } : { file: legacyFile as string });
      const [report] = await Promise.all([runImport({ db: handle, definition, rejectsFile: null }), sleep(stageMs)]);
      const counts = (name: string): TableCounts => {
        const t = report.tables[name];
        return {
          inserted: t?.inserted ?? 0,
          updated: t?.updated ?? 0,
          unchanged: t?.unchanged ?? 0,
          stale: t?.stale ?? 0,
        };
      };
      backfill = {
        records: report.records,
        searches: counts('searches'),
        listing_cache: counts('listing_cache'),
        ms: Math.round(report.durationMs),
      };
      log(`backfill: ${report.records} old results imported in ${backfill.ms} ms`);
      await step('shadow');
      const shadowUntil = performance.now() + Math.max(stageMs, 30_000);
      await sleep(stageMs);
      while (cutover.stats().comparisons < gateWindow && performance.now() < shadowUntil) await sleep(50);
      await cutover.flush(); // the gate reads the comparisons from the database
      // Old and new compared whole, chunk by chunk, while the load goes on. A difference is read again
      // before it counts, so a write landing between the two stores' listings is not one; but a write can
      // still be between its two stores at the re-read (the second store's write slow on a loaded machine):
      // verify's own advice is to run it again before trusting a difference on a busy key. So up to three
      // runs, each after the journal is replayed; a real difference stays, and the gate refuses `live`.
      let verified: VerifyReport;
      let runs = 0;
      for (;;) {
        runs++;
        await drainJournal();
        verified = await verifyCutover<SearchResult>({
          name: COMPS_CUTOVER,
          db: ferry,
          old: oldStore(),
          new: postgresSearchStore(ferry),
          compare: searchResultComparator as (a: SearchResult, b: SearchResult) => string[],
        });
        const journal = verified.journal ? verified.journal.pending + verified.journal.inflight : 0;
        log(
          `verify: ${verified.clean ? 'clean' : `${verified.differences.total} differences`} over ${verified.rows.new} rows` +
            (verified.clean ? '' : ` (journal: ${journal} writes pending or in flight)`),
        );
        for (const d of verified.keys.slice(0, 5)) {
          log(`  ${d.kind}: ${d.key}${d.fields ? ` (${d.fields.join(', ')})` : ''}`);
        }
        if (verified.clean || runs === 3) break;
      }
      verify = {
        clean: verified.clean,
        runs,
        rows: verified.rows,
        differences: verified.differences.total,
        ms: Math.round(verified.durationMs),
      };
      await step('live');
      await sleep(stageMs);
      await step('rampdown');
      await sleep(stageMs);
      await step('complete');
      await sleep(stageMs);
    } finally {
      stopping = true;
      await driver;
    }

    // 4. The end state. Replay what the journal holds (nothing, unless a write of the second store failed).
    await drainJournal();
    await cutover.flush();
    const depth = await journalDepth(ferry, COMPS_CUTOVER);
    const [state] = await status(ferry, COMPS_CUTOVER);

    // Every result written (the newest of each key) must be what the database serves for its key.
    const expected = new Map<string, SearchResult>();
    for (const r of [...legacyResults, ...fetched]) {
      const seen = expected.get(r.key);
      if (!seen || Date.parse(seen.fetched_at) <= Date.parse(r.fetched_at)) expected.set(r.key, r);
    }
    const postgres = postgresSearchStore(ferry);
    const lost: string[] = [];
    for (const [key, result] of expected) {
      const stored = await postgres.get(key);
      if (!stored) lost.push(`${key}: not in the database`);
      else if (searchResultComparator(result, stored).length > 0) lost.push(`${key}: differs in the database`);
    }
    const all = Object.values(outcomes).flat();
    const stats = cutover.stats();
    return {
      cutover: COMPS_CUTOVER,
      backends,
      finalStage: state?.stage ?? cutover.stage,
      requests: all.length,
      failed: all.filter((o) => !o.ok).length,
      lostWrites: lost.length,
      writesAcknowledged: fetched.length,
      legacyResults: legacyResults.length,
      comparisons: state?.comparisons ?? stats.comparisons,
      mismatches: state?.mismatches.total ?? stats.mismatches,
      journaled: stats.journaled,
      journalDepth: depth.pending + depth.inflight,
      backfill,
      verify: verify as CutoverDemoSummary['verify'],
      stages: Object.fromEntries(
        STAGES.map((s) => {
          const { requests, failed, p50, p99 } = latencySummary(outcomes[s]);
          return [s, { requests, failed, p50: round(p50), p99: round(p99) }];
        }),
      ) as Record<Stage, StageSummary>,
      errors: [...all.flatMap((o) => (o.error ? [o.error] : [])).slice(0, 5), ...lost.slice(0, 5)],
      seconds: round((performance.now() - started) / 1000),
    };
  } finally {
    if (service) await service.ferry.shutdown({ servers: [service.ops.server] });
    else await ferry.close();
    if (redis) {
      await deleteKeys(redis, `${prefix}:*`).catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
    }
    if (legacyFile) await rm(legacyFile, { force: true });
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

/** Whether a Redis answers at `url` within `timeoutMs` (a closed port fails at once, a black hole at the timeout). */
export async function redisReachable(url: string, timeoutMs = 1_000): Promise<boolean> {
  const probe = createRedisClient(url, {
    mode: 'once',
    what: 'comps demo (Redis probe)',
    ioredis: { connectTimeout: timeoutMs },
  });
  try {
    await withTimeout(probe.ping(), timeoutMs, 'Redis probe');
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

async function deleteKeys(redis: Redis, match: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A database of the run's own on the server of `serverUrl`, dropped by `drop()`. */
async function scratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ferry_comps_demo_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      'stage-ms': { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
  const t0 = performance.now();
  const log = (line: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  const server = process.env.DATABASE_URL?.trim();
  const redisUrl = process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
  const redisUp = await redisReachable(redisUrl);
  // A server's scratch database, else an embedded PGlite in a temp folder: nothing of the run is left behind.
  const work = server ? null : await mkdtemp(path.join(os.tmpdir(), 'ferry-comps-demo-'));
  const db = server
    ? await scratchDatabase(server)
    : { url: `pglite:${path.join(work as string, 'pglite')}`, drop: async () => {} };
  log(
    server
      ? `DATABASE_URL set: PostgreSQL at ${redactUrl(server)}, in a scratch database`
      : `no DATABASE_URL: embedded PGlite in ${work}`,
  );
  log(
    redisUp
      ? `Redis at ${redactUrl(redisUrl)}: the old app's results are Redis keys`
      : `no Redis at ${redactUrl(redisUrl)}: the old app's results are a JSON file (Ferry's jsonFileStore)`,
  );
  let summary: CutoverDemoSummary;
  try {
    summary = await runCutoverDemo({
      url: db.url,
      redisUrl: redisUp ? redisUrl : null,
      ...(work ? { legacyFile: path.join(work, 'legacy-results.json') } : {}),
      // PGlite answers one query at a time: a lighter load and shorter stages keep the run well under a minute.
      stageMs: Number(values['stage-ms'] ?? (server ? 4_000 : 3_000)),
      concurrency: Number(values.concurrency ?? (server ? 8 : 4)),
      log,
    });
  } finally {
    await db.drop();
    if (work) await rm(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(summary, null, 2));
  const clean =
    summary.finalStage === 'complete' &&
    summary.failed === 0 &&
    summary.lostWrites === 0 &&
    summary.mismatches === 0 &&
    summary.verify.clean;
  process.exitCode = clean ? 0 : 1;
}
