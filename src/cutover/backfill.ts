/**
 * Bracketing a backfill that runs beside dual writes, so that it cannot
 * bring back a key the app deleted meanwhile.
 *
 * The backfill is the import (`runImport` with `onConflict: { update:
 * 'if-newer', by: 'updated_at' }`) of the old store's data into the new one,
 * while the app keeps writing both. The if-newer guard keeps a row the app
 * wrote after the source was read from being replaced by the older copy the
 * import read. A *delete* leaves no row to compare with: the import reads
 * key k, the app deletes k in both stores, the import then inserts its copy
 * of k, and the new store holds a row the old one no longer has (every
 * source has that window: a file read before the delete, a Redis SCAN
 * fetched before it, a batch mapped before it).
 *
 * The journal already names every key written through the cutover since
 * dual writes began (a row per write, kept `keepDoneMs`, default 10 min).
 * So: take a mark before the backfill, and after it hand every key written
 * since the mark back to the drainer, which copies the key's current value
 * in its primary store to the other (or deletes it there): a resurrected
 * key is deleted again, a live write is copied again (a no-op in effect).
 * That is one copy per key written during the backfill, not per row of it.
 *
 *   await advance(ferry, 'users');                 // off → dual-write (every instance writes both)
 *   const mark = await backfillMark(ferry, 'users');
 *   await runImport({ db, definition: backfill });  // if-newer on updated_at
 *   await afterBackfill(ferry, 'users', mark);      // the drainers take it from here
 *
 * A backfill that stopped (killed, a crash, Ctrl-C) is rerun with `mode:
 * 'restart'` (`ferry import --restart`): the import resumes by record
 * position, and while the app writes the source, its deletes move later
 * records to lower positions, so a resumed run would skip some (a file
 * source's fingerprint refuses the resume; a Redis source has none and
 * would resume silently). The restart re-reads everything; if-newer keeps
 * it from undoing live writes.
 *
 * Limit: journal rows are pruned `keepDoneMs` after they settled; a backfill
 * that runs longer needs a cutover with a larger `keepDoneMs`, or keys
 * deleted early in it may stay resurrected (`verify` would list them).
 */
import { FerryError } from '../errors.js';
import { E_CUTOVER_INSTANCES } from './errors.js';
import { LIVE } from './journal.js';
import { type CutoverDb, ensureTables, JOURNAL_TABLE, query } from './tables.js';

/** Where the journal of `name` stands before a backfill: pass it to `afterBackfill`. */
export interface BackfillMark {
  readonly name: string;
  /** Journal rows with a seq above this are written after (or while) the backfill started. */
  readonly seq: number;
}

/**
 * The journal position a backfill starts from. Writes still in flight count
 * as after it (their second store may be written after the import read the
 * first), so the mark is below the oldest of them.
 */
export async function backfillMark(db: CutoverDb, name: string): Promise<BackfillMark> {
  await ensureTables(db);
  const rows = await query<{ seq: string | number | null }>(
    db,
    `select least(
       (select max(seq) from ${JOURNAL_TABLE}),
       (select min(seq) - 1 from ${JOURNAL_TABLE} where name = $1 and state <> 'done')) as seq`,
    [name],
  );
  return { name, seq: Number(rows[0]?.seq ?? 0) };
}

/**
 * After the backfill: every key written through cutover `name` since `mark`
 * is replayed by the journal's drainers (its primary's current value copied
 * to the other store). Returns how many keys were handed over; wait for
 * `status(...).journal.pending` to reach 0 (or call `cutover.drain()`)
 * before relying on the new store, e.g. before `shadow`.
 */
export async function afterBackfill(db: CutoverDb, name: string, mark: BackfillMark): Promise<number> {
  // Writes that ended before now but whose settle is still on its way are `inflight` a moment longer; once
  // settled they are requeued too (a write still truly in flight is never requeued: the drainer could copy
  // the source before its primary write lands). New writes after `end` need nothing: they follow the import.
  const top = await query<{ seq: string | number | null }>(db, `select max(seq) as seq from ${JOURNAL_TABLE}`);
  const end = Number(top[0]?.seq ?? 0);
  const keys = new Set<string>();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const rows = await query<{ key: string }>(
      db,
      `update ${JOURNAL_TABLE} set state = 'pending', claimed_until = null, updated_at = now()
       where name = $1 and seq > $2 and seq <= $3 and state = 'done'
       returning key`,
      [name, mark.seq, end],
    );
    for (const r of rows) keys.add(r.key);
    const busy = await query(
      db,
      `select 1 from ${JOURNAL_TABLE} j
       where j.name = $1 and j.seq > $2 and j.seq <= $3 and j.state = 'inflight' and ${LIVE} limit 1`,
      [name, mark.seq, end],
    );
    if (busy.length === 0) return keys.size;
    if (Date.now() > deadline) {
      throw new FerryError(
        E_CUTOVER_INSTANCES,
        `cutover "${name}": writes journaled during the backfill were still in flight after 30 s, so not every key written meanwhile could be handed to the drainers. Check the stores (a write hangs?) and call afterBackfill again with the same mark.`,
        { details: { name, mark: mark.seq } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
