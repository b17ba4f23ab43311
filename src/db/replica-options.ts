/**
 * The read-replica options (`connect({ replicas, replicaOptions })`,
 * `DATABASE_REPLICA_URLS`), validated in one place as the pool's are
 * (pg-pool.ts `resolvePoolOptions`, whose time parsing they share); what each
 * option does on the query path is replicas.ts's business.
 */
import type { Duration } from '../duration.js';
import { E_CONFIG, FerryError } from '../errors.js';
import { checkTime } from './pg-pool.js';
import { redactUrl } from './url.js';

/**
 * How reads are spread over read replicas (`openDatabase({ replicas })`); see
 * replicas.ts for what each one does on the query path.
 */
export interface ReplicaOptions {
  /**
   * How a scope reads its own writes: `'lsn'` (default) waits for the
   * replica to have replayed the primary's WAL position after the write
   * (`pg_current_wal_lsn()` after commit vs `pg_last_wal_replay_lsn()`);
   * a Duration (`'2s'`, Rails' fixed delay) reads from the primary for that
   * long after the scope's last write instead; `false`: no such guarantee.
   */
  readYourWrites?: 'lsn' | Duration | false;
  /**
   * How long a read whose token the replicas have not reached yet may wait
   * for one before the primary serves it (default 0: the primary at once).
   */
  waitForReplica?: Duration;
  /** A replica more than this far behind (in time) is skipped for every read (default '10s'). */
  maxLag?: Duration;
  /** How often replica health and lag are polled (default '1s'). */
  pollInterval?: Duration;
  /**
   * A health poll or replay-position check unanswered after this long marks
   * the replica down (default '2s'): a hung server (stopped, partitioned)
   * keeps its TCP connections open and would otherwise never fail.
   */
  checkTimeout?: Duration;
}

export interface ResolvedReplicaOptions {
  /** Replica URLs (with their passwords), in the order given. */
  urls: string[];
  /** `'lsn'`, `false`, or the time-based delay in ms. */
  readYourWrites: 'lsn' | false | number;
  waitForReplicaMs: number;
  maxLagMs: number;
  pollIntervalMs: number;
  checkTimeoutMs: number;
}

/**
 * The replica URLs from `urls`, else `DATABASE_REPLICA_URLS` (comma
 * separated; a comma inside a multi-host URL, `postgresql://h1:5432,h2:5432/db`,
 * does not split it: a new URL starts only where a scheme follows the comma),
 * and the routing options. Every URL must be a PostgreSQL one: PGlite and
 * memory:// have no replicas.
 */
export function resolveReplicaOptions(
  urls: readonly string[] | 'env' | undefined,
  options: ReplicaOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedReplicaOptions {
  let list: string[];
  let what: string;
  if (urls === undefined) {
    list = [];
    what = 'replicas option';
  } else if (urls !== 'env') {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) {
      throw new FerryError(E_CONFIG, 'The replicas option must be an array of PostgreSQL URLs.', {
        details: { option: 'replicas' },
      });
    }
    list = urls.map((u) => u.trim()).filter((u) => u !== '');
    what = 'replicas option';
  } else {
    const raw = env.DATABASE_REPLICA_URLS?.trim() ?? '';
    list =
      raw === ''
        ? []
        : raw
            .split(/,(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i)
            .map((u) => u.trim())
            .filter((u) => u !== '');
    what = 'DATABASE_REPLICA_URLS';
  }
  for (const u of list) {
    if (!/^postgres(?:ql)?(?:\+[a-z0-9_.-]*)?:\/\//i.test(u)) {
      throw new FerryError(
        E_CONFIG,
        `${what}: "${redactUrl(u)}" is not a PostgreSQL URL. Read replicas are PostgreSQL streaming replicas ` +
          '(postgresql://user:password@host:5432/db); PGlite and memory:// have none.',
        { details: what === 'DATABASE_REPLICA_URLS' ? { variable: what } : { option: 'replicas' } },
      );
    }
  }
  const ryw = options.readYourWrites ?? 'lsn';
  const duration = (
    key: 'waitForReplica' | 'maxLag' | 'pollInterval' | 'checkTimeout',
    fallback: number,
    min: number,
  ): number => {
    const value = options[key];
    return value === undefined
      ? fallback
      : checkTime(value, 'ms', min, `Replica option ${key}=${JSON.stringify(value)}`, {});
  };
  return {
    urls: list,
    readYourWrites:
      ryw === 'lsn' || ryw === false
        ? ryw
        : checkTime(ryw, 'ms', 1, `Replica option readYourWrites=${JSON.stringify(ryw)} (or 'lsn', or false)`, {}),
    waitForReplicaMs: duration('waitForReplica', 0, 0),
    maxLagMs: duration('maxLag', 10_000, 1),
    pollIntervalMs: duration('pollInterval', 1_000, 10),
    checkTimeoutMs: duration('checkTimeout', 2_000, 1),
  };
}
