/**
 * The journal: how a write reaches the secondary store even when the
 * secondary fails, or the instance dies between the two writes.
 *
 * Every write made while both stores are written goes like this:
 *
 *   1. `intend`: a row in `ferry_cutover_journal` (key, op, value, which store
 *      is the source of truth for it and which the target, state `inflight`,
 *      the instance id) — BEFORE either store is touched;
 *   2. the primary write; if it fails the request fails (the row stays, see
 *      below: harmless);
 *   3. the secondary write;
 *   4. `settleMany` (batched, after the call returned): the row becomes
 *      `done`, unless the secondary failed or another write of the key raced
 *      this one (the two stores may have got the two values in opposite
 *      orders): then it becomes `pending`, for the drainer.
 *
 * Why this order loses nothing: the row exists before anything is written,
 * so whatever moment the process dies at (SIGKILL, OOM, a pulled plug) the
 * row is there, `inflight`, owned by an instance whose heartbeat stops. The
 * drainer of any other (or the next) instance treats an `inflight` row of a
 * dead instance like a `pending` one. Writing the row after the primary
 * would leave a window where a crash loses the secondary's copy.
 *
 * Why replay copies the source's CURRENT value instead of the journaled one:
 * the journaled value may be stale (a newer write of the key since, made
 * directly to both stores) or never applied (the primary failed or the crash
 * came first). Copying what the source store holds now makes the target
 * equal to the source, whichever the case, and so an older entry can never
 * overwrite a newer direct write: entries of one key are settled together,
 * newest first, by one copy (older ones are superseded). The source is the
 * primary of the newest row of the key (the store its writer wrote first).
 * The copy is retried if a new row for the key appeared while it ran (a
 * writer raced it), and a key with a write of a live instance still in
 * flight is left for the next round, so the drainer never puts back a value
 * that a concurrent write has just replaced. The journaled value stays for
 * the record (and for `status`).
 *
 * The price on the request path is ONE statement per dual write, the
 * intent: settles are queued and written in batches beside the requests
 * (`settleMany`, one statement for all the writes that ended meanwhile),
 * since nothing waits on them: a row not yet settled only looks in flight a
 * moment longer (the drainer leaves its key alone meanwhile; if the instance
 * dies first, the row is an orphan and its key is copied once more, which is
 * harmless). When the primary is this very Postgres the row could share its
 * transaction; stores are opaque here, so the general order is used everywhere.
 *
 * The intent commits with `synchronous_commit = off` (unless `syncIntent`):
 * its COMMIT returns without waiting for the WAL flush, about a third of a
 * Postgres write on a disk that fsyncs. Why that keeps the guarantee:
 *   - the app process dies (SIGKILL, OOM) at any point: an async commit is
 *     visible to every session at once; only its flush is late, and
 *     Postgres flushes it within 3 × wal_writer_delay (≤ 600 ms by default)
 *     while it runs. Nothing changes for this case;
 *   - the primary or the secondary is this Postgres: its own (synchronous)
 *     commit flushes the WAL up to itself, the earlier intent included, so
 *     once either write is durable the intent is too;
 *   - Postgres itself crashes in those few hundred milliseconds and loses the
 *     intent: the secondary write (Postgres, down) fails, the settle finds no
 *     row and journals the write again as `pending` (settleMany re-inserts
 *     missing rows), so it is replayed once Postgres is back;
 *   - Postgres crashes AND the app instance dies before its settle: the
 *     write may be in the old store only, with no row to say so. A double
 *     fault, within the same ~600 ms in which an old store like Redis
 *     (appendfsync everysec) loses writes of its own; `verify` lists the key.
 *     `syncIntent: true` closes it at the price of a flush per write.
 */

import type { StoreSide } from './stages.js';
import type { CutoverStore } from './store.js';
import { type CutoverDb, INSTANCES_TABLE, JOURNAL_TABLE, query } from './tables.js';

export type JournalOp = 'put' | 'delete';

export interface JournalOptions {
  db: CutoverDb;
  name: string;
  instanceId: string;
  stores: Readonly<Record<StoreSide, CutoverStore<unknown>>>;
  /** Keys per drain round (default 100). */
  batch?: number;
  /** Done rows are deleted after this long (ms; default 10 minutes): the newest-row checks only need recent ones. */
  keepDoneMs?: number;
  /** Commit intents with the server's synchronous_commit (a WAL flush each) instead of `off` (see the module comment). */
  syncIntent?: boolean;
}

/** A write that ended: what `settleMany` records (and re-journals, should its intent be gone). */
export interface Settlement {
  seq: number;
  key: string;
  op: JournalOp;
  value: unknown;
  source: StoreSide;
  target: StoreSide;
  /** The failure of the secondary (or of the primary): the row is left `pending` for the drainer. */
  error?: unknown;
  /** Another write of the key by this instance overlapped this one: the stores may have them in opposite orders. */
  raced?: boolean;
}

