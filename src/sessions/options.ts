/**
 * Every option of `createSessionStore` checked and defaulted in one place;
 * E_SESSION_CONFIG names the option that is wrong.
 */
import { toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import { type LayerLogger, layerLogger } from '../logger.js';
import { E_SESSION_CONFIG } from './errors.js';
import type { SessionStoreOptions } from './types.js';

const PREFIX_RE = /^[A-Za-z0-9_.\-:]{1,100}$/;
const DEFAULT_REFRESH_TTL_MS = 30 * 24 * 3_600_000;
const DEFAULT_MAX_DATA_BYTES = 64 * 1024;
const DEFAULT_OUTBOX_POLL_MS = 250;

export interface ResolvedSessionOptions {
  ttlMs: number;
  refreshTtlMs: number;
  prefix: string;
  /** The largest session data accepted, bytes of JSON. */
  maxDataBytes: number;
  /** How often a touch writes its expiry to Postgres, ms. */
  persistEveryMs: number;
  /** How often the revocation outbox is read, ms. */
  outboxPollMs: number;
  log: LayerLogger;
  /** Background failures: logged, and passed to `onError` when given. */
  onError: (err: unknown) => void;
}

/** A duration option of the session store (E_SESSION_CONFIG when invalid). */
export const sessionMs = (value: unknown, what: string): number => toMs(value as never, what, E_SESSION_CONFIG);

export function resolveSessionOptions(options: SessionStoreOptions): ResolvedSessionOptions {
  const ttlMs = options.ttl === undefined ? Number.NaN : sessionMs(options.ttl, 'ttl');
  if (!(ttlMs > 0)) {
    throw new FerryError(
      E_SESSION_CONFIG,
      `ttl must be a positive duration (milliseconds, or e.g. '30m', '1h'), got ${String(options.ttl)}.`,
    );
  }
  const refreshTtlMs =
    options.refreshTtl === undefined ? DEFAULT_REFRESH_TTL_MS : sessionMs(options.refreshTtl, 'refreshTtl');
  if (!(refreshTtlMs > 0)) throw new FerryError(E_SESSION_CONFIG, 'refreshTtl must be a positive duration.');
  const prefix = options.prefix ?? 'sess';
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new FerryError(
      E_SESSION_CONFIG,
      `prefix must be 1-100 characters of letters, digits and _ . - :, got ${JSON.stringify(prefix)}.`,
    );
  }
  const maxDataBytes = options.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES;
  if (!Number.isSafeInteger(maxDataBytes) || maxDataBytes < 1) {
    throw new FerryError(
      E_SESSION_CONFIG,
      `maxDataBytes must be a positive whole number of bytes, got ${String(options.maxDataBytes)}.`,
    );
  }
  const interval = options.persist?.touchWriteIntervalMs;
  const persistEveryMs =
    interval === undefined
      ? Math.min(60_000, Math.floor(ttlMs / 4))
      : sessionMs(interval, 'persist.touchWriteIntervalMs');
  const poll = options.persist?.outboxPollMs;
  const outboxPollMs = poll === undefined ? DEFAULT_OUTBOX_POLL_MS : sessionMs(poll, 'persist.outboxPollMs');
  if (!(outboxPollMs > 0)) throw new FerryError(E_SESSION_CONFIG, 'persist.outboxPollMs must be a positive duration.');
  const log = layerLogger(options.logger, 'sessions');
  const hook = options.onError;
  return {
    ttlMs,
    refreshTtlMs,
    prefix,
    maxDataBytes,
    persistEveryMs,
    outboxPollMs,
    log,
    onError: (err) => {
      log.warn({ err: (err as Error)?.message ?? String(err) }, 'sessions: background failure');
      hook?.(err);
    },
  };
}
