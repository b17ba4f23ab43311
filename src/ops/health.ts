/**
 * Liveness and readiness, as Kubernetes' own endpoints give them:
 *
 *   GET /livez            200 `ok`: the process answers (never touches a dependency,
 *                         so a database outage does not get every pod restarted)
 *   GET /readyz           200 `ok`, or 503 listing what failed
 *   GET /readyz?verbose   one line per check, then the verdict:
 *                           [+]postgres ok (0.4 ms)
 *                           [+]migrations ok: 3 applied, none pending
 *                           [-]redis degraded: connect ECONNREFUSED 127.0.0.1:6379 (the cache serves from the database)
 *                           readyz check passed (degraded: redis)
 *   Accept: application/json (or ?format=json): the same as JSON.
 *
 * A check is critical (failing it makes the instance unready: 503) or not
 * (failing it makes the report `degraded`, still 200): the database, pending
 * migrations and a pool whose waiters pile up are critical; a Redis that only
 * backs a cache or a persisted session store is not, since Ferry serves from
 * Postgres meanwhile. Every check has a time limit (default 2 s), so a hung
 * dependency (a paused Redis) answers `failed: timed out` instead of hanging
 * the probe. Once `ferry.shutdown()` started (or `health.drain()`), readiness
 * is 503 so the load balancer stops sending traffic while in-flight work ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PoolStats } from '../db/pg-pool.js';
import { redactText } from '../db/redact.js';
import { type Duration, toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import type { MigrationStatus } from '../migrate/status.js';
import { isRedisClient, type RedisLike } from '../redis/connection.js';
import { redisLastError, redisUsable, watchRedis } from '../redis/health.js';

export type CheckStatus = 'ok' | 'degraded' | 'failed';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** Whether failing it makes the instance unready (else only degraded). */
  critical: boolean;
  message: string;
  ms: number;
}

export interface HealthReport {
  /** `ok`; `degraded` (ready, something non-critical failed); `unready` (503). */
  status: 'ok' | 'degraded' | 'unready';
  ready: boolean;
  draining: boolean;
  checks: CheckResult[];
}

/** What a check's `run` may resolve with besides nothing (ok): a message, or a status with one. */
export type CheckOutcome = string | { status: 'ok' | 'degraded'; message?: string };

export interface HealthCheck {
  name: string;
  /** Failing it makes the instance unready (default true); false: only degraded. */
  critical?: boolean;
  /**
   * Resolve (with nothing, or a `CheckOutcome`) when healthy; throw or reject
   * when not. `signal` aborts at the time limit.
   */
  run(signal: AbortSignal): unknown;
}

/** What readiness needs of the database: `Ferry` has it (structural, so tests and wrappers can pass their own). */
export interface HealthTarget {
  readonly backend: string;
  ping(): Promise<number>;
  poolStats(): PoolStats;
  /** True once `shutdown()` started. */
  readonly draining?: boolean;
  migrator?(options: { dir: string; table?: string }): { status(): Promise<MigrationStatus> };
}

/** The parts of a `Cache` (ferry/cache) readiness reads: its Redis breaker and invalidation bus. */
export interface CacheLike {
  stats(): { breaker: string; bus: string; pendingInvalidations: number };
}

/** The parts of a `SessionStore` (ferry/sessions) readiness reads. */
export interface SessionsLike {
  stats(): { redis: 'up' | 'down' | 'off'; persist: boolean; pendingRevocations: number };
}

export interface HealthOptions {
  /** A cache: its Redis being down is `degraded` (it serves from the database), never unready. */
  cache?: CacheLike;
  /** A session store: its Redis down is `degraded` with `persist` (Postgres serves), unready without. */
  sessions?: SessionsLike;
  /**
   * A Redis client to PING (the app's own). Not critical by default, like a
   * cache's; pass `{ client, critical: true }` when the app cannot work without it.
   */
  redis?: RedisLike | { client: RedisLike; name?: string; critical?: boolean };
  /** Unready while migrations in this folder are pending or have problems (edited, missing). */
  migrations?: string | { dir: string; table?: string };
  /** More checks of the app's own. */
  checks?: HealthCheck[];
  /** Time limit of each check (default 2 s). */
  timeout?: Duration;
  /** Unready when more than this many callers wait for a pool connection (default: the pool's size). */
  maxPoolWaiting?: number;
}