export interface DrainResult {
  /** Keys copied from source to target. */
  replayed: number;
  /** Keys whose copy failed (retried next round). */
  failed: number;
  /** Keys left for later (a write of a live instance in flight). */
  deferred: number;
}

/** Values as JSON for the journal (a Date becomes its ISO string; a bigint its digits). */
export function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A live instance: one whose heartbeat is younger than its ttl (SQL on journal rows aliased `j`). */
export const LIVE = `exists (select 1 from ${INSTANCES_TABLE} i
  where i.instance_id = j.instance_id and i.heartbeat > now() - i.ttl_ms * interval '1 millisecond')`;

export class Journal {
  readonly #o: JournalOptions;
  #draining: Promise<DrainResult> | null = null;
  #lastPrune = 0;

  constructor(options: JournalOptions) {
    this.#o = options;
  }

  /** Step 1: record the intent; returns the row's seq. */
  async intend(key: string, op: JournalOp, value: unknown, source: StoreSide, target: StoreSide): Promise<number> {
    // One statement, one round trip: set_config(..., true) is local to the statement's own transaction,
    // so the pooled connection goes back with the server's setting.
    const insert = this.#o.syncIntent
      ? `insert into ${JOURNAL_TABLE} (name, key, op, value, source, target, state, instance_id)
         values ($1, $2, $3, $4::jsonb, $5, $6, 'inflight', $7) returning seq`
      : `with async as (select set_config('synchronous_commit', 'off', true))
         insert into ${JOURNAL_TABLE} (name, key, op, value, source, target, state, instance_id)
         select $1, $2, $3, $4::jsonb, $5, $6, 'inflight', $7 from async returning seq`;
    const rows = await query<{ seq: string | number }>(this.#o.db, insert, [
      this.#o.name,
      key,
      op,
      op === 'put' ? toJson(value) : null,
      source,
      target,
      this.#o.instanceId,
    ]);
    return Number(rows[0]!.seq);
  }

  /**
   * Step 4 for many writes in one statement: each row becomes `done`, or
   * `pending` when its write failed or raced another write of the key: one
   * of this instance that overlapped it (`raced`, known here exactly), or a
   * newer row of another instance (which may have overlapped it: counted
   * as a race; this instance's own later rows do not count, as a settle
   * that comes a moment after its write sees them, sequential or not). A row
   * that is gone (an async intent lost in a Postgres crash, see the module
   * comment) is journaled again as `pending`.
   */
  async settleMany(entries: readonly Settlement[]): Promise<void> {
    if (entries.length === 0) return;
    const { db, name } = this.#o;
    const rows = await query<{ seq: string | number }>(
      db,
      `with s as (select * from unnest($2::bigint[], $3::text[], $4::text[], $5::boolean[]) as s(seq, key, err, raced)),
       done as (
         update ${JOURNAL_TABLE} j set state = 'done', updated_at = now() from s
         where j.seq = s.seq and s.err is null and not s.raced and not exists (
           select 1 from ${JOURNAL_TABLE} n
           where n.name = $1 and n.key = s.key and n.seq > s.seq and n.instance_id <> $6)
         returning j.seq),
       pend as (
         update ${JOURNAL_TABLE} j set state = 'pending', updated_at = now(),
           attempts = j.attempts + (s.err is not null)::int, last_error = coalesce(s.err, j.last_error)
         from s where j.seq = s.seq and not exists (select 1 from done d where d.seq = s.seq)
         returning j.seq)
       select seq from done union all select seq from pend`,
      [
        name,
        entries.map((e) => e.seq),
        entries.map((e) => e.key),
        entries.map((e) => (e.error === undefined ? null : describe(e.error))),
        entries.map((e) => e.raced === true),
        this.#o.instanceId,
      ],
    );
    if (rows.length === entries.length) return;
    const found = new Set(rows.map((r) => Number(r.seq)));
    for (const e of entries) {
      if (found.has(e.seq)) continue;
      await query(
        db,
        `insert into ${JOURNAL_TABLE} (name, key, op, value, source, target, state, instance_id, last_error)
         values ($1, $2, $3, $4::jsonb, $5, $6, 'pending', $7, $8)`,
        [
          name,
          e.key,
          e.op,
          e.op === 'put' ? toJson(e.value) : null,
          e.source,
          e.target,
          this.#o.instanceId,
          'journal row lost (Postgres restarted?): journaled again',
        ],
      );
    }
  }

  /** One drain round (concurrent callers share it). */
  drain(): Promise<DrainResult> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = null;
    });
    return this.#draining;
  }

  /** Rows not done: `pending` (to replay, incl. orphans of dead instances) and `inflight` (writes under way). */
  async depth(): Promise<{ pending: number; inflight: number }> {
    return journalDepth(this.#o.db, this.#o.name);
  }

  async #drain(): Promise<DrainResult> {
    const { db, name } = this.#o;
    const result: DrainResult = { replayed: 0, failed: 0, deferred: 0 };
    // Keys with a replayable row, oldest first; claimed for 30 s so two drainers do not copy the same key at once.
    const keys = await query<{ key: string }>(
      db,
      `with ready as (
         select j.key, min(j.seq) as first from ${JOURNAL_TABLE} j
         where j.name = $1 and (j.state = 'pending' or (j.state = 'inflight' and not ${LIVE}))
           and (j.claimed_until is null or j.claimed_until < now())
         group by j.key order by first limit $2)
       update ${JOURNAL_TABLE} j set claimed_until = now() + interval '30 seconds'
       from ready where j.name = $1 and j.key = ready.key and j.state <> 'done'
       returning j.key`,
      [name, this.#o.batch ?? 100],
    );
    const unique = [...new Set(keys.map((k) => k.key))];
    for (const key of unique) {
      const outcome = await this.#replayKey(key);
      result[outcome]++;
    }
    await this.#prune();
    return result;
  }

  /** Make the key's target equal to its source (see the module comment). */
  async #replayKey(key: string): Promise<keyof DrainResult> {
    const { db, name, stores } = this.#o;
    for (let round = 0; round < 5; round++) {
      const rows = await query<{ seq: string | number; source: StoreSide; target: StoreSide; busy: boolean }>(
        db,
        `select j.seq, j.source, j.target, (j.state = 'inflight' and ${LIVE}) as busy
         from ${JOURNAL_TABLE} j where j.name = $1 and j.key = $2 order by j.seq desc limit 1`,
        [name, key],
      );
      const newest = rows[0];
      const busyRows = await query(
        db,
        `select 1 from ${JOURNAL_TABLE} j where j.name = $1 and j.key = $2 and j.state = 'inflight' and ${LIVE} limit 1`,
        [name, key],
      );
      if (!newest || busyRows.length > 0) {
        await this.#unclaim(key);
        return 'deferred';
      }
      const bound = Number(newest.seq);
      try {
        const value = await stores[newest.source].get(key);
        if (value === undefined) await stores[newest.target].delete(key);
        else await stores[newest.target].put(key, value);
      } catch (err) {
        await query(
          db,
          `update ${JOURNAL_TABLE} set attempts = attempts + 1, last_error = $3, claimed_until = null, updated_at = now()
           where name = $1 and key = $2 and state <> 'done'`,
          [name, key, describe(err)],
        );
        return 'failed';
      }
      // Settle everything up to `bound`, unless a newer row appeared during the copy (then copy again).
      await query(
        db,
        `update ${JOURNAL_TABLE} j set state = 'done', claimed_until = null, updated_at = now()
         where j.name = $1 and j.key = $2 and j.seq <= $3 and j.state <> 'done'
           and (j.state = 'pending' or not ${LIVE})
           and not exists (select 1 from ${JOURNAL_TABLE} n where n.name = $1 and n.key = $2 and n.seq > $3)
`,
        [name, key, bound],
      );
      const newer = await query(
        db,
        `select 1 from ${JOURNAL_TABLE} where name = $1 and key = $2 and seq > $3 limit 1`,
        [name, key, bound],
      );
      if (newer.length === 0) return 'replayed';
      // A write of the key began while we copied: our put may have landed in the target after that write's,
      // putting back the value we read before it. The store we only read still holds the newest value, but
      // the new row may name the other direction (a stage later, `live` writes new first), and copying that
      // way would spread our stale value to both. A repair row, newest of the key, makes the next copy go
      // our way again (source → target), whether this round does it or a later one.
      await query(
        db,
        `insert into ${JOURNAL_TABLE} (name, key, op, value, source, target, state, instance_id, last_error)
         values ($1, $2, 'put', null, $3, $4, 'pending', $5, 'a write raced the replay: copied again')`,
        [name, key, newest.source, newest.target, this.#o.instanceId],
      );
    }
    await this.#unclaim(key);
    return 'deferred';
  }

  async #unclaim(key: string): Promise<void> {
    await query(this.#o.db, `update ${JOURNAL_TABLE} set claimed_until = null where name = $1 and key = $2`, [
      this.#o.name,
      key,
    ]);
  }

  async #prune(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    await query(
      this.#o.db,
      `delete from ${JOURNAL_TABLE} where name = $1 and state = 'done'
         and updated_at < now() - $2 * interval '1 millisecond'`,
      [this.#o.name, this.#o.keepDoneMs ?? 600_000],
    );
  }
}

/** Journal rows of `name` not done yet (for status). */
export async function journalDepth(db: CutoverDb, name: string): Promise<{ pending: number; inflight: number }> {
  const rows = await query<{ pending: string | number; inflight: string | number }>(
    db,
    `select count(*) filter (where j.state = 'pending' or (j.state = 'inflight' and not ${LIVE})) as pending,
            count(*) filter (where j.state = 'inflight' and ${LIVE}) as inflight
     from ${JOURNAL_TABLE} j where j.name = $1 and j.state <> 'done'`,
    [name],
  );
  return { pending: Number(rows[0]?.pending ?? 0), inflight: Number(rows[0]?.inflight ?? 0) };
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 500 ? `${message.slice(0, 500)}…` : message;
}
