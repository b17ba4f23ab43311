/**
 * Moving a cutover between stages, and reading where it is: `advance` (with
 * its gate), `rollback`, `setRamp`, `status`, `mismatches`, `recordVerify`.
 * Plain async functions on a database handle and a name, so the CLI (`ferry
 * cutover ...`), a deploy script and a test call the same thing.
 *
 *   await advance(ferry, 'users');                                  // one stage on
 *   await advance(ferry, 'users', { to: 'live', gate: { window: 500, maxMismatchRate: 0.001 } });
 *   await rollback(ferry, 'users');                                 // one stage back
 *   console.log(await status(ferry, 'users'));
 */
import { type Duration, toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import type { RedisInput } from '../redis/connection.js';
import { readControl, ringInstances } from './control.js';
import { E_CUTOVER_GATE, E_CUTOVER_INSTANCES, E_CUTOVER_STAGE, E_CUTOVER_UNKNOWN } from './errors.js';
import { journalDepth } from './journal.js';
import { changesWriteSet, isStage, STAGES, type Stage, stageIndex } from './stages.js';
import {
  COMPARISONS_TABLE,
  CONTROL_TABLE,
  type CutoverDb,
  ensureTables,
  INSTANCES_TABLE,
  MISMATCHES_TABLE,
  query,
} from './tables.js';

export interface GateOptions {
  /** How many of the newest shadow comparisons the gate looks at (default 100). Fewer than that recorded refuses. */
  window?: number;
  /** Highest mismatch rate (mismatches / comparisons in the window) that passes; default 0.01. */
  maxMismatchRate?: number;
  /** Require a clean `verify` recorded (recordVerify; default true). */
  requireVerify?: boolean;
}

export interface MoveOptions {
  /** Target stage (default: the next one for advance, the previous one for rollback). */
  to?: Stage;
  /** How long to wait for every live instance to follow a change of the stores written (default 30 s). */
  wait?: Duration;
  /** Redis to ring the instances (they follow at once instead of at their next poll). */
  redis?: RedisInput;
  /** Who or what moved it, for the history (`'ci deploy 812'`). */
  by?: string;
}

export interface AdvanceOptions extends MoveOptions {
  /** Pass the gates anyway; recorded in the history with the reasons overridden. */
  force?: boolean;
  gate?: GateOptions;
}

export interface HistoryEntry {
  from: Stage;
  to: Stage;
  at: string;
  action: 'advance' | 'rollback' | 'revert' | 'ramp';
  forced?: string[];
  by?: string;
  ramp?: number | null;
}

export interface MoveResult {
  name: string;
  from: Stage;
  to: Stage;
  epoch: number;
  /** Gate refusals overridden by `force` (empty when none). */
  forced: string[];
}

export interface VerifyRecord {
  clean: boolean;
  /** Keys that differ (a sample), for status. */
  differences?: number;
  at?: string;
  [k: string]: unknown;
}

export interface InstanceStatus {
  instanceId: string;
  stage: Stage;
  epoch: number;
  live: boolean;
  heartbeat: Date;
  host: string | null;
  pid: number | null;
}

export interface CutoverStatus {
  name: string;
  stage: Stage;
  epoch: number;
  ramp: number | null;
  updatedAt: Date;
  instances: InstanceStatus[];
  journal: { pending: number; inflight: number };
  comparisons: number;
  mismatches: { total: number; stored: number };
  verify: VerifyRecord | null;
  history: HistoryEntry[];
}

const DEFAULT_WAIT_MS = 30_000;

/**
 * Move `name` forward: one stage, or to `to` stage by stage. Leaving `shadow`
 * for `live` passes the gate first: the newest `gate.window` comparisons must
 * exist and have a mismatch rate of at most `gate.maxMismatchRate`, and (when
 * `gate.requireVerify`) a clean verify must be recorded. A change of the
 * stores written (off → dual-write, rampdown → complete) returns only when
 * every live instance follows; if one does not within `wait`, the stage is
 * put back and E_CUTOVER_INSTANCES is thrown.
 *
 *   await advance(ferry, 'users', { to: 'live', force: true, by: 'ops: verified by hand' });
 */
export async function advance(db: CutoverDb, name: string, options: AdvanceOptions = {}): Promise<MoveResult> {
  const current = await mustRead(db, name);
  const to = options.to ?? STAGES[stageIndex(current.stage) + 1];
  if (to === undefined || !isStage(to) || stageIndex(to) <= stageIndex(current.stage)) {
    throw new FerryError(
      E_CUTOVER_STAGE,
      current.stage === 'complete' && options.to === undefined
        ? `cutover "${name}" is complete: there is no stage after it.`
        : `cutover "${name}" is at ${current.stage}; advance goes forward (to one of ${STAGES.slice(stageIndex(current.stage) + 1).join(', ') || 'none'}), not to ${String(to)}. Use rollback to go back.`,
      { details: { name, from: current.stage, to } },
    );
  }
  const forced: string[] = [];
  let from = current.stage;
  let epoch = current.epoch;
  while (from !== to) {
    const next = STAGES[stageIndex(from) + 1]!;
    if (from === 'shadow' && next === 'live') {
      const refusals = await gateRefusals(db, name, options.gate ?? {});
      if (refusals.length > 0 && !options.force) {
        throw new FerryError(
          E_CUTOVER_GATE,
          `cutover "${name}" stays in shadow: ${refusals.join('; ')}. Look at the mismatches (ferry cutover mismatches ${name}), fix and verify; or pass force to advance anyway (recorded).`,
          { details: { name, refusals } },
        );
      }
      forced.push(...refusals);
    }
    epoch = await move(db, name, from, next, epoch, options, 'advance', next === 'live' ? forced : []);
    from = next;
  }
  return { name, from: current.stage, to, epoch, forced };
}

/**
 * Move `name` back one stage (or to `to`). Nothing written is lost: every
 * stage before `complete` still writes the store being returned to. Refused
 * from `complete` (the old store is no longer written) and from `off`.
 *
 *   await rollback(ferry, 'users');                 // live → shadow
 *   await rollback(ferry, 'users', { to: 'off' });
 */
export async function rollback(db: CutoverDb, name: string, options: MoveOptions = {}): Promise<MoveResult> {
  const current = await mustRead(db, name);
  if (current.stage === 'complete') {
    throw new FerryError(
      E_CUTOVER_STAGE,
      `cutover "${name}" is complete: the old store has not been written since, so going back would lose those writes. Move the data back with an import instead.`,
      { details: { name, from: current.stage } },
    );
  }
  const to = options.to ?? STAGES[stageIndex(current.stage) - 1];
  if (to === undefined || !isStage(to) || stageIndex(to) >= stageIndex(current.stage)) {
    throw new FerryError(
      E_CUTOVER_STAGE,
      `cutover "${name}" is at ${current.stage}; rollback goes back (to one of ${STAGES.slice(0, stageIndex(current.stage)).join(', ') || 'none'}), not to ${String(to)}.`,
      { details: { name, from: current.stage, to } },
    );
  }
  let from: Stage = current.stage;
  let epoch = current.epoch;
  while (from !== to) {
    const prev: Stage = STAGES[stageIndex(from) - 1]!;
    epoch = await move(db, name, from, prev, epoch, options, 'rollback', []);
    from = prev;
  }
  return { name, from: current.stage, to, epoch, forced: [] };
}

/**
 * Route `percent` of keys' reads to the new store within `shadow`/`live`
 * (seed 001's 10 → 50 → 100 %); null restores the stage's default (shadow 0,
 * live 100). By a stable hash of the key, so a key always reads the same store.
 */
export async function setRamp(
  db: CutoverDb,
  name: string,
  percent: number | null,
  options: Pick<MoveOptions, 'redis' | 'by'> = {},
): Promise<void> {
  if (percent !== null && !(Number.isInteger(percent) && percent >= 0 && percent <= 100)) {
    throw new FerryError(
      E_CUTOVER_STAGE,
      `setRamp("${name}"): the percentage must be a whole number from 0 to 100, got ${percent}.`,
    );
  }
  const current = await mustRead(db, name);
  const entry: HistoryEntry = {
    from: current.stage,
    to: current.stage,
    at: new Date().toISOString(),
    action: 'ramp',
    ramp: percent,
  };
  if (options.by) entry.by = options.by;
  await query(
    db,
    `update ${CONTROL_TABLE} set ramp = $2, epoch = epoch + 1, updated_at = now(), history = history || $3::jsonb where name = $1`,
    [name, percent, JSON.stringify([entry])],
  );
  await ringInstances(options.redis, name);
}

/** Record the result of `ferry cutover verify` (the gate of shadow → live reads it). */
export async function recordVerify(db: CutoverDb, name: string, result: VerifyRecord): Promise<void> {
  await mustRead(db, name);
  const record = { ...result, at: result.at ?? new Date().toISOString() };
  await query(db, `update ${CONTROL_TABLE} set verify = $2::jsonb where name = $1`, [name, JSON.stringify(record)]);
}

/** Where each cutover (or `name`) is: stage, epoch, instances, journal depth, comparisons and mismatches. */
export async function status(db: CutoverDb, name?: string): Promise<CutoverStatus[]> {
  await ensureTables(db);
  const rows = await query<Record<string, unknown>>(
    db,
    `select * from ${CONTROL_TABLE} ${name === undefined ? '' : 'where name = $1'} order by name`,
    name === undefined ? [] : [name],
  );
  if (name !== undefined && rows.length === 0) throw unknown(name);
  const out: CutoverStatus[] = [];
  for (const row of rows) {
    const n = row.name as string;
    const instances = await query<Record<string, unknown>>(
      db,
      `select instance_id, stage, epoch, heartbeat, host, pid,
              heartbeat > now() - ttl_ms * interval '1 millisecond' as live
       from ${INSTANCES_TABLE} where name = $1 order by started_at`,
      [n],
    );
    const stored = await query<{ c: string | number }>(
      db,
      `select count(*) as c from ${MISMATCHES_TABLE} where name = $1`,
      [n],
    );
    out.push({
      name: n,
      stage: row.stage as Stage,
      epoch: Number(row.epoch),
      ramp: (row.ramp as number | null) ?? null,
      updatedAt: row.updated_at as Date,
      instances: instances.map((i) => ({
        instanceId: i.instance_id as string,
        stage: i.stage as Stage,
        epoch: Number(i.epoch),
        live: i.live as boolean,
        heartbeat: i.heartbeat as Date,
        host: (i.host as string | null) ?? null,
        pid: (i.pid as number | null) ?? null,
      })),
      journal: await journalDepth(db, n),
      comparisons: Number(row.comparisons),
      mismatches: { total: Number(row.mismatches), stored: Number(stored[0]?.c ?? 0) },
      verify: (row.verify as VerifyRecord | null) ?? null,
      history: (row.history as HistoryEntry[]) ?? [],
    });
  }
  return out;
}

export interface MismatchRecord {
  key: string;
  old: unknown;
  new: unknown;
  fields: string[];
  at: Date;
}

/** The newest stored mismatches of `name` (default 20). */
export async function mismatches(
  db: CutoverDb,
  name: string,
  options: { limit?: number } = {},
): Promise<MismatchRecord[]> {
  await mustRead(db, name);
  const rows = await query<Record<string, unknown>>(
    db,
    `select key, old_value, new_value, fields, at from ${MISMATCHES_TABLE} where name = $1 order by id desc limit $2`,
    [name, options.limit ?? 20],
  );
  return rows.map((r) => ({
    key: r.key as string,
    old: r.old_value,
    new: r.new_value,
    fields: r.fields as string[],
    at: r.at as Date,
  }));
}

/** Why the gate refuses shadow → live (empty: it passes). */
async function gateRefusals(db: CutoverDb, name: string, gate: GateOptions): Promise<string[]> {
  const window = gate.window ?? 100;
  const maxRate = gate.maxMismatchRate ?? 0.01;
  const refusals: string[] = [];
  const rows = await query<{ n: string | number; bad: string | number }>(
    db,
    `select count(*) as n, count(*) filter (where mismatch) as bad from (
       select mismatch from ${COMPARISONS_TABLE} where name = $1 order by id desc limit $2) w`,
    [name, window],
  );
  const n = Number(rows[0]?.n ?? 0);
  const bad = Number(rows[0]?.bad ?? 0);
  if (n < window) refusals.push(`only ${n} shadow comparisons recorded, the gate needs the newest ${window}`);
  else if (bad / n > maxRate) {
    refusals.push(
      `${bad} of the newest ${n} shadow comparisons mismatched (rate ${(bad / n).toFixed(4)} > ${maxRate})`,
    );
  }
  if (gate.requireVerify ?? true) {
    const v = await query<{ verify: VerifyRecord | null }>(db, `select verify from ${CONTROL_TABLE} where name = $1`, [
      name,
    ]);
    const verify = v[0]?.verify;
    if (!verify) refusals.push('no verify recorded (run ferry cutover verify)');
    else if (!verify.clean) refusals.push(`the last verify (${verify.at ?? 'undated'}) found differences`);
  }
  return refusals;
}

/** One step: change the row (if still at `epoch`), ring, and wait for acks when the stores written change. */
async function move(
  db: CutoverDb,
  name: string,
  from: Stage,
  to: Stage,
  epoch: number,
  options: MoveOptions,
  action: 'advance' | 'rollback',
  forced: string[],
): Promise<number> {
  const entry: HistoryEntry = { from, to, at: new Date().toISOString(), action };
  if (forced.length > 0) entry.forced = forced;
  if (options.by) entry.by = options.by;
  const next = await swap(db, name, from, to, epoch, entry);
  await ringInstances(options.redis, name);
  if (!changesWriteSet(from, to)) return next;
  const waitMs =
    options.wait === undefined ? DEFAULT_WAIT_MS : toMs(options.wait, `${action} option wait`, E_CUTOVER_STAGE);
  const lagging = await waitForAcks(db, name, next, waitMs);
  if (lagging.length === 0) return next;
  // Put it back, so the instances that did follow return to writing what the laggards write.
  await swap(db, name, to, from, next, { from: to, to: from, at: new Date().toISOString(), action: 'revert' });
  await ringInstances(options.redis, name);
  throw new FerryError(
    E_CUTOVER_INSTANCES,
    `cutover "${name}": ${lagging.length} live instance(s) did not follow ${from} → ${to} within ${waitMs} ms (${lagging.slice(0, 5).join(', ')}), so the stage was put back to ${from}. Check that those instances run and reach the database, or stop them, then try again.`,
    { details: { name, from, to, instances: lagging } },
  );
}

async function swap(
  db: CutoverDb,
  name: string,
  from: Stage,
  to: Stage,
  epoch: number,
  entry: HistoryEntry,
): Promise<number> {
  const rows = await query<{ epoch: string | number }>(
    db,
    `update ${CONTROL_TABLE} set stage = $3, epoch = epoch + 1, updated_at = now(), history = history || $5::jsonb
     where name = $1 and stage = $2 and epoch = $4 returning epoch`,
    [name, from, to, epoch, JSON.stringify([entry])],
  );
  if (rows.length === 0) {
    throw new FerryError(
      E_CUTOVER_STAGE,
      `cutover "${name}" changed while moving it from ${from} to ${to} (someone else advanced or rolled it back); look at its status and try again.`,
      { details: { name, from, to } },
    );
  }
  return Number(rows[0]!.epoch);
}

/** Poll until every live instance acked `epoch`; the ids of those that did not, after `waitMs`. */
async function waitForAcks(db: CutoverDb, name: string, epoch: number, waitMs: number): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const rows = await query<{ instance_id: string }>(
      db,
      `select instance_id from ${INSTANCES_TABLE}
       where name = $1 and epoch < $2 and heartbeat > now() - ttl_ms * interval '1 millisecond'`,
      [name, epoch],
    );
    if (rows.length === 0) return [];
    if (Date.now() >= deadline) return rows.map((r) => r.instance_id);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The cutover's control row; E_CUTOVER_UNKNOWN (saying how to create it) when there is none. */
export async function mustRead(db: CutoverDb, name: string) {
  await ensureTables(db);
  const state = await readControl(db, name);
  if (!state) throw unknown(name);
  return state;
}

function unknown(name: string): FerryError {
  return new FerryError(
    E_CUTOVER_UNKNOWN,
    `No cutover named "${name}" is recorded in ferry_cutover of this database: start the app with defineCutover({ name: '${name}', ... }) first, or check the name and the database URL.`,
    { details: { name } },
  );
}