const DEFAULT_TIMEOUT_MS = 2_000;

/** A framework-neutral answer: Fastify, Hono or anything else sends these three. */
export interface HealthResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

type Next = (err?: unknown) => void;

export class Health {
  readonly #target: HealthTarget;
  readonly #checks: Required<HealthCheck>[];
  readonly #timeoutMs: number;
  #draining = false;

  constructor(target: HealthTarget, options: HealthOptions = {}) {
    this.#target = target;
    this.#timeoutMs = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : toMs(options.timeout, 'health timeout');
    this.#checks = [...builtInChecks(target, options), ...(options.checks ?? [])].map((c) => {
      if (!c || typeof c.name !== 'string' || typeof c.run !== 'function') {
        throw new FerryError(
          'E_BAD_ARGUMENT',
          'health(): each of `checks` needs a `name` and a `run(signal)` function.',
        );
      }
      return { critical: true, ...c };
    });
  }

  /** True once `drain()` was called or the Ferry it watches is shutting down. */
  get draining(): boolean {
    return this.#draining || this.#target.draining === true;
  }

  /** Answer 503 from now on (shutdown does this through `ferry.draining`). */
  drain(): void {
    this.#draining = true;
  }

  /** Liveness: the process only. */
  live(): HealthReport {
    return { status: 'ok', ready: true, draining: this.draining, checks: [] };
  }

  /** Run every check (in parallel, each within its time limit). */
  async ready(): Promise<HealthReport> {
    const checks = await Promise.all(this.#checks.map((c) => this.#run(c)));
    const draining = this.draining;
    if (draining) {
      checks.push({ name: 'shutdown', status: 'failed', critical: true, message: 'draining', ms: 0 });
    }
    const unready = checks.some((c) => c.critical && c.status === 'failed');
    const degraded = checks.some((c) => c.status !== 'ok');
    return { status: unready ? 'unready' : degraded ? 'degraded' : 'ok', ready: !unready, draining, checks };
  }

  /** The answer to GET `url` (`/livez` or `/readyz`, with `?verbose` or `?format=json`), or null for other paths. */
  async respond(url: string, headers: { accept?: string | string[] } = {}): Promise<HealthResponse | null> {
    const parsed = new URL(url, 'http://localhost');
    const kind = parsed.pathname.replace(/\/+$/, '').split('/').at(-1);
    if (kind !== 'livez' && kind !== 'readyz') return null;
    const report = kind === 'livez' ? this.live() : await this.ready();
    const accept = [headers.accept ?? ''].flat().join(',');
    const json = parsed.searchParams.get('format') === 'json' || /\bapplication\/json\b/.test(accept);
    const status = report.ready ? 200 : 503;
    if (json) {
      return { status, headers: jsonHeaders, body: `${JSON.stringify(report)}\n` };
    }
    const verbose = parsed.searchParams.has('verbose') || !report.ready;
    return { status, headers: textHeaders, body: renderText(kind, report, verbose) };
  }

  /**
   * A `node:http` handler for `/livez` and `/readyz`, and Express/Connect
   * middleware: other paths go to `next`, or get 404 when there is none.
   *
   *   http.createServer((req, res) => health.handler(req, res))
   *   app.use(health.handler)
   */
  readonly handler = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    this.respond(req.url ?? '/', req.headers).then(
      (answer) => {
        if (answer) send(res, answer);
        else if (next) next();
        else send(res, { status: 404, headers: textHeaders, body: 'not found\n' });
      },
      (err) => (next ? next(err) : send(res, { status: 500, headers: textHeaders, body: 'health check error\n' })),
    );
  };

  async #run(check: Required<HealthCheck>): Promise<CheckResult> {
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`timed out after ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      timer.unref();
    });
    const done = (status: CheckStatus, message: string): CheckResult => ({
      name: check.name,
      status,
      critical: check.critical,
      message: redactText(message, []),
      ms: Math.round((performance.now() - started) * 1000) / 1000,
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => check.run(controller.signal)), timeout]);
      if (typeof outcome === 'string') return done('ok', outcome);
      const o = outcome as Partial<Exclude<CheckOutcome, string>> | undefined;
      if (o && (o.status === 'ok' || o.status === 'degraded')) return done(o.status, o.message ?? o.status);
      return done('ok', 'ok');
    } catch (err) {
      return done(check.critical ? 'failed' : 'degraded', messageOf(err));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Readiness for `ferry` (see the file header); `health.handler` serves it. */
export function health(target: HealthTarget, options: HealthOptions = {}): Health {
  return new Health(target, options);
}

function builtInChecks(target: HealthTarget, o: HealthOptions): HealthCheck[] {
  const checks: HealthCheck[] = [
    {
      name: target.backend,
      run: async () => `${(await target.ping()).toFixed(1)} ms`,
    },
    {
      name: 'pool',
      run: () => {
        const s = target.poolStats();
        const limit = o.maxPoolWaiting ?? s.max;
        const line = `${s.total - s.idle} busy, ${s.idle} idle, ${s.waiting} waiting of ${s.max}`;
        if (s.waiting > limit) throw new Error(`${line}: more than ${limit} waiting for a connection`);
        return line;
      },
    },
  ];
  if (o.migrations !== undefined) {
    const m = typeof o.migrations === 'string' ? { dir: o.migrations } : o.migrations;
    checks.push({
      name: 'migrations',
      run: async () => {
        if (!target.migrator) throw new Error('this database handle cannot read migrations');
        const status = await target.migrator(m).status();
        if (status.problems.length > 0) throw new Error(status.problems.map((p) => p.message).join('; '));
        if (status.pending.length > 0) {
          const ids = status.pending.map((p) => p.id);
          throw new Error(`${ids.length} pending (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`);
        }
        return `${status.applied.length} applied, none pending`;
      },
    });
  }
  if (o.redis !== undefined) {
    const r = isRedisClient(o.redis) ? { client: o.redis } : o.redis;
    watchRedis(r.client); // from now on a lost connection fails the check at once, not after the time limit
    checks.push({
      name: r.name ?? 'redis',
      critical: r.critical ?? false,
      run: async () => {
        if (!redisUsable(r.client)) {
          const last = redisLastError(r.client);
          throw new Error(`not connected (${r.client.status}${last ? `: ${last}` : ''})`);
        }
        await r.client.ping();
        return 'ok';
      },
    });
  }
  if (o.cache) {
    const cache = o.cache;
    checks.push({
      name: 'cache',
      critical: false,
      run: () => {
        const s = cache.stats();
        if (s.breaker === 'off') return 'L1 only (no Redis)';
        if (s.breaker !== 'closed') {
          throw new Error(`Redis breaker ${s.breaker}: reads and writes go to the database`);
        }
        if (s.bus === 'down') throw new Error('invalidation bus down: this instance serves from the database');
        if (s.pendingInvalidations > 0)
          return { status: 'degraded', message: `${s.pendingInvalidations} invalidations waiting for Redis` };
        return 'Redis ok';
      },
    });
  }
  if (o.sessions) {
    const sessions = o.sessions;
    const persist = sessions.stats().persist;
    checks.push({
      name: 'sessions',
      // Without persist, sessions live only in Redis: the app cannot log anyone in without it.
      critical: !persist,
      run: () => {
        const s = sessions.stats();
        if (s.redis === 'down') {
          throw new Error(
            s.persist ? 'Redis down: sessions are served from Postgres' : 'Redis down: sessions are unavailable',
          );
        }
        return s.redis === 'off' ? (s.persist ? 'Postgres only' : 'in memory') : 'Redis ok';
      },
    });
  }
  return checks;
}

const textHeaders = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
const jsonHeaders = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function renderText(kind: 'livez' | 'readyz', report: HealthReport, verbose: boolean): string {
  if (!verbose) return 'ok\n';
  const lines = report.checks.map((c) => {
    const mark = c.status === 'ok' ? '+' : '-';
    const what = c.status === 'ok' ? `ok${c.message !== 'ok' ? `: ${c.message}` : ''}` : `${c.status}: ${c.message}`;
    return `[${mark}]${c.name} ${what}`;
  });
  const degraded = report.checks.filter((c) => c.status !== 'ok' && !(c.critical && c.status === 'failed'));
  const verdict = report.ready
    ? `${kind} check passed${degraded.length > 0 ? ` (degraded: ${degraded.map((c) => c.name).join(', ')})` : ''}`
    : `${kind} check failed`;
  return `${[...lines, verdict].join('\n')}\n`;
}

function send(res: ServerResponse, answer: HealthResponse): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  // One line: a multi-line driver message would break the verbose format.
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'failed';
}
