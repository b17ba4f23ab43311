/**
 * The quota rules both stores share: UTC day and month boundaries, the
 * counters after a pending reset, and the decision itself for the JSON store
 * (the Postgres store makes the same decision in one SQL statement: storage.ts).
 *
 * The seed kept `daily_used`/`monthly_used` with `last_reset_daily` and
 * `last_reset_monthly`: a counter whose last reset is before today (before
 * this month) counts as 0, and is restarted by the next counted query.
 */
import type { QuotaResult, UsageRecord } from './store.js';

/** The schema's defaults for a new user (free tier). */
export const DEFAULT_LIMITS = { tier: 'free', dailyLimit: 10, monthlyLimit: 100 } as const;

/** `YYYY-MM-DD` of `now` in UTC. */
export function utcDay(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** `YYYY-MM-01` of `now` in UTC. */
export function utcMonthStart(now: Date): string {
  return `${now.toISOString().slice(0, 7)}-01`;
}

export function nextUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

export function nextUtcMonth(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** The counters as they stand at `now`: 0 where a reset is due. */
export function effectiveCounters(record: UsageRecord, now: Date): { daily: number; monthly: number } {
  return {
    daily: record.lastResetDaily < utcDay(now) ? 0 : record.dailyUsed,
    monthly: record.lastResetMonthly < utcMonthStart(now) ? 0 : record.monthlyUsed,
  };
}

/** The result shape from counters (after the call) and the decision. */
export function quotaResult(
  allowed: boolean,
  counters: { dailyUsed: number; dailyLimit: number; monthlyUsed: number; monthlyLimit: number },
  now: Date,
): QuotaResult {
  const monthlyFull = counters.monthlyUsed >= counters.monthlyLimit;
  const limitedBy = allowed ? null : monthlyFull ? 'monthly' : 'daily';
  return {
    allowed,
    daily: { used: counters.dailyUsed, limit: counters.dailyLimit },
    monthly: { used: counters.monthlyUsed, limit: counters.monthlyLimit },
    limitedBy,
    resetsAt: limitedBy === 'monthly' ? nextUtcMonth(now) : nextUtcDay(now),
  };
}

/** What a query at `now` would get, without counting it (for `GET /usage`). */
export function quotaView(record: UsageRecord | null, now: Date): QuotaResult {
  const r = record ?? newUsage('', now);
  const c = effectiveCounters(r, now);
  const counters = {
    dailyUsed: c.daily,
    dailyLimit: r.dailyLimit,
    monthlyUsed: c.monthly,
    monthlyLimit: r.monthlyLimit,
  };
  return quotaResult(c.daily < r.dailyLimit && c.monthly < r.monthlyLimit, counters, now);
}

export function newUsage(userId: string, now: Date): UsageRecord {
  return {
    userId,
    tier: DEFAULT_LIMITS.tier,
    dailyUsed: 0,
    dailyLimit: DEFAULT_LIMITS.dailyLimit,
    monthlyUsed: 0,
    monthlyLimit: DEFAULT_LIMITS.monthlyLimit,
    totalQueries: 0,
    lastResetDaily: utcDay(now),
    lastResetMonthly: utcMonthStart(now),
  };
}

/**
 * The decision on a record read under the caller's lock: the record to write
 * back (null when refused: nothing changes) and the result. Same rules as the
 * SQL statement in storage.ts.
 */
export function decideQuota(
  stored: UsageRecord | null,
  userId: string,
  now: Date,
): { write: UsageRecord | null; result: QuotaResult } {
  const record = stored ?? newUsage(userId, now);
  const c = effectiveCounters(record, now);
  if (c.daily >= record.dailyLimit || c.monthly >= record.monthlyLimit) {
    const counters = { ...record, dailyUsed: c.daily, monthlyUsed: c.monthly };
    return { write: null, result: quotaResult(false, counters, now) };
  }
  const today = utcDay(now);
  const month = utcMonthStart(now);
  const write: UsageRecord = {
    ...record,
    dailyUsed: c.daily + 1,
    monthlyUsed: c.monthly + 1,
    totalQueries: record.totalQueries + 1,
    lastResetDaily: record.lastResetDaily < today ? today : record.lastResetDaily,
    lastResetMonthly: record.lastResetMonthly < month ? month : record.lastResetMonthly,
  };
  return { write, result: quotaResult(true, write, now) };
}
